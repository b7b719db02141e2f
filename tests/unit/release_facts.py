"""Facts for the plan-stage tests: built by hand, as gather would read them, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from lambda_promote.config.schema import Approval, Check, Environment
from lambda_promote.ledger.base import LockInfo
from lambda_promote.model import (
    AliasState,
    ApprovalDecision,
    ApprovalRequest,
    Artifact,
    Deployment,
    DeploymentKind,
    DeploymentState,
    FunctionRef,
    RequestState,
)
from lambda_promote.release.models import ApprovalFacts, EnvFacts, ReleaseFacts

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
RULE = Approval(reviewers=["lead", "ops"], min_approvals=1)
STAGING = Environment(function_name="fn-staging", checks=[Check(name="ping")])
PRODUCTION = Environment(
    function_name="fn-production",
    promote_from="staging",
    branches=["main"],
    approval=RULE,
    checks=[Check(name="ping"), Check(name="orders")],
    alarms=["errors"],
    bake_seconds=60,
)


def digest(n: int) -> str:
    return f"{n:x}".ljust(64, "f")  # a distinct prefix for each small n


def artifact(n: int, *, branch: str | None = "main") -> Artifact:
    return Artifact(digest=digest(n), size=1, path="x.zip", branch=branch, builder="dev")


def env_facts(
    spec: Environment = STAGING,
    *,
    live: str | None = "1",
    live_digest: str | None = None,
    unfinished: tuple[Deployment, ...] = (),
    lock: LockInfo | None = None,
    lock_stale: bool = False,
    name: str = "staging",
) -> EnvFacts:
    fn = FunctionRef(env=name, function_name=spec.function_name, alias=spec.alias)
    alias = AliasState(
        version=live,
        revision_id="rev-1" if live else None,
        digest=live_digest or (digest(int(live)) if live else None),
    )
    return EnvFacts(name, spec, fn, "d-new", alias, lock, lock_stale, unfinished)


def release(
    n: int | None = 2,
    *,
    source: str | None = None,
    succeeded: tuple[str, ...] = (),
    branch: str | None = "main",
    bytes_problem: str | None = None,
    approval: ApprovalFacts | None = None,
) -> ReleaseFacts:
    art = artifact(n, branch=branch) if n is not None else None
    return ReleaseFacts(
        art,
        None if art is None else Path("x.zip"),
        branch,
        source_env=source,
        succeeded_in_source=succeeded,
        bytes_problem=bytes_problem,
        approval=approval,
    )


def request(
    n: int = 2,
    *,
    rid: str = "r-1",
    env: str = "production",
    approvers: tuple[str, ...] = ("lead",),
    rejected_by: str | None = None,
    requested_at: datetime = NOW - timedelta(hours=1),
    expires_in: timedelta = timedelta(hours=71),
    state: RequestState = RequestState.OPEN,
) -> ApprovalRequest:
    decisions = [ApprovalDecision(reviewer=r, approve=True, at=NOW) for r in approvers]
    if rejected_by:
        decisions.append(ApprovalDecision(reviewer=rejected_by, approve=False, at=NOW))
    return ApprovalRequest(
        id=rid,
        env=env,
        digest=digest(n),
        requested_by="dev",
        requested_at=requested_at,
        expires_at=requested_at + expires_in,
        state=state,
        built_by="dev",
        decisions=decisions,
        consumed_by="d-old" if state is RequestState.CONSUMED else None,
    )


def builtin(
    *requests: ApprovalRequest, newest_in_env: ApprovalRequest | None = None
) -> ApprovalFacts:
    return ApprovalFacts("builtin", RULE, NOW, requests=requests, newest_in_env=newest_in_env)


def deployment(
    version: str,
    state: DeploymentState = DeploymentState.SUCCEEDED,
    *,
    kind: DeploymentKind = DeploymentKind.DEPLOY,
    previous: str | None = None,
    dep_id: str | None = None,
) -> Deployment:
    return Deployment(
        id=dep_id or f"d-{version}-{state.value}",
        env="staging",
        digest=digest(int(version)),
        state=state,
        kind=kind,
        version=version,
        previous_version=previous,
        previous_digest=digest(int(previous)) if previous else None,
    )
