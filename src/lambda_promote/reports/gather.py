"""Collecting what a report shows from the ledger: the deployment with its transitions and
checks, the approval request it consumed, the notifications recorded for it in the audit
trail, the artifact's commit and the audit chain head. Used by ``lambda-promote report`` and
by the Journal listener that writes the reports when a deployment ends.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_promote.model import Deployment, DeploymentKind
from lambda_promote.reports import REPORTS_DIR, report_path, write_reports

if TYPE_CHECKING:
    from lambda_promote.journal import Listener
    from lambda_promote.notify.dispatch import DeliveryLog
    from lambda_promote.workspace import Workspace


def reports_folder(ws: Workspace) -> Path:
    return ws.state_dir / REPORTS_DIR


def report_locator(ws: Workspace, fmt: str = "html") -> Callable[[Deployment], str]:
    """Where a deployment's report will be: notifications link to it before it is written
    (the report lists the notifications, so it is written after them)."""

    def locate(deployment: Deployment) -> str:
        return str(report_path(reports_folder(ws), deployment.id, fmt))

    return locate


def report_inputs(
    ws: Workspace,
    deployment: Deployment,
    *,
    notifications: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The keyword arguments of ``reports.render``/``write_reports`` for ``deployment``.
    ``notifications``: what this process sent for it; otherwise they are read back from the
    audit trail (for a past deployment: that reads the whole trail once)."""
    from lambda_promote.notify.dispatch import deliveries_from_audit, redactor_for

    if notifications is None:
        notifications = deliveries_from_audit(ws.ledger.audit_events(), deployment.id)
    approvals = []
    if deployment.kind is DeploymentKind.DEPLOY:
        approvals = [
            r
            for r in ws.ledger.requests(env=deployment.env, digest=deployment.digest, limit=None)
            if r.consumed_by == deployment.id
        ]
    artifact = ws.ledger.find_artifact(deployment.digest)
    last = ws.ledger.audit_head()
    return {
        "approvals": approvals,
        "notifications": notifications,
        "audit_head": f"#{last.seq} {last.hash}" if last else None,
        "commit": artifact.commit if artifact else None,
        "committed_at": artifact.committed_at if artifact else None,
        "project": ws.config.project,
        "redactor": redactor_for(ws.config.notifications),
    }


def write_deployment_reports(
    ws: Workspace,
    deployment: Deployment,
    *,
    environ: Mapping[str, str] = os.environ,
    notifications: list[dict[str, Any]] | None = None,
) -> dict[str, Path]:
    """Write the three reports of ``deployment`` (re-read in full from the ledger)."""
    full = ws.ledger.get_deployment(deployment.id) or deployment
    inputs = report_inputs(ws, full, notifications=notifications)
    return write_reports(full, folder=reports_folder(ws), environ=environ, **inputs)


def report_listener(
    ws: Workspace,
    *,
    on_written: Callable[[Deployment, dict[str, Path]], None] | None = None,
    environ: Mapping[str, str] = os.environ,
    deliveries: DeliveryLog | None = None,
) -> Listener:
    """A ``journal.Listener`` writing the reports when a deployment reaches a terminal state.
    Register it after the notification listener, so the report lists what was sent:
    ``deliveries``, the notification listener's log (else they are read from the audit
    trail, which costs a read of the whole trail)."""

    def listen(event: str, deployment: Deployment, details: dict[str, Any]) -> None:
        if not event.startswith("deployment.") or not deployment.state.terminal:
            return
        sent = deliveries.for_subject(deployment.id) if deliveries is not None else None
        written = write_deployment_reports(ws, deployment, environ=environ, notifications=sent)
        if on_written is not None:
            on_written(deployment, written)

    return listen
