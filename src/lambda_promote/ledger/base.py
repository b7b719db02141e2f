"""What the rest of the tool asks of the ledger — the tool's memory (STYLE: "the ledger is
the memory"). ``sql.py`` implements it over SQLAlchemy for SQLite and PostgreSQL; unit tests
pass an in-memory fake implementing the same protocol.

Rule: a transition is written *before* the side effect it announces, so a crashed process
leaves a record the next command can resolve (DESIGN §5.5, §6).

Approval requests are stored, not judged: whether one is *granted* is ``gate.evaluate``'s
business. The ledger guarantees what only storage can: one decision per reviewer, and that a
request admits at most one deployment. The audit trail is append-only here; its hashes are
computed by ``audit.chain`` (the caller) and checked by ``audit.verify``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from lambda_promote.model import (
    ApprovalDecision,
    ApprovalRequest,
    Artifact,
    AuditEvent,
    CheckResult,
    Deployment,
    DeploymentState,
    RequestState,
)


@dataclass(frozen=True)
class LockInfo:
    env: str
    holder: str
    deployment_id: str
    since: datetime


class Ledger(Protocol):
    # --- releases -------------------------------------------------------------------------
    def record_artifact(self, artifact: Artifact) -> None:
        """Remember a built artifact and its provenance (idempotent per digest)."""
        ...

    def find_artifact(self, digest_or_prefix: str) -> Artifact | None:
        """By full digest or unique prefix (≥ 4 chars); ``UsageError`` when ambiguous."""
        ...

    # --- deployments ----------------------------------------------------------------------
    def create_deployment(self, deployment: Deployment) -> Deployment:
        """Insert a new deployment in its current state, with that first transition."""
        ...

    def transition(
        self, deployment_id: str, state: DeploymentState, *, note: str = "", **fields: Any
    ) -> Deployment:
        """Record the move to ``state`` (with time and note) and update any of the fields
        ``version``, ``previous_version``, ``previous_digest``, ``error``, ``reason``,
        ``rollback``; returns the updated deployment."""
        ...

    def add_checks(self, deployment_id: str, results: Sequence[CheckResult]) -> None: ...

    def get_deployment(self, id_or_prefix: str) -> Deployment | None:
        """With transitions and checks; ``UsageError`` when a prefix is ambiguous."""
        ...

    def deployments(
        self,
        env: str | None = None,
        *,
        states: Sequence[DeploymentState] | None = None,
        since: datetime | None = None,
        limit: int | None = 50,
    ) -> list[Deployment]:
        """Newest first (by creation). Without transitions/checks, for speed. ``since``:
        only those created at or after it (a bounded read of a time window, e.g. metrics)."""
        ...

    def unfinished(self, env: str) -> list[Deployment]:
        """Deployments of ``env`` in a non-terminal state (left by a crashed process)."""
        ...

    # --- per-environment lock (DESIGN §5.6) -----------------------------------------------
    def acquire_lock(self, env: str, *, holder: str, deployment_id: str) -> None:
        """Atomically take the lock or raise ``EnvironmentLocked`` naming holder, id, since."""
        ...

    def release_lock(self, env: str, deployment_id: str) -> None:
        """Release if held by ``deployment_id``; a no-op otherwise."""
        ...

    def lock_info(self, env: str) -> LockInfo | None: ...

    def break_lock(self, env: str, deployment_id: str) -> LockInfo:
        """Remove a stale lock held by ``deployment_id``; ``UsageError`` when no such lock."""
        ...

    # --- approval requests (DESIGN §5.2–5.3) ---------------------------------------------
    def create_request(self, request: ApprovalRequest) -> ApprovalRequest:
        """Insert ``request`` with the decisions and evidence it carries; ``LedgerError`` when
        its id is taken, ``UsageError`` when it carries two decisions of one reviewer."""
        ...

    def get_request(self, id_or_prefix: str) -> ApprovalRequest | None:
        """By id or unique prefix (≥ 4 chars), with its decisions in the order they were
        made; ``UsageError`` when a prefix is ambiguous."""
        ...

    def requests(
        self,
        *,
        env: str | None = None,
        digest: str | None = None,
        states: Sequence[RequestState] | None = None,
        limit: int | None = 50,
    ) -> list[ApprovalRequest]:
        """Newest first (by ``requested_at``, then insertion), each with its decisions."""
        ...

    def add_decision(self, request_id: str, decision: ApprovalDecision) -> ApprovalRequest:
        """Append a reviewer's decision. ``LedgerError`` when the request is unknown or not
        open; ``UsageError`` when this reviewer already decided on it."""
        ...

    def set_request_state(
        self, request_id: str, state: RequestState, *, consumed_by: str | None = None
    ) -> ApprovalRequest:
        """``open → rejected``, or ``open → consumed`` naming the deployment it admitted
        (``consumed_by``), atomically: of two deployments consuming one request, the second
        gets ``GateBlocked`` (code ``approval_consumed``). Anything else is a ``LedgerError``."""
        ...

    # --- the audit trail (DESIGN §5.7) ---------------------------------------------------
    def append_audit(self, make: Callable[[AuditEvent | None], AuditEvent]) -> AuditEvent:
        """In one transaction: read the last event, ``make(last)`` the next one (seq
        ``last.seq + 1``, or 1; hashed by the caller) and insert it. ``make`` may be called
        again when a concurrent appender took that seq. Times must be UTC, ``details`` plain
        JSON: both are hashed as they will be read back."""
        ...

    def audit_head(self) -> AuditEvent | None:
        """The newest event (the chain head a report records), without reading the trail."""
        ...

    def audit_events(
        self, *, env: str | None = None, since_seq: int | None = None
    ) -> list[AuditEvent]:
        """Events in seq order, exactly as stored (never repaired), all of them unless
        filtered by ``env`` or to those after ``since_seq``."""
        ...
