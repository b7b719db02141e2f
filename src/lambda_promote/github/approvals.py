"""Approvals from GitHub (DESIGN §10): inside the generated workflow, the deploy job of an
environment with ``approval.provider: github`` reads who approved *this run*
(``GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals``) and turns it into
``ApprovalDecision`` objects (``source="github"``) that the gate and the audit trail record.

GitHub proves who approved; promote.yaml still says who counts. A run's approvals for the
environment's two GitHub environments (``<env>-approval`` and ``<env>``) are read together,
so two different people approving the two jobs make two approvals. One rejection blocks;
approvers not listed in ``approval.reviewers`` do not count (unless the list names teams,
whose membership GitHub already checked); fewer distinct approvers than ``min_approvals``
blocks. No approval at all is refused, so a run whose environments lost their required
reviewers can never slip through.
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
    owner, name = split_repo(repo)
    api.require_token(why="read a workflow run's approvals")
    body = api.call("GET", f"/repos/{owner}/{name}/actions/runs/{run_id}/approvals").body
    return [entry for entry in body or [] if isinstance(entry, dict)]


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
    check(decisions, approval_rule, env_name=env_name, run_id=run_id)
    return decisions


def check(decisions: list[ApprovalDecision], rule: Approval, *, env_name: str, run_id: str) -> None:
    """Raise ``GateBlocked`` unless ``decisions`` satisfy ``rule`` (pure)."""
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
    counted = _counted(approvers, rule.reviewers)
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


def _counted(approvers: list[str], reviewers: list[str]) -> list[str]:
    if any("/" in r for r in reviewers):
        # A team is listed: GitHub only let its members approve, and team membership
        # cannot be checked from here; every approver counts.
        return approvers
    listed = {r.casefold() for r in reviewers}
    return [a for a in approvers if a.casefold() in listed]
