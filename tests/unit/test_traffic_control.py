"""traffic_control.AuditControl: abort/finish requests are audit events the running shift
reads since it started, only those for its own deployment; an abort outranks a finish."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fakes import MemoryLedger
from lambda_promote.audit import chain
from lambda_promote.traffic_control import AuditControl, audit_seq

AT = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def append(ledger: MemoryLedger, action: str, *, env: str = "staging", **details: Any) -> None:
    ledger.append_audit(
        lambda last: chain(
            last, at=AT, actor="ana", action=action, env=env, reason="why not", details=details
        )
    )


def test_only_requests_for_this_deployment_after_it_started_count() -> None:
    ledger = MemoryLedger()
    append(ledger, "traffic.abort", deployment_id="d-1")  # before the shift began
    control = AuditControl(ledger, "staging", "d-1", audit_seq(ledger))
    assert control.requested() is None

    append(ledger, "traffic.abort", deployment_id="d-other")
    append(ledger, "traffic.abort", env="production", deployment_id="d-1")
    append(ledger, "deploy.start", deployment_id="d-1")
    assert control.requested() is None

    append(ledger, "traffic.finish", deployment_id="d-1")
    found = control.requested()
    assert found is not None
    assert (found.action, found.actor, found.reason, found.at) == ("finish", "ana", "why not", AT)


def test_an_abort_outranks_a_finish_and_is_remembered() -> None:
    ledger = MemoryLedger()
    control = AuditControl(ledger, "staging", "d-1", audit_seq(ledger))
    append(ledger, "traffic.abort", deployment_id="d-1")
    append(ledger, "traffic.finish", deployment_id="d-1")
    first = control.requested()
    assert first is not None
    assert first.action == "abort"
    again = control.requested()  # nothing new appended: still the abort
    assert again == first
