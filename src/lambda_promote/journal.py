"""Writes each step of a deployment to the ledger *before* the side effect it announces
(DESIGN §6), and tells listeners (the audit trail, notifiers) what happened.

A listener that fails must never fail a deployment (DESIGN §5.9): its error is handed to
``on_listener_error`` and the step goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lambda_promote.ledger.base import Ledger
from lambda_promote.model import CheckResult, Deployment, DeploymentState

# (event, deployment, details): e.g. ("deployment.rolled_back", dep, {"note": …})
Listener = Callable[[str, Deployment, dict[str, Any]], None]


@dataclass
class Journal:
    ledger: Ledger
    listeners: list[Listener] = field(default_factory=list)
    on_listener_error: Callable[[str, BaseException], None] | None = None

    def open(self, deployment: Deployment) -> Deployment:
        created = self.ledger.create_deployment(deployment)
        self._tell("deployment.created", created, {"state": created.state.value})
        return created

    def move(
        self, deployment: Deployment, state: DeploymentState, *, note: str = "", **fields: Any
    ) -> Deployment:
        moved = self.ledger.transition(deployment.id, state, note=note, **fields)
        self._tell(f"deployment.{state.value}", moved, {"note": note} if note else {})
        return moved

    def checks(self, deployment: Deployment, results: Sequence[CheckResult]) -> None:
        if not results:
            return
        self.ledger.add_checks(deployment.id, results)
        passed = sum(r.ok for r in results)
        self._tell(
            "checks.recorded",
            deployment,
            {"phase": results[0].phase, "passed": passed, "failed": len(results) - passed},
        )

    def note(self, event: str, deployment: Deployment, details: dict[str, Any]) -> None:
        """An event that is not a state change (e.g. a stale lock broken before recovery)."""
        self._tell(event, deployment, details)

    def _tell(self, event: str, deployment: Deployment, details: dict[str, Any]) -> None:
        for listener in self.listeners:
            try:
                listener(event, deployment, details)
            except Exception as error:
                if self.on_listener_error is not None:
                    self.on_listener_error(event, error)
