"""The DynamoDB ledger's items for each record, built from and read back into the model
(no boto3): the keys and index attributes of the single-table design (``dynamo_codec``) plus
the record itself as JSON in ``data``. ``dynamo.py`` writes these; ``transfer`` copies them.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from lambda_promote.ledger import dynamo_codec as codec
from lambda_promote.ledger import rules
from lambda_promote.ledger.base import LockInfo
from lambda_promote.ledger.dynamo_codec import ARTIFACT, DEPLOYMENT, REQUEST
from lambda_promote.model import (
    ApprovalDecision,
    ApprovalRequest,
    Artifact,
    AuditEvent,
    CheckResult,
    Deployment,
    DeploymentState,
    RequestState,
    Transition,
)

Item = dict[str, Any]
# Stored in items of their own (transitions, checks) or attributes of their own (decisions,
# the request's state): never inside ``data``.
DEPLOYMENT_APART = ("transitions", "checks")
REQUEST_APART = ("decisions", "state", "consumed_by")
_last_seq = [0]
_seq_guard = threading.Lock()


def insertion_seq() -> int:
    """Orders records created at the same time as they were inserted: nanoseconds, strictly
    increasing within a process (between processes the id breaks a tie, as on SQL)."""
    with _seq_guard:
        _last_seq[0] = max(_last_seq[0] + 1, time.time_ns())
        return _last_seq[0]


def _indexed(kind: str, record_id: str, *, env: str, moment: datetime, seq: int) -> Item:
    order = codec.order_key(moment, seq, record_id)
    return {
        **codec.key(kind, record_id),
        "kind": kind,
        "id": record_id,
        "seq": seq,
        "ppk": codec.prefix_partition(kind, record_id),
        "psk": record_id,
        "epk": f"{kind}#{env}",
        "esk": order,
        "kpk": kind,
        "ksk": order,
    }


# --- artifacts ---------------------------------------------------------------------------
def artifact_item(artifact: Artifact) -> Item:
    return {
        **codec.key(ARTIFACT, artifact.digest),
        "kind": ARTIFACT,
        "id": artifact.digest,
        "ppk": codec.prefix_partition(ARTIFACT, artifact.digest),
        "psk": artifact.digest,
        "data": codec.dumps(artifact, what="the artifact"),
    }


def artifact(item: Item) -> Artifact:
    return codec.loads(Artifact, item["data"])


# --- deployments -------------------------------------------------------------------------
def deployment_item(deployment: Deployment, *, seq: int, transitions: int, checks: int) -> Item:
    """The deployment's own item (created_at/updated_at already set, UTC)."""
    assert deployment.created_at is not None
    item = {
        **_indexed(
            DEPLOYMENT, deployment.id, env=deployment.env, moment=deployment.created_at, seq=seq
        ),
        "env": deployment.env,
        "state": DeploymentState(deployment.state).value,
        "transitions": transitions,
        "checks": checks,
        "data": codec.dumps(deployment, what="the deployment", leave_out=DEPLOYMENT_APART),
    }
    if not DeploymentState(deployment.state).terminal:
        # The sparse "live" index holds only unfinished deployments: recovery reads a few.
        item["lpk"] = f"{DEPLOYMENT}#{deployment.env}"
        item["lsk"] = item["esk"]
    return item


def deployment(item: Item) -> Deployment:
    return codec.loads(Deployment, item["data"], transitions=[], checks=[])


def transition_item(deployment_id: str, seq: int, transition: Transition) -> Item:
    return {
        "pk": codec.key(DEPLOYMENT, deployment_id)["pk"],
        "sk": codec.child_sk("T", seq),
        "data": codec.dumps(transition, what="the transition"),
    }


def check_item(deployment_id: str, seq: int, result: CheckResult) -> Item:
    return {
        "pk": codec.key(DEPLOYMENT, deployment_id)["pk"],
        "sk": codec.child_sk("C", seq),
        "data": codec.dumps(result, what=f"the response of check {result.name!r}"),
    }


def full_deployment(items: list[Item]) -> Deployment | None:
    """A deployment with its transitions and checks, from the items of its partition."""
    main = next((i for i in items if i["sk"] == "DEPLOYMENT"), None)
    if main is None:
        return None
    found = deployment(main)
    for item in sorted(items, key=lambda i: str(i["sk"])):
        if item["sk"].startswith("T#"):
            found.transitions.append(codec.loads(Transition, item["data"]))
        elif item["sk"].startswith("C#"):
            found.checks.append(codec.loads(CheckResult, item["data"]))
    return found


# --- locks -------------------------------------------------------------------------------
def lock_item(env: str, *, holder: str, deployment_id: str, since: datetime) -> Item:
    _, _, where = holder.rpartition("@")
    host, _, pid = where.rpartition(":")
    return {
        **codec.lock_key(env),
        "env": env,
        "holder": holder,
        "host": host,
        "pid": int(pid) if pid.isdigit() else None,
        "deployment_id": deployment_id,
        "since": rules.utc(since).isoformat(),
    }


def lock(item: Item) -> LockInfo:
    return LockInfo(
        env=item["env"],
        holder=item["holder"],
        deployment_id=item["deployment_id"],
        since=datetime.fromisoformat(item["since"]),
    )


# --- approval requests -------------------------------------------------------------------
def request_item(request: ApprovalRequest, *, seq: int) -> Item:
    state = RequestState(request.state)
    rules.evidence_json(request.evidence, request_id=request.id)  # refuses what SQL refuses
    item = {
        **_indexed(REQUEST, request.id, env=request.env, moment=request.requested_at, seq=seq),
        "env": request.env,
        "digest": request.digest,
        "state": state.value,
        "consumed_by": request.consumed_by,
        "decisions": [
            codec.dumps(d, what="the decision") for d in rules.distinct_decisions(request)
        ],
        "data": codec.dumps(request, what="the request", leave_out=REQUEST_APART),
    }
    reviewers = {d.reviewer for d in request.decisions}
    if reviewers:
        item["reviewers"] = reviewers
    if state is RequestState.OPEN:
        item["lpk"] = OPEN_REQUESTS
        item["lsk"] = item["esk"]
    return item


OPEN_REQUESTS = f"{REQUEST}#open"


def request(item: Item) -> ApprovalRequest:
    return codec.loads(
        ApprovalRequest,
        item["data"],
        state=RequestState(item["state"]),
        consumed_by=item.get("consumed_by"),
        decisions=[codec.loads(ApprovalDecision, d) for d in item.get("decisions", [])],
    )


# --- the audit trail ---------------------------------------------------------------------
def audit_item(row: dict[str, Any]) -> Item:
    """The event as ``rules.audit_event`` checked it (details as JSON text)."""
    return {
        **codec.audit_key(row["seq"]),
        "seq": row["seq"],
        "env": row["env"],
        "at": rules.utc(row["at"]).isoformat(),
        "actor": row["actor"],
        "action": row["action"],
        "digest": row["digest"],
        "reason": row["reason"],
        "details": row["details"],
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
        "key_id": row["key_id"],
    }


def audit_event(item: Item) -> AuditEvent:
    """Exactly as stored: an edited item reaches ``audit.verify`` unchanged."""
    return AuditEvent(
        seq=int(item["seq"]),
        at=datetime.fromisoformat(item["at"]),
        actor=item["actor"],
        action=item["action"],
        env=item.get("env"),
        digest=item.get("digest"),
        reason=item["reason"],
        details=rules.audit_details(item["details"]),
        prev_hash=item["prev_hash"],
        hash=item["hash"],
        key_id=item.get("key_id"),
    )


def head_item(event: AuditEvent) -> Item:
    return {**codec.head_key(), "seq": event.seq, "hash": event.hash}
