"""Converting between the ledger's rows (``tables.py``) and the model's dataclasses: JSON
columns as text, enums as their values, times as stored (UTC, see ``tables.UtcDateTime``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lambda_promote.ledger import rules
from lambda_promote.ledger.base import LockInfo
from lambda_promote.model import (
    ApprovalDecision,
    ApprovalRequest,
    Artifact,
    AuditEvent,
    CheckResult,
    Deployment,
    DeploymentKind,
    DeploymentState,
    RequestState,
)

if TYPE_CHECKING:
    # Rows of the standard-library ledger (lite.py) are read by the same functions.
    from sqlalchemy.engine import Row


def artifact_row(artifact: Artifact) -> dict[str, Any]:
    return {
        "digest": artifact.digest,
        "size": artifact.size,
        "path": artifact.path,
        "files": rules.dump_json(list(artifact.files), what="the artifact's file list"),
        "inputs_hash": artifact.inputs_hash,
        "commit": artifact.commit,
        "branch": artifact.branch,
        "builder": artifact.builder,
        "built_at": artifact.built_at,
        "runtime": artifact.runtime,
        "architecture": artifact.architecture,
        "committed_at": artifact.committed_at,
    }


def artifact(row: Row[Any]) -> Artifact:
    return Artifact(
        digest=row.digest,
        size=row.size,
        path=row.path,
        files=tuple(rules.load_json(row.files)),
        inputs_hash=row.inputs_hash,
        commit=row.commit,
        branch=row.branch,
        builder=row.builder,
        built_at=row.built_at,
        runtime=row.runtime,
        architecture=row.architecture,
        committed_at=row.committed_at,
    )


def deployment_row(
    deployment: Deployment, *, created: datetime, updated: datetime
) -> dict[str, Any]:
    row = {
        "id": deployment.id,
        "env": deployment.env,
        "digest": deployment.digest,
        "kind": DeploymentKind(deployment.kind).value,
        "state": DeploymentState(deployment.state).value,
        "actor": deployment.actor,
        "version": deployment.version,
        "previous_version": deployment.previous_version,
        "previous_digest": deployment.previous_digest,
        "reason": deployment.reason,
        "error": deployment.error,
        "rollback": rules.dump_json(deployment.rollback, what="the rollback"),
        "created_at": created,
        "updated_at": updated,
    }
    # Only when there is one: the row then fits a schema older than revision 0004 too.
    if deployment.configuration_digest is not None:
        row["configuration"] = rules.dump_json(deployment.configuration, what="configuration")
        row["configuration_digest"] = deployment.configuration_digest
        row["release_configuration"] = rules.dump_json(
            deployment.release_configuration, what="the release configuration"
        )
    # Only for a many-function release: the row then fits a schema older than 0005 too.
    if deployment.functions is not None:
        row["functions"] = rules.dump_json(deployment.functions, what="the functions")
    return row


def deployment(row: Row[Any]) -> Deployment:
    return Deployment(
        id=row.id,
        env=row.env,
        digest=row.digest,
        state=DeploymentState(row.state),
        kind=DeploymentKind(row.kind),
        actor=row.actor,
        version=row.version,
        previous_version=row.previous_version,
        previous_digest=row.previous_digest,
        reason=row.reason,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        rollback=rules.load_json(row.rollback),
        configuration=rules.load_json(row.configuration),
        configuration_digest=row.configuration_digest,
        release_configuration=rules.load_json(row.release_configuration),
        functions=rules.load_json(row.functions),
    )


def check_rows(results: Sequence[CheckResult], *, first_seq: int) -> list[dict[str, Any]]:
    return [
        {
            "seq": first_seq + index,
            "phase": result.phase,
            "name": result.name,
            "ok": bool(result.ok),
            "latency_ms": float(result.latency_ms),
            "detail": result.detail,
            "logs": result.logs,
            "response": rules.dump_json(
                result.response, what=f"the response of check {result.name!r}"
            ),
        }
        for index, result in enumerate(results)
    ]


def check(row: Row[Any]) -> CheckResult:
    return CheckResult(
        name=row.name,
        ok=row.ok,
        latency_ms=row.latency_ms,
        detail=row.detail,
        logs=row.logs,
        response=rules.load_json(row.response),
        phase=row.phase,
    )


def lock(row: Row[Any]) -> LockInfo:
    return LockInfo(
        env=row.env, holder=row.holder, deployment_id=row.deployment_id, since=row.since
    )


def request_row(request: ApprovalRequest) -> dict[str, Any]:
    """Without ``seq`` (drawn at insert) and decisions (a table of their own)."""
    return {
        "id": request.id,
        "env": request.env,
        "digest": request.digest,
        "requested_by": request.requested_by,
        "requested_at": rules.utc(request.requested_at),
        "expires_at": rules.utc(request.expires_at),
        "state": RequestState(request.state).value,
        "built_by": request.built_by,
        "branch": request.branch,
        "evidence": rules.evidence_json(request.evidence, request_id=request.id),
        "consumed_by": request.consumed_by,
    }


def request(row: Row[Any], decisions: Sequence[ApprovalDecision]) -> ApprovalRequest:
    return ApprovalRequest(
        id=row.id,
        env=row.env,
        digest=row.digest,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        expires_at=row.expires_at,
        state=RequestState(row.state),
        built_by=row.built_by,
        branch=row.branch,
        decisions=list(decisions),
        evidence=rules.load_json(row.evidence),
        consumed_by=row.consumed_by,
    )


def decision_row(decision: ApprovalDecision, *, request_id: str, seq: int) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "seq": seq,
        "reviewer": decision.reviewer,
        "approve": bool(decision.approve),
        "at": rules.utc(decision.at),
        "comment": decision.comment,
        "source": decision.source,
    }


def decision(row: Row[Any]) -> ApprovalDecision:
    return ApprovalDecision(
        reviewer=row.reviewer,
        approve=row.approve,
        at=row.at,
        comment=row.comment,
        source=row.source,
    )


def audit_event(row: Row[Any]) -> AuditEvent:
    """The event exactly as stored: a hand-edited row must reach ``audit.verify`` unchanged."""
    return AuditEvent(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        env=row.env,
        digest=row.digest,
        reason=row.reason,
        details=rules.audit_details(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
        key_id=row.key_id,
    )
