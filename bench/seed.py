"""Past deployments for the scale benchmark, written through the ledger's own API
(``lambda_promote.ledger.sql.open_ledger``) exactly as the deploy command writes them: the
deployment, its four transitions, its check result and the six audit events of a real
deployment, hash-chained. Only the clock and ids are made up.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SEED_ACTOR = "seed"
FIRST_VERSION = 1_000_000  # far above the local target's own version numbers
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def seed_deployments(state_db: Path, *, start: int, count: int, env: str = "staging") -> None:
    """Append deployments ``start`` … ``start + count - 1`` of ``env`` to the SQLite ledger."""
    from lambda_promote.ledger.sql import open_ledger

    with open_ledger(f"sqlite:///{state_db}", root=state_db.parent) as ledger:
        for index in range(start, start + count):
            _one(ledger, index, env)


def _digest(index: int) -> str:
    return hashlib.sha256(f"seed-release-{index}".encode()).hexdigest()


def _one(ledger: Any, index: int, env: str) -> None:
    from lambda_promote.audit import chain
    from lambda_promote.model import CheckResult, Deployment, DeploymentState

    at = _EPOCH + timedelta(minutes=index)
    dep = Deployment(
        id=f"d-seed{index:06d}",
        env=env,
        digest=_digest(index),
        state=DeploymentState.PENDING,
        actor=SEED_ACTOR,
        created_at=at,
    )
    version = str(FIRST_VERSION + index)
    previous = str(FIRST_VERSION + index - 1) if index else None

    def audit(action: str, state: str, **extra: Any) -> None:
        details = {"deployment": dep.id, "kind": "deploy", "state": state, "version": version}
        ledger.append_audit(
            lambda prev: chain(
                prev,
                at=at,
                actor=SEED_ACTOR,
                action=action,
                env=env,
                digest=dep.digest,
                details={**details, **extra},
            )
        )

    ledger.create_deployment(dep)
    audit("deployment.created", "pending")
    ledger.transition(dep.id, DeploymentState.PUBLISHING)
    audit("deployment.publishing", "publishing")
    ledger.transition(dep.id, DeploymentState.SHIFTING, version=version, previous_version=previous)
    audit("deployment.shifting", "shifting")
    ledger.transition(dep.id, DeploymentState.VERIFYING)
    audit("deployment.verifying", "verifying")
    ledger.add_checks(dep.id, [CheckResult("ping", True, 12.5, "ok in 12 ms")])
    audit("checks.recorded", "verifying", checks=1)
    ledger.transition(dep.id, DeploymentState.SUCCEEDED)
    audit("deployment.succeeded", "succeeded")
