"""The ``lambda-promote github …`` commands (DESIGN §10): write the workflow, create its
environments, read a run's approvals, and resolve what a dead deploy job left.

They share the common options and the one error handler of ``cli.command``; the group is
attached to the top-level CLI at import (``cli.py`` imports this module).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from lambda_promote.invocation import CommandBody, Invocation, Outcome, cli, command


@click.group("github")
def github() -> None:
    """GitHub Actions: the generated workflow, its environments and approvals."""


def github_command(name: str) -> Callable[[CommandBody], click.Command]:
    """``cli.command`` for a subcommand of ``lambda-promote github``."""
    return command(name, group=github)


def _config(inv: Invocation) -> Any:
    from lambda_promote.config import load_config

    return load_config(inv.config_path, check_source=False)


@github_command("workflow")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write it (default: .github/workflows/promote.yml beside promote.yaml).",
)
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 if the workflow or its lock is stale."
)
@click.option(
    "--relock", is_flag=True, help="Resolve the lock again (newer dependencies, new hashes)."
)
def workflow_command(inv: Invocation, output: Path | None, check: bool, relock: bool) -> Outcome:
    """Write the GitHub Actions workflow (the seed's job graph) and its lock from promote.yaml."""
    from lambda_promote.github.files import check_files, write_files

    config = _config(inv)
    if check:
        data = check_files(config, output)
        inv.ui.ok(f"{data['workflow']['path']} and {data['lock']['path']} are up to date")
        return Outcome(data=data)
    data = write_files(config, output, relock=relock, progress=inv.ui.step)
    for kind in ("workflow", "lock", "dependabot"):
        entry = data[kind]
        said = "wrote" if entry["written"] else "already up to date:"
        inv.ui.ok(f"{said} {entry['path']}")
    inv.ui.detail(
        "next: `lambda-promote github environments --repo OWNER/NAME` creates its environments"
    )
    return Outcome(data=data, text=str(data["workflow"]["path"]))


@github_command("summary")
@click.argument("answer", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def summary_command(inv: Invocation, answer: Path) -> Outcome:
    """Markdown of a saved `request-approval --json` answer, for the run's job summary."""
    import json

    from lambda_promote.errors import UsageError
    from lambda_promote.github.summary import approval_summary

    try:
        loaded = json.loads(answer.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{answer}: not a JSON answer: {exc}",
            hint="give the file `lambda-promote request-approval ENV --json` wrote",
        ) from None
    text = approval_summary(loaded if isinstance(loaded, dict) else {})
    return Outcome(data={"summary": text}, text=text)


@github_command("environments")
@click.option(
    "--repo",
    envvar="GITHUB_REPOSITORY",
    required=True,
    metavar="OWNER/NAME",
    help="The repository (default: $GITHUB_REPOSITORY).",
)
@click.option("--dry-run", is_flag=True, help="Print the API calls it would make; no token needed.")
def environments_command(inv: Invocation, repo: str, dry_run: bool) -> Outcome:
    """Create or update the workflow's GitHub environments; report what GitHub enforces."""
    from lambda_promote.github import environments as envs
    from lambda_promote.github.api import GitHubApi, split_repo

    split_repo(repo)
    config = _config(inv)
    specs = envs.desired(config)
    _note_builtin(inv, config)
    if dry_run:
        calls = envs.plan_calls(specs, repo)
        data = {
            "dry_run": True,
            "calls": [{"method": c.method, "path": c.path, "body": c.body} for c in calls],
        }
        return Outcome(data=data, text="\n".join(c.line() for c in calls))
    api = GitHubApi.from_environ()
    report = envs.apply(specs, repo, api, progress=inv.ui.step)
    lines = [_enforced_line(e) for e in report]
    data = {"dry_run": False, "environments": [e.to_json() for e in report]}
    lacking = envs.lacking_reviewers(report)
    if lacking:
        from lambda_promote.errors import PromoteError

        for line in lines:
            inv.ui.detail(line)
        raise PromoteError(
            f"GitHub does not enforce required reviewers on {', '.join(lacking)}",
            hint=envs.BUILTIN_HINT,
            code="github_reviewers_refused",
            payload=data,
        )
    inv.ui.ok(f"{len(report)} environments in {repo} are set up")
    return Outcome(data=data, text="\n".join(lines))


def _note_builtin(inv: Invocation, config: Any) -> None:
    builtin = [
        name
        for name, spec in config.environments.items()
        if spec.approval is not None and spec.approval.provider == "builtin"
    ]
    if builtin:
        inv.ui.warn(
            f"approval.provider is builtin for {', '.join(builtin)}: GitHub gets no required "
            "reviewers there, lambda-promote's gate decides (`provider: github` lets GitHub's "
            "reviewers decide)"
        )


def _enforced_line(e: Any) -> str:
    parts = []
    if e.reviewers:
        self_review = "; no self-review" if e.prevent_self_review else ""
        parts.append(f"reviewers {', '.join(e.reviewers)}{self_review}")
    else:
        parts.append("no required reviewers")
    if e.wait_timer:
        parts.append(f"wait timer {e.wait_timer} min")
    parts.append(e.branches)
    line = f"{e.name:<22} {'; '.join(parts)}"
    if e.missing:
        line += f"  — NOT ENFORCED: {', '.join(e.missing)}"
    for refused in e.refused:
        line += f"\n{'':<22} GitHub refused {refused}"
    return line


@github_command("approvals")
@click.option("--env", "env", required=True, help="The environment (e.g. production).")
@click.option(
    "--run-id", envvar="GITHUB_RUN_ID", required=True, help="The run (default: $GITHUB_RUN_ID)."
)
@click.option(
    "--repo",
    envvar="GITHUB_REPOSITORY",
    required=True,
    help="OWNER/NAME (default: $GITHUB_REPOSITORY).",
)
def approvals_command(inv: Invocation, env: str, run_id: str, repo: str) -> Outcome:
    """Read who approved this workflow run for ENV on GitHub; exit 5 when nobody did."""
    from lambda_promote.config.lookup import require_env
    from lambda_promote.errors import UsageError
    from lambda_promote.github.api import GitHubApi
    from lambda_promote.github.approvals import github_approvals
    from lambda_promote.output import iso

    spec = require_env(_config(inv), env)
    if spec.approval is None:
        raise UsageError(f"{env} has no approval rule", hint=f"add `approval:` to {env}")
    decisions = github_approvals(
        env, spec.approval, repo=repo, run_id=run_id, api=GitHubApi.from_environ()
    )
    for d in decisions:
        inv.ui.ok(f"{d.reviewer} {'approved' if d.approve else 'rejected'} run {run_id}")
        if d.comment:
            inv.ui.detail(d.comment)
    rows = [
        {
            "reviewer": d.reviewer,
            "approve": d.approve,
            "comment": d.comment,
            "at": iso(d.at),
            "source": d.source,
        }
        for d in decisions
    ]
    return Outcome(
        data={"env": env, "run_id": run_id, "approvals": rows},
        text="\n".join(d.reviewer for d in decisions if d.approve),
    )


@github_command("resolve")
@click.argument("env")
@click.option("--reason", default="", help="Why; kept in the ledger and the audit trail.")
@click.option(
    "--dead-host",
    default="",
    metavar="HOST",
    help="The runner the deploy job ran on: its locks are stale.",
)
def resolve_command(inv: Invocation, env: str, reason: str, dead_host: str) -> Outcome:
    """The rollback jobs' step: resolve what a failed or cancelled deploy job left in ENV."""
    from lambda_promote.release.flows import resolve_leftovers

    result = resolve_leftovers(inv.workspace(), env, reason=reason, dead_host=dead_host or None)
    if result.broke_lock:
        inv.ui.warn(f"{env}: broke the lock left by {result.broke_lock}")
    inv.ui.ok(result.summary)
    data = {
        "resolution": {
            "env": env,
            "live_version": result.live_version,
            "recovered": result.recovered,
            "finished": result.finished,
            "broke_lock": result.broke_lock,
            "held_by": result.held_by,
        }
    }
    return Outcome(data=data, text=result.summary)


cli.add_command(github)
