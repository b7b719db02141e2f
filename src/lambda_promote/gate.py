"""The gate of an environment as pure functions (DESIGN §5.1–§5.3): what must be true before
a digest may enter, and who may decide. No I/O: the caller loads the request, the history and
the clock, asks here, and records the answer.

    promotion   the digest succeeded in ``promote_from``; its branch matches ``branches``
    approval    a granted, unexpired request for this (env, digest), not yet consumed;
                granted = enough distinct listed approvers, no rejection, wait timer over
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from lambda_promote.errors import GateBlocked, UsageError
from lambda_promote.model import ApprovalRequest, RequestState

if TYPE_CHECKING:
    from lambda_promote.config.schema import Approval, Environment


# --- branches --------------------------------------------------------------------------------
@lru_cache(maxsize=256)
def _branch_regex(pattern: str) -> re.Pattern[str]:
    """GitHub-style branch globs: ``*`` stays inside one path segment, ``**`` crosses them."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def branch_matches(branch: str, patterns: Iterable[str]) -> bool:
    return any(_branch_regex(p).match(branch) for p in patterns)


# --- promotion -------------------------------------------------------------------------------
def check_promotion(
    env_name: str,
    env: Environment,
    *,
    digest: str,
    branch: str | None,
    succeeded_in_source: Collection[str],
) -> None:
    """Raise ``GateBlocked`` unless ``digest`` may enter ``env`` by the promotion rules."""
    if env.promote_from and digest not in succeeded_in_source:
        raise GateBlocked(
            f"{env_name} only accepts artifacts that succeeded in {env.promote_from}; "
            f"{digest[:12]} did not",
            hint=f"deploy it to {env.promote_from} first: `lambda-promote deploy "
            f"{env.promote_from} --artifact {digest[:12]}`",
            code="source_not_verified",
        )
    if env.branches:
        if branch is None:
            raise GateBlocked(
                f"{env_name} admits only branches {', '.join(env.branches)}, and the branch "
                f"artifact {digest[:12]} was built from is unknown",
                hint="build from a git checkout (or CI with GITHUB_REF_NAME) on an allowed branch",
                code="branch_not_allowed",
            )
        if not branch_matches(branch, env.branches):
            raise GateBlocked(
                f"{env_name} admits only branches {', '.join(env.branches)}; artifact "
                f"{digest[:12]} was built from {branch!r}",
                hint="merge the change into an allowed branch and build there",
                code="branch_not_allowed",
            )


# --- approval --------------------------------------------------------------------------------
@dataclass(frozen=True)
class GateVerdict:
    granted: bool
    state: str  # open | granted | rejected | expired | consumed
    approvers: tuple[str, ...]
    missing: tuple[str, ...]  # why not granted, one sentence each, for people

    @property
    def summary(self) -> str:
        return "; ".join(self.missing) if self.missing else "granted"


def evaluate(rule: Approval, request: ApprovalRequest, now: datetime) -> GateVerdict:
    approvers = tuple(dict.fromkeys(d.reviewer for d in request.decisions if d.approve))
    if request.state is RequestState.CONSUMED:
        return GateVerdict(
            False,
            "consumed",
            approvers,
            (
                f"request {request.id} already admitted deployment {request.consumed_by}; "
                "a new deployment needs a new request",
            ),
        )
    rejection = next((d for d in request.decisions if not d.approve), None)
    if rejection is not None or request.state is RequestState.REJECTED:
        who = rejection.reviewer if rejection else "a reviewer"
        why = f": {rejection.comment}" if rejection and rejection.comment else ""
        return GateVerdict(False, "rejected", approvers, (f"rejected by {who}{why}",))
    if now >= request.expires_at:
        return GateVerdict(
            False,
            "expired",
            approvers,
            (
                f"request {request.id} expired at {request.expires_at:%Y-%m-%d %H:%M} UTC; "
                "open a new one with `lambda-promote request-approval`",
            ),
        )
    missing = []
    if len(approvers) < rule.min_approvals:
        excluded = {request.requested_by, request.built_by} if rule.prevent_self_review else set()
        still = [r for r in rule.reviewers if r not in approvers and r not in excluded]
        missing.append(
            f"{len(approvers)} of {rule.min_approvals} approvals; may still approve: "
            f"{', '.join(still) or 'nobody (the reviewer list is exhausted)'}"
        )
    timer_ends = request.requested_at + timedelta(minutes=rule.wait_timer_minutes)
    if now < timer_ends:
        missing.append(f"wait timer runs until {timer_ends:%Y-%m-%d %H:%M:%S} UTC")
    state = "open" if missing else "granted"
    return GateVerdict(not missing, state, approvers, tuple(missing))


def check_decision(
    rule: Approval, request: ApprovalRequest, *, reviewer: str, approve: bool, now: datetime
) -> None:
    """Raise unless ``reviewer`` may decide on ``request`` now (DESIGN §5.3)."""
    verdict = evaluate(rule, request, now)
    if verdict.state in ("consumed", "rejected", "expired"):
        raise GateBlocked(
            f"request {request.id} is {verdict.state}: {verdict.summary}",
            code=f"request_{verdict.state}",
            hint="open a new request with `lambda-promote request-approval "
            f"{request.env} --artifact {request.short_digest}`",
        )
    if reviewer not in rule.reviewers:
        raise GateBlocked(
            f"{reviewer} is not a reviewer for {request.env}",
            hint=f"reviewers: {', '.join(rule.reviewers)}",
            code="not_a_reviewer",
        )
    if rule.prevent_self_review and reviewer in (request.requested_by, request.built_by):
        role = "requested" if reviewer == request.requested_by else "built"
        raise GateBlocked(
            f"{reviewer} {role} this release and cannot review it (prevent_self_review)",
            hint=f"ask another reviewer: {', '.join(r for r in rule.reviewers if r != reviewer)}",
            code="self_review",
        )
    if any(d.reviewer == reviewer for d in request.decisions):
        raise UsageError(
            f"{reviewer} already decided on request {request.id}",
            hint="each reviewer counts once; min_approvals counts distinct people",
        )


def check_admission(
    rule: Approval,
    request: ApprovalRequest | None,
    *,
    env_name: str,
    digest: str,
    now: datetime,
) -> None:
    """Raise ``GateBlocked`` unless ``request`` admits ``digest`` into ``env_name`` now."""
    if request is None:
        raise GateBlocked(
            f"{env_name} needs an approved request for {digest[:12]}; there is none",
            hint=f"`lambda-promote request-approval {env_name} --artifact {digest[:12]}`, "
            f"then a reviewer ({', '.join(rule.reviewers)}) runs `lambda-promote approve`",
            code="approval_missing",
        )
    if request.env != env_name or request.digest != digest:
        raise GateBlocked(
            f"request {request.id} is for {request.env} / {request.short_digest}, not "
            f"{env_name} / {digest[:12]}; approvals never transfer",
            hint=f"request approval for {digest[:12]} in {env_name}",
            code="approval_mismatch",
        )
    verdict = evaluate(rule, request, now)
    if not verdict.granted:
        raise GateBlocked(
            f"{env_name} is gated: request {request.id} for {request.short_digest} is "
            f"{verdict.state}: {verdict.summary}",
            hint="`lambda-promote status` shows pending approvals",
            code=f"approval_{verdict.state}",
            payload={"approval_request": request},
        )
