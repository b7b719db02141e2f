"""What the rest of the tool asks of the ledger — the tool's memory (STYLE: "the ledger is
the memory"). ``sql.py`` implements it over SQLAlchemy for SQLite and PostgreSQL; unit tests
pass an in-memory fake implementing the same protocol.

Rule: a transition is written *before* the side effect it announces, so a crashed process
leaves a record the next command can resolve (DESIGN §5.5, §6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from lambda_promote.model import Artifact, CheckResult, Deployment, DeploymentState


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

    def add_checks(self, deployment_id: str, results: Sequence[CheckResult]) -> None:
        ...

    def get_deployment(self, id_or_prefix: str) -> Deployment | None:
        """With transitions and checks; ``UsageError`` when a prefix is ambiguous."""
        ...

    def deployments(
        self,
        env: str | None = None,
        *,
        states: Sequence[DeploymentState] | None = None,
        limit: int | None = 50,
    ) -> list[Deployment]:
        """Newest first (by creation). Without transitions/checks, for speed."""
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

    def lock_info(self, env: str) -> LockInfo | None:
        ...

    def break_lock(self, env: str, deployment_id: str) -> LockInfo:
        """Remove a stale lock held by ``deployment_id``; ``UsageError`` when no such lock."""
        ...
