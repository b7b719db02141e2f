"""Approvals from GitHub (DESIGN §10): inside the generated workflow, the deploy job of an
environment with ``approval.provider: github`` reads who approved *this run*
(``GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals``) and turns it into
``ApprovalDecision`` objects (``source="github"``) that the gate and the audit trail record.

GitHub proves who approved; promote.yaml still says who counts. A run's approvals for the
environment's two GitHub environments (``<env>-approval`` and ``<env>``) are read together,
so two different people approving the two jobs make two approvals. One rejection blocks;
approvers not listed in ``approval.reviewers`` do not count (unless the list names a team of
the repository's own organisation, whose membership GitHub already checked); fewer distinct
approvers than ``min_approvals`` blocks. No approval at all is refused, so a run whose
environments lost their required reviewers can never slip through.

The approvals must also be *this* run's (``check_run``, at deploy time): a run that exists in
the repository, is still in progress (the deploy job is part of it) and built the release's
commit — so ``GITHUB_RUN_ID``/``GITHUB_REPOSITORY`` pointed at an old approved run, a run of
another commit or another repository admit nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from lambda_promote.config.schema import Approval
from lambda_promote.errors import GateBlocked
from lambda_promote.github.api import GitHubApi, split_repo
from lambda_promote.model import ApprovalDecision


def _now() -> datetime:
    return datetime.now(UTC)


def github_environments(env_name: str) -> tuple[str, str]:
    """The GitHub environments whose approvals count for ``env_name``."""
    return (f"{env_name}-approval", env_name)


def read_run_approvals(api: GitHubApi, *, repo: str, run_id: str) -> list[dict[str, Any]]:
    body = _read(api, repo=repo, run_id=run_id, part="/approvals")
    return [entry for entry in body or [] if isinstance(entry, dict)]


def read_run(api: GitHubApi, *, repo: str, run_id: str) -> dict[str, Any]:
    """The workflow run itself: its status, head commit and actor."""
    body = _read(api, repo=repo, run_id=run_id, part="")
    return body if isinstance(body, dict) else {}


def _read(api: GitHubApi, *, repo: str, run_id: str, part: str) -> Any:
    owner, name = split_repo(repo)
    api.require_token(why="read a workflow run's approvals")
    answer = api.call("GET", f"/repos/{owner}/{name}/actions/runs/{run_id}{part}", accept=(404,))
    if answer.status == 404:
        raise GateBlocked(
            f"run {run_id} is not a workflow run of {repo} (GitHub: not found)",
            hint="GITHUB_RUN_ID and GITHUB_REPOSITORY must be this job's own, as GitHub "
            "Actions sets them; the token needs actions: read",
            code="approval_mismatch",
        )
    return answer.body


def check_run(
    run: dict[str, Any], *, env_name: str, run_id: str, repo: str, commit: str | None
) -> None:
    """Raise ``GateBlocked`` unless ``run`` can be the run deploying the release built from
    ``commit``: still in progress, and of that very commit (pure)."""
    status = str(run.get("status") or "unknown")
    if status == "completed":
        raise GateBlocked(
            f"{env_name}: run {run_id} of {repo} is completed "
            f"({run.get('conclusion') or 'no conclusion'}): its approvals cannot admit a "
            "deployment made now",
            hint="the approvals are read from the run this deploy job belongs to; deploy "
            "from that run (GITHUB_RUN_ID is set by GitHub Actions)",
            code="approval_mismatch",
        )
    head = str(run.get("head_sha") or "")
    if not commit or head.lower() != commit.lower():
        built = f"commit {commit[:12]}" if commit else "no recorded commit"
        raise GateBlocked(
            f"{env_name}: run {run_id} of {repo} is for commit {head[:12] or 'unknown'}, "
            f"but the release was built from {built}: the run's approvals are not for it",
            hint="deploy the release that this run built (the workflow's build job records "
            "its commit); approvals never transfer to other code",
            code="approval_mismatch",
        )


def check_self_review(
    run: dict[str, Any],
    decisions: list[ApprovalDecision],
    rule: Approval,
    *,
    env_name: str,
    run_id: str,
    repo: str,
) -> None:
    """With ``prevent_self_review`` (DESIGN §5.3), whoever started the run (or re-ran it)
    does not count as its approver: GitHub enforces this only where the environment says so."""
    if not rule.prevent_self_review:
        return
    starters = {
        str((run.get(key) or {}).get("login") or "") for key in ("actor", "triggering_actor")
    }
    starters.discard("")
    own = {d.reviewer for d in decisions if d.approve and d.reviewer in starters}
    if not own:
        return
    try:
        check(
            [d for d in decisions if d.reviewer not in own],
            rule,
            env_name=env_name,
            run_id=run_id,
            repo=repo,
        )
    except GateBlocked:
        who = ", ".join(sorted(own))
        raise GateBlocked(
            f"{env_name}: {who} started run {run_id} and approved it too, which "
            "prevent_self_review does not count",
            hint=f"another reviewer ({', '.join(rule.reviewers)}) must approve the run",
            code="self_review",
        ) from None


def decisions_for(
    entries: Iterable[dict[str, Any]], env_name: str, *, at: datetime
) -> list[ApprovalDecision]:
    """The approved/rejected reviews among ``entries`` that concern ``env_name``. GitHub's
    answer carries no time, so each decision is dated ``at`` (when it was read)."""
    wanted = set(github_environments(env_name))
    decisions: list[ApprovalDecision] = []
    for entry in entries:
        envs = {e.get("name") for e in entry.get("environments") or [] if isinstance(e, dict)}
        state = entry.get("state")
        if not envs & wanted or state not in ("approved", "rejected"):
            continue
        decision = ApprovalDecision(
            reviewer=str((entry.get("user") or {}).get("login") or "unknown"),
            approve=state == "approved",
            at=at,
            comment=str(entry.get("comment") or ""),
            source="github",
        )
        if decision not in decisions:
            decisions.append(decision)
    return decisions


def github_approvals(
    env_name: str,
    approval_rule: Approval,
    *,
    repo: str,
    run_id: str,
    api: GitHubApi,
    clock: Callable[[], datetime] = _now,
) -> list[ApprovalDecision]:
    """The run's decisions for ``env_name``; ``GateBlocked`` unless they admit it."""
    entries = read_run_approvals(api, repo=repo, run_id=run_id)
    decisions = decisions_for(entries, env_name, at=clock())
    check(decisions, approval_rule, env_name=env_name, run_id=run_id, repo=repo)
    return decisions


def check(
    decisions: list[ApprovalDecision],
    rule: Approval,
    *,
    env_name: str,
    run_id: str,
    repo: str = "",
) -> None:
    """Raise ``GateBlocked`` unless ``decisions`` satisfy ``rule`` (pure). A team listed in
    ``rule.reviewers`` vouches for approvers only in its organisation's repositories
    (``repo``'s owner; any, when ``repo`` is not given)."""
    where = " and ".join(github_environments(env_name))
    rejection = next((d for d in decisions if not d.approve), None)
    if rejection is not None:
        why = f": {rejection.comment}" if rejection.comment else ""
        raise GateBlocked(
            f"{env_name}: {rejection.reviewer} rejected run {run_id} on GitHub{why}",
            hint="one rejection blocks; fix the release and run the workflow again",
            code="approval_rejected",
        )
    approvers = list(dict.fromkeys(d.reviewer for d in decisions if d.approve))
    if not approvers:
        raise GateBlocked(
            f"{env_name}: run {run_id} carries no approval for {env_name} "
            f"(GitHub environments {where})",
            hint="give those environments required reviewers (`lambda-promote github "
            "environments --repo OWNER/NAME`); where GitHub cannot enforce reviewers, use "
            "`approval.provider: builtin`",
            code="approval_missing",
        )
    counted = _counted(approvers, rule.reviewers, owner=repo.partition("/")[0])
    if len(counted) < rule.min_approvals:
        outsiders = [a for a in approvers if a not in counted]
        extra = f"; not reviewers in promote.yaml: {', '.join(outsiders)}" if outsiders else ""
        raise GateBlocked(
            f"{env_name}: run {run_id} has {len(counted)} of {rule.min_approvals} approvals "
            f"from listed reviewers{extra}",
            hint=f"reviewers: {', '.join(rule.reviewers)}; approve both {where} jobs as "
            "different people when more than one approval is needed",
            code="approval_open",
        )


def _counted(approvers: list[str], reviewers: list[str], *, owner: str = "") -> list[str]:
    orgs = {r.partition("/")[0].casefold() for r in reviewers if "/" in r}
    if orgs and (not owner or owner.casefold() in orgs):
        # A team of this repository's organisation is listed: GitHub only let its members
        # approve, and team membership cannot be checked from here; every approver counts.
        # In another organisation's repository (a fork) the team vouches for nobody.
        return approvers
    listed = {r.casefold() for r in reviewers}
    return [a for a in approvers if a.casefold() in listed]
