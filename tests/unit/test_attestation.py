"""Which ledger records the audit trail backs (attestation.py), without I/O: the gate's
defence against rows forged by someone who can write the ledger but not sign events."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from lambda_promote import attestation
from lambda_promote.audit import Keyring, authenticated, chain
from lambda_promote.model import (
    ApprovalDecision,
    ApprovalRequest,
    Artifact,
    AuditEvent,
    Deployment,
    DeploymentState,
    RequestState,
)

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
DIGEST = "d" * 64
KEY = Keyring(b"k")


def trail(*specs: tuple[str, str, dict], key: bytes | None = b"k") -> list[AuditEvent]:
    events: list[AuditEvent] = []
    for actor, action, details in specs:
        events.append(
            chain(
                events[-1] if events else None,
                at=T0,
                actor=actor,
                action=action,
                env="production",
                digest=DIGEST,
                details=details,
                key=key,
            )
        )
    return events


def evidence(events: list[AuditEvent]) -> attestation.Evidence:
    return attestation.Evidence(events, trusted=lambda e: authenticated(e, KEY))


def request(**kw) -> ApprovalRequest:
    fields = {
        "id": "r-1",
        "env": "production",
        "digest": DIGEST,
        "requested_by": "alice",
        "requested_at": T0,
        "expires_at": T0 + timedelta(hours=1),
    }
    return ApprovalRequest(**{**fields, **kw})


REQUESTED = ("alice", "approval.requested", {"request": "r-1"})
OPS_APPROVES = ApprovalDecision(reviewer="ops", approve=True, at=T0)


def test_a_decision_with_its_signed_event_is_backed() -> None:
    events = trail(REQUESTED, ("ops", "approval.granted", {"request": "r-1"}))
    assert attestation.request_problems(evidence(events), request(decisions=[OPS_APPROVES])) == []


def test_a_github_decision_is_backed_by_the_reviewer_named_in_its_details() -> None:
    details = {"request": "r-1", "reviewer": "ops", "source": "github"}
    events = trail(REQUESTED, ("ci-bot", "approval.granted", details))
    assert attestation.request_problems(evidence(events), request(decisions=[OPS_APPROVES])) == []


def test_an_approval_row_flipped_from_a_rejection_is_not_backed() -> None:
    events = trail(REQUESTED, ("ops", "approval.rejected", {"request": "r-1"}))
    problems = attestation.request_problems(evidence(events), request(decisions=[OPS_APPROVES]))
    assert [p.record for p in problems] == ["approval of ops on request r-1", "request r-1"]


def test_an_open_row_of_a_consumed_request_is_contradicted() -> None:
    consumed = ("ops", "approval.consumed", {"request": "r-1", "deployment": "d-9"})
    events = trail(REQUESTED, ("ops", "approval.granted", {"request": "r-1"}), consumed)
    problems = attestation.request_problems(evidence(events), request(decisions=[OPS_APPROVES]))
    assert "consumed by deployment d-9" in str(problems[0])
    closed = request(decisions=[OPS_APPROVES], state=RequestState.CONSUMED)
    assert attestation.request_problems(evidence(events), closed) == []


def test_an_unkeyed_event_is_named_but_does_not_back() -> None:
    keyed = trail(REQUESTED)
    unkeyed = trail(REQUESTED, ("ops", "approval.granted", {"request": "r-1"}), key=None)[1:]
    events = [*keyed, replace(unkeyed[0], prev_hash=keyed[0].hash)]
    problems = attestation.request_problems(evidence(events), request(decisions=[OPS_APPROVES]))
    assert "#2 records it but is not signed with the audit key" in str(problems[0])


def test_a_backdated_request_differs_from_its_event() -> None:
    details = {"request": "r-1", "requested_at": T0.isoformat()}
    events = trail(("alice", "approval.requested", details))
    backdated = request(requested_at=T0 - timedelta(days=1))
    assert "requested_at" in str(attestation.request_problems(evidence(events), backdated)[0])


def test_a_success_needs_its_signed_event() -> None:
    dep = Deployment(id="d-1", env="production", digest=DIGEST, state=DeploymentState.SUCCEEDED)
    done = ("alice", "deployment.succeeded", {"deployment": "d-1", "kind": "deploy"})
    assert attestation.success_problem(evidence(trail(done)), dep) is None
    assert attestation.success_problem(evidence(trail(REQUESTED)), dep) is not None


def test_build_provenance_must_match_the_signed_build_event() -> None:
    art = Artifact(digest=DIGEST, size=1, path="x", branch="feature/x", builder="alice")
    built = ("alice", "artifact.built", {"branch": "feature/x", "commit": None})
    assert attestation.build_problem(evidence(trail(built)), art) is None
    moved = replace(art, branch="main")
    assert "records branch 'feature/x'" in str(
        attestation.build_problem(evidence(trail(built)), moved)
    )
    assert attestation.provenance_mismatch(moved, art) == "branch ('main' vs 'feature/x')"
