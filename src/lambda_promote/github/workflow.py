"""``lambda-promote github workflow``: promote.yaml → ``.github/workflows/promote.yml``.

The workflow is built as data (``build_workflow``: dicts and lists, comments attached with
``Note``) and written by ``yamlout.dump``; nothing is pasted together from strings, so the
same promote.yaml always gives the same bytes and ``--check`` can compare them. The header
draws the job graph and says how to regenerate the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_promote.config.schema import Config
from lambda_promote.github import install, jobs, jobs_rollback, jobs_traffic, pins, steps
from lambda_promote.github.pipeline import Pipeline, pipeline, push_branches
from lambda_promote.github.yamlout import Note, dump

DEFAULT_OUTPUT = Path(".github/workflows/promote.yml")


def build_workflow(config: Config) -> dict[str, Any]:
    """The workflow for ``config`` as plain data with comments."""
    pipe = pipeline(config)
    paths = steps.paths_for(config)
    env: dict[str, Any] = {
        "LAMBDA_PROMOTE_PACKAGE": Note(
            install.tool_source(config).label,
            trailing=f"installed from {install.LOCK_PATH}, pinned by hash",
        ),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    if config.path.name != "promote.yaml":
        env["LAMBDA_PROMOTE_CONFIG"] = config.path.name
    return {
        "name": Note(f"promote {config.project}", blank=False),
        "on": Note(_triggers(pipe), blank=True),
        "permissions": Note(
            {},
            blank=True,
            above=("Nothing by default: each job asks for what it uses, and says why.",),
        ),
        "defaults": Note({"run": {"shell": "bash"}}, trailing="bash -eo pipefail"),
        "env": env,
        "jobs": Note(_jobs(pipe, paths), blank=True),
    }


def _triggers(pipe: Pipeline) -> dict[str, Any]:
    triggers = pipe.config.triggers
    on: dict[str, Any] = {}
    for event, why in (
        ("push", "pushes to these branches deploy (see promote.yaml's triggers)"),
        ("pull_request", "pull requests into these branches deploy staging; never from forks"),
    ):
        branches = push_branches(triggers, event)
        if branches is not None:
            on[event] = Note({"branches": branches}, above=(why,))
    on["workflow_dispatch"] = Note(
        {"inputs": _dispatch_inputs(pipe)},
        above=(
            "By hand: deploy an environment (and what it promotes from), or roll one back"
            + (
                "; abort or finish its running traffic shift." if jobs_traffic.shifts(pipe) else "."
            ),
        ),
    )
    return on


def _dispatch_inputs(pipe: Pipeline) -> dict[str, Any]:
    shifting = jobs_traffic.shifts(pipe)
    more = jobs_traffic.CONTROL_ACTIONS if shifting else ()
    said = (
        "; abort: stop its running traffic shift and roll back; finish: skip the shift's "
        "remaining bakes (both need a shared state)"
        if shifting
        else ""
    )
    return {
        "action": {
            "description": "deploy: build, then promote up to the environment; "
            "rollback: roll it back" + said,
            "type": "choice",
            "options": ["deploy", "rollback", *more],
            "default": "deploy",
            "required": True,
        },
        "environment": {
            "description": "The environment",
            "type": "choice",
            "options": list(pipe.env_names),
            "default": pipe.env_names[0],
            "required": True,
        },
        "to": {
            "description": "rollback only: the version or digest to go to "
            "(default: the last good version before the live one)",
            "type": "string",
            "required": False,
        },
        "reason": {
            "description": "Why you run this by hand; kept in the audit trail",
            "type": "string",
            "required": True,
        },
    }


def _jobs(pipe: Pipeline, paths: steps.Paths) -> dict[str, Any]:
    out: dict[str, Any] = {"build": jobs.build_job(pipe, paths)}
    for stage in pipe.stages:
        if stage.approval_job:
            out[stage.approval_job] = Note(jobs.approval_job(pipe, stage, paths), blank=True)
        for index, name in enumerate(stage.extra_approval_jobs):
            out[name] = Note(jobs.extra_approval_job(pipe, stage, index), blank=True)
        out[stage.deploy_job] = Note(jobs.deploy_job(pipe, stage, paths), blank=True)
        out[stage.rollback_job] = Note(jobs_rollback.rollback_job(pipe, stage, paths), blank=True)
    out["manual-rollback"] = Note(jobs_rollback.manual_rollback_job(pipe, paths), blank=True)
    if jobs_traffic.shifts(pipe):
        for action in jobs_traffic.CONTROL_ACTIONS:
            out[f"{action}-shift"] = Note(jobs_traffic.control_job(pipe, action), blank=True)
    return out


# --- the header --------------------------------------------------------------------------------
def header(config: Config) -> list[str]:
    pipe = pipeline(config)
    name = config.path.name
    return [
        f"Generated by `lambda-promote github workflow` from {name}. Do not edit by hand:",
        f"change {name}, then run `lambda-promote github workflow` again",
        "(`lambda-promote github workflow --check` fails when this file is out of date).",
        "",
        "The job graph:",
        "",
        *("  " + line for line in graph_lines(pipe)),
        "",
        "GitHub environments it uses (create them with `lambda-promote github environments`):",
        "  " + ", ".join(pipe.github_environments()),
        "Each environment's variable AWS_ROLE_ARN names the role that environment's jobs assume",
        "(`lambda-promote aws policy ENV` prints its policy and trust policy).",
        f"Every job installs lambda-promote from {install.LOCK_PATH}, pinned by hash.",
        "docs/STAGING_TO_PRODUCTION_WORKFLOW.md explains every job, and how to set it all up.",
    ]


def graph_lines(pipe: Pipeline) -> list[str]:
    """One line per stage: what it waits for, the jobs it runs, and its rollback job."""
    lines = []
    for stage in pipe.stages:
        chain = [pipe.waits_for(stage)]
        if stage.approval_job:
            chain.append(f"{stage.approval_job} ({stage.approval_environment})")
        chain += list(stage.extra_approval_jobs)
        decides = " (its reviewers decide)" if stage.github_approvals else ""
        chain.append(stage.deploy_job + decides)
        lines.append(" ─► ".join(chain) + f"  ── on failure ─► {stage.rollback_job}")
    lines.append(
        "manual-rollback: workflow_dispatch with action=rollback (environment, to, reason)"
    )
    if jobs_traffic.shifts(pipe):
        lines.append(
            "abort-shift / finish-shift: workflow_dispatch with action=abort|finish "
            "(docs/traffic.md)"
        )
    return lines


def render(config: Config) -> str:
    """The text of promote.yml for ``config``: deterministic, commented, with its header."""
    return dump(build_workflow(config), header=header(config))


@dataclass(frozen=True)
class WorkflowFile:
    path: Path
    text: str
    current: bool  # the file on disk already holds exactly ``text``


def workflow_file(config: Config, output: Path | None = None) -> WorkflowFile:
    """Where the workflow goes (relative paths are relative to promote.yaml's folder) and
    whether the file there is up to date."""
    path = output or DEFAULT_OUTPUT
    if not path.is_absolute():
        path = config.root / path
    try:
        on_disk: str | None = path.read_text(encoding="utf-8")
    except OSError:
        on_disk = None
    text = pins.carry_over(render(config), on_disk or "")
    return WorkflowFile(path, text, on_disk == text)
