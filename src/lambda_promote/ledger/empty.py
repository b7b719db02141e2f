"""A ledger with nothing recorded, for reading where no ledger exists yet: a ``--dry-run`` on a
machine whose SQLite file was never created reads this instead of creating the file
(DESIGN §11.2: a dry run changes nothing). Every write is refused: reaching one is a bug.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NoReturn

from lambda_promote.errors import LedgerError
from lambda_promote.ledger.base import LockInfo
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


def _refused(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise LedgerError(
        "this ledger is read-only: nothing is recorded yet, and a dry run records nothing",
        hint="this is a bug in lambda-promote; please report it",
    )


class EmptyLedger:
    """``Ledger`` with nothing in it, refusing writes."""

    def record_artifact(self, artifact: Artifact) -> None:
        _refused()

    def find_artifact(self, digest_or_prefix: str) -> Artifact | None:
        return None

    def create_deployment(self, deployment: Deployment) -> Deployment:
        _refused()

    def transition(
        self, deployment_id: str, state: DeploymentState, *, note: str = "", **fields: Any
    ) -> Deployment:
        _refused()

    def add_checks(self, deployment_id: str, results: Sequence[CheckResult]) -> None:
        _refused()

    def get_deployment(self, id_or_prefix: str) -> Deployment | None:
        return None

    def deployments(
        self,
        env: str | None = None,
        *,
        states: Sequence[DeploymentState] | None = None,
        since: datetime | None = None,
        limit: int | None = 50,
    ) -> list[Deployment]:
        return []

    def unfinished(self, env: str) -> list[Deployment]:
        return []

    def acquire_lock(self, env: str, *, holder: str, deployment_id: str) -> None:
        _refused()

    def release_lock(self, env: str, deployment_id: str) -> None:
        _refused()

    def lock_info(self, env: str) -> LockInfo | None:
        return None

    def break_lock(self, env: str, deployment_id: str) -> LockInfo:
        _refused()

    def create_request(self, request: ApprovalRequest) -> ApprovalRequest:
        _refused()

    def get_request(self, id_or_prefix: str) -> ApprovalRequest | None:
        return None

    def requests(
        self,
        *,
        env: str | None = None,
        digest: str | None = None,
        states: Sequence[RequestState] | None = None,
        limit: int | None = 50,
    ) -> list[ApprovalRequest]:
        return []

    def add_decision(self, request_id: str, decision: ApprovalDecision) -> ApprovalRequest:
        _refused()

    def set_request_state(
        self, request_id: str, state: RequestState, *, consumed_by: str | None = None
    ) -> ApprovalRequest:
        _refused()

    def append_audit(self, make: Callable[[AuditEvent | None], AuditEvent]) -> AuditEvent:
        _refused()

    def audit_head(self) -> AuditEvent | None:
        return None

    def audit_events(
        self, *, env: str | None = None, since_seq: int | None = None
    ) -> list[AuditEvent]:
        return []
