"""Deployments, approval requests and deliveries with fixed times, for the report and
notification tests and their golden files (tests/golden/reports/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lambda_promote.model import (
    ApprovalDecision,
    ApprovalRequest,
    CheckResult,
    Deployment,
    DeploymentKind,
    DeploymentState,
    RequestState,
    Transition,
)

S = DeploymentState
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
GENERATED_AT = datetime(2024, 5, 1, 12, 5, 0, tzinfo=UTC)
NEW = "b" * 64
OLD = "a" * 64
COMMIT = "0123456789abcdef0123456789abcdef01234567"
AUDIT_HEAD = "#42 " + "c" * 64


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def transitions(*steps: tuple[DeploymentState, float, str]) -> list[Transition]:
    return [Transition(state=state, at=at(t), note=note) for state, t, note in steps]


def rolled_back() -> Deployment:
    """Production: version 8 failed its checks and version 7 was restored and verified."""
    return Deployment(
        id="d-0000beef",
        env="production",
        digest=NEW,
        state=S.ROLLED_BACK,
        kind=DeploymentKind.DEPLOY,
        actor="team-lead",
        version="8",
        previous_version="7",
        previous_digest=OLD,
        error="check ping failed: FunctionError Unhandled: release 1.2.0 has a bug",
        created_at=at(0),
        updated_at=at(9.5),
        transitions=transitions(
            (S.PENDING, 0, ""),
            (S.PUBLISHING, 0.4, ""),
            (S.SHIFTING, 3.1, ""),
            (S.VERIFYING, 3.3, ""),
            (S.ROLLING_BACK, 6.0, "check ping failed: FunctionError Unhandled"),
            (S.ROLLED_BACK, 9.5, ""),
        ),
        checks=[
            CheckResult("health", True, 41.0, "ok", logs="START\nEND\n", phase="verify"),
            CheckResult(
                "ping",
                False,
                1234.5,
                "FunctionError Unhandled: release 1.2.0 has a bug",
                logs='Traceback (most recent call last):\n  File "app.py", line 9\n'
                "RuntimeError: release 1.2.0 has a bug | <script>alert(1)</script>\n"
                "```\nnot the end of the fence\n",
                phase="verify",
            ),
            CheckResult("ping", True, 38.2, "ok", logs="", phase="rollback_verify"),
        ],
        rollback={
            "reason": "checks failed",
            "from_version": "8",
            "to_version": "7",
            "to_digest": OLD,
            "verified": True,
            "checks": [{"name": "ping", "ok": True, "latency_ms": 38.2, "detail": "ok"}],
        },
    )


def canary_alarmed() -> Deployment:
    """Production, canary 10% 5m: version 8 passed its checks at 10 %, then an alarm fired
    two minutes into the bake; the weight went back to 0 and version 7 was verified."""
    iso = lambda seconds: at(seconds).isoformat().replace("+00:00", "Z")  # noqa: E731
    return Deployment(
        id="d-0000ca9a",
        env="production",
        digest=NEW,
        state=S.ROLLED_BACK,
        actor="team-lead",
        version="8",
        previous_version="7",
        previous_digest=OLD,
        error="traffic stopped at 10%: alarm orders-errors",
        created_at=at(0),
        updated_at=at(125),
        transitions=transitions(
            (S.PENDING, 0, ""),
            (S.PUBLISHING, 0.4, ""),
            (S.SHIFTING, 3.1, ""),
            (S.SHIFTING, 3.2, "traffic 10% to orders-production version 8"),
            (S.SHIFTING, 123.5, "traffic 10% failed"),
            (S.ROLLING_BACK, 123.6, "traffic stopped at 10%: alarm orders-errors"),
            (S.ROLLED_BACK, 125, ""),
        ),
        checks=[
            CheckResult("ping", True, 40.0, "ok in 40 ms (version 8 at 10%)", phase="traffic"),
            CheckResult(
                "alarm:orders-errors",
                False,
                0.0,
                "alarm orders-errors is in ALARM",
                phase="traffic",
            ),
            CheckResult("ping", True, 38.2, "ok", phase="rollback_verify"),
        ],
        traffic=[{"percent": 10.0, "at": iso(3.2), "ok": False}],
        rollback={
            "reason": "checks failed",
            "from_version": "8",
            "to_version": "7",
            "to_digest": OLD,
            "verified": True,
            "checks": [{"name": "ping", "ok": True, "latency_ms": 38.2, "detail": "ok"}],
        },
    )


def succeeded() -> Deployment:
    return Deployment(
        id="d-00000001",
        env="staging",
        digest=NEW,
        state=S.SUCCEEDED,
        actor="alice",
        version="3",
        previous_version="2",
        previous_digest=OLD,
        created_at=at(0),
        updated_at=at(4),
        transitions=transitions(
            (S.PENDING, 0, ""),
            (S.PUBLISHING, 0.5, ""),
            (S.SHIFTING, 2, ""),
            (S.VERIFYING, 2.2, ""),
            (S.SUCCEEDED, 4, ""),
        ),
        checks=[CheckResult("ping", True, 12.0, "ok", phase="verify")],
    )


def rollback_failed() -> Deployment:
    dep = rolled_back()
    dep.id = "d-0000dead"
    dep.state = S.ROLLBACK_FAILED
    dep.transitions[-1] = Transition(S.ROLLBACK_FAILED, at(9.5), "version 7 fails its checks")
    dep.rollback = {**(dep.rollback or {}), "verified": False, "error": "version 7 fails too"}
    return dep


def manual_rollback() -> Deployment:
    return Deployment(
        id="d-0000cafe",
        env="production",
        digest=OLD,
        state=S.SUCCEEDED,
        kind=DeploymentKind.ROLLBACK,
        actor="team-lead",
        version="7",
        previous_version="8",
        previous_digest=NEW,
        reason="customers report a bug in 1.1.0",
        created_at=at(0),
        updated_at=at(2),
        transitions=transitions(
            (S.PENDING, 0, ""),
            (S.SHIFTING, 0.1, "customers report a bug in 1.1.0"),
            (S.VERIFYING, 0.4, ""),
            (S.SUCCEEDED, 2, ""),
        ),
        checks=[CheckResult("ping", True, 20.0, "ok", phase="rollback_verify")],
        rollback={
            "reason": "customers report a bug in 1.1.0",
            "from_version": "8",
            "to_version": "7",
            "to_digest": OLD,
            "verified": True,
        },
    )


def failed() -> Deployment:
    return Deployment(
        id="d-0000f00d",
        env="staging",
        digest=NEW,
        state=S.FAILED,
        actor="alice",
        previous_version="2",
        previous_digest=OLD,
        error="publish failed: the function is being updated",
        created_at=at(0),
        updated_at=at(1),
        transitions=transitions(
            (S.PENDING, 0, ""), (S.PUBLISHING, 0.3, ""), (S.FAILED, 1, "publish failed")
        ),
    )


def approval(state: RequestState = RequestState.CONSUMED) -> ApprovalRequest:
    return ApprovalRequest(
        id="r-00c0ffee",
        env="production",
        digest=NEW,
        requested_by="devops-admin",
        requested_at=at(-3600),
        expires_at=at(-3600) + timedelta(hours=72),
        state=state,
        built_by="alice",
        branch="main",
        decisions=[
            ApprovalDecision(
                reviewer="team-lead",
                approve=True,
                at=at(-600),
                comment="staging looks good | ship it <b>now</b>",
            )
        ],
        evidence={
            "live_version": "7",
            "live_digest": OLD,
            "rollback_restores": "7",
            "commit": COMMIT,
            "branch": "main",
            "built_by": "alice",
            "commits": ["0123456 release 1.2.0", "89abcde fix the thing"],
            "source": {
                "env": "staging",
                "deployment": "d-00000001",
                "checks": [{"name": "ping", "ok": True, "latency_ms": 12.0, "detail": "ok"}],
            },
        },
        consumed_by="d-0000beef" if state is RequestState.CONSUMED else None,
    )


def deliveries() -> list[dict[str, Any]]:
    return [
        {
            "notifier": "slack",
            "event": "deployment.rolled_back",
            "ok": True,
            "error": None,
            "attempts": 2,
            "skipped": False,
        },
        {
            "notifier": "email",
            "event": "deployment.rolled_back",
            "ok": False,
            "error": "could not connect to smtp.example.com:587: connection refused",
            "attempts": 3,
            "skipped": False,
        },
        {
            "notifier": "webhook",
            "event": "deployment.rolled_back",
            "ok": False,
            "error": "$HOOK_URL is not set",
            "attempts": 0,
            "skipped": True,
        },
    ]
