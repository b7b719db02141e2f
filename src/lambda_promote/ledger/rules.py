"""The ledger's rules that do not depend on storage: how ids and digests are looked up by
prefix, which deployment fields a transition may change, which moves an approval request may
make, what an audit event must look like to be stored, how JSON and times are stored, and
the errors a reader sees. ``sql.SqlLedger`` and the in-memory fake of the tests both apply
these, so the fake fails exactly where the real ledger does.

No SQLAlchemy here: this module is imported by the unit tests' fake.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from lambda_promote.errors import EnvironmentLocked, GateBlocked, LedgerError, UsageError
from lambda_promote.ledger.base import LockInfo
from lambda_promote.model import (
    ApprovalDecision,
    ApprovalRequest,
    AuditEvent,
    DeploymentState,
    RequestState,
)

MIN_PREFIX = 4
# How many candidates an ambiguity error lists; enough to see the pattern, short to read.
SHOWN_CANDIDATES = 10
TRANSITION_FIELDS = frozenset(
    {
        "version",
        "previous_version",
        "previous_digest",
        "error",
        "reason",
        "rollback",
        "functions",
        "traffic",
    }
)


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC. A naive datetime is refused: it could be local time or UTC, and a
    wrong guess reorders history."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"the ledger stores timezone-aware datetimes only, got {moment!r}")
    return moment.astimezone(UTC)


def dump_json(value: Any, *, what: str) -> str | None:
    """JSON text for a column; ``None`` stays SQL NULL."""
    if value is None:
        return None
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise LedgerError(
            f"cannot record {what}: it is not plain JSON ({error})",
            hint="pass only dicts, lists, strings, numbers, booleans and None",
        ) from error


def load_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def transition_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The columns a transition may update; anything else is a programming error."""
    unknown = sorted(set(fields) - TRANSITION_FIELDS)
    if unknown:
        raise TypeError(
            f"transition() got unknown field(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(TRANSITION_FIELDS))}"
        )
    changes = dict(fields)
    for text in ("error", "reason"):  # NOT NULL columns: "no error" is the empty string
        if text in changes and changes[text] is None:
            changes[text] = ""
    return changes


def usable_prefix(key: str) -> bool:
    """Whether ``key`` may name something by prefix; a shorter key names only itself (it
    could be a whole short id, and a prefix that short names too much to be useful)."""
    return len(key) >= MIN_PREFIX


def pick_unique(key: str, candidates: Sequence[str], *, noun: str) -> str | None:
    """The one candidate a prefix names; ``UsageError`` listing them when there are several."""
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    shown = sorted(candidates)[:SHOWN_CANDIDATES]
    more = "" if len(candidates) <= SHOWN_CANDIDATES else ", …"
    raise UsageError(
        f"{key!r} matches more than one {noun}: {', '.join(shown)}{more}",
        hint="give more characters",
        payload={"candidates": list(shown)},
    )


def unknown_deployment(deployment_id: str) -> LedgerError:
    return LedgerError(
        f"no deployment {deployment_id!r} in the ledger",
        hint="`lambda-promote history` lists the recorded deployments",
    )


def duplicate_deployment(deployment_id: str) -> LedgerError:
    return LedgerError(
        f"a deployment with id {deployment_id!r} is already recorded",
        hint="deployment ids are unique; this is a bug in whatever chose the id",
    )


def terminal_refusal(
    deployment_id: str, current: DeploymentState, wanted: DeploymentState
) -> LedgerError:
    return LedgerError(
        f"deployment {deployment_id} already ended as {current.value}; "
        f"it cannot move to {wanted.value}",
        hint="start a new deployment (or a rollback) instead of reusing a finished one",
    )


def locked(info: LockInfo) -> EnvironmentLocked:
    since = info.since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return EnvironmentLocked(
        f"{info.env} is locked by {info.holder} for deployment {info.deployment_id} since {since}",
        hint=(
            "wait for that deployment to finish; if its process is gone (the lock is stale), "
            f"run `lambda-promote unlock {info.env} --id {info.deployment_id}`"
        ),
        payload={"lock": lock_json(info)},
    )


def no_such_lock(env: str, deployment_id: str, current: LockInfo | None) -> UsageError:
    if current is None:
        return UsageError(
            f"{env} is not locked", hint="nothing to unlock; the lock was already released"
        )
    return UsageError(
        f"{env} is locked by deployment {current.deployment_id}, not {deployment_id}",
        hint=f"to break it, run `lambda-promote unlock {env} --id {current.deployment_id}`",
        payload={"lock": lock_json(current)},
    )


def lock_json(info: LockInfo) -> dict[str, str]:
    return {
        "env": info.env,
        "holder": info.holder,
        "deployment_id": info.deployment_id,
        "since": info.since.isoformat(),
    }


def now_utc() -> datetime:
    return datetime.now(UTC)


# --- approval requests ----------------------------------------------------------------------
def evidence_json(evidence: Any, *, request_id: str) -> str:
    """The evidence column: a JSON object, never NULL."""
    if not isinstance(evidence, dict):
        raise LedgerError(
            f"cannot record the evidence of request {request_id}: it must be a JSON object, "
            f"not {type(evidence).__name__}",
            hint="pass a dict of plain JSON values",
        )
    return dump_json(evidence, what=f"the evidence of request {request_id}") or "{}"


def unknown_request(request_id: str) -> LedgerError:
    return LedgerError(
        f"no approval request {request_id!r} in the ledger",
        hint="`lambda-promote status` lists pending approvals",
    )


def duplicate_request(request_id: str) -> LedgerError:
    return LedgerError(
        f"an approval request with id {request_id!r} is already recorded",
        hint="request ids are unique; this is a bug in whatever chose the id",
    )


def already_decided(reviewer: str, request_id: str) -> UsageError:
    return UsageError(
        f"{reviewer} already decided on request {request_id}",
        hint="each reviewer decides once on a request; another reviewer may still decide",
    )


def distinct_decisions(request: ApprovalRequest) -> list[ApprovalDecision]:
    """The decisions a new request carries, refused when one reviewer appears twice."""
    seen: set[str] = set()
    for decision in request.decisions:
        if decision.reviewer in seen:
            raise already_decided(decision.reviewer, request.id)
        seen.add(decision.reviewer)
    return list(request.decisions)


def closed_request(request_id: str, state: RequestState) -> LedgerError:
    return LedgerError(
        f"request {request_id} is {RequestState(state).value}; it takes no more decisions",
        hint="open a new one with `lambda-promote request-approval ENV --artifact DIGEST`",
    )


def request_move(request_id: str, state: RequestState, consumed_by: str | None) -> RequestState:
    """The wanted state, checked before touching storage: only ``rejected`` and ``consumed``
    (naming its deployment) can follow ``open``, and nothing else can be set."""
    wanted = RequestState(state)
    if wanted is RequestState.OPEN:
        raise LedgerError(
            f"request {request_id} cannot be reopened",
            hint="open a new request instead of reusing a decided one",
        )
    if (wanted is RequestState.CONSUMED) != (consumed_by is not None):
        raise LedgerError(
            f"request {request_id}: consumed_by names the deployment that consumes a request, "
            f"and only that (got state {wanted.value}, consumed_by {consumed_by!r})",
            hint="this is a bug in the caller of set_request_state",
        )
    return wanted


def refused_move(
    request_id: str, current: RequestState, wanted: RequestState, *, consumed_by: str | None
) -> LedgerError | GateBlocked:
    """Why ``open → wanted`` did not happen: the request had already left ``open``
    (``consumed_by`` is the deployment it admitted, if any)."""
    if current is RequestState.CONSUMED and wanted is RequestState.CONSUMED:
        return GateBlocked(
            f"request {request_id} was already consumed by deployment {consumed_by}",
            hint="an approval admits one deployment; request a new one with "
            "`lambda-promote request-approval ENV --artifact DIGEST`",
            code="approval_consumed",
            payload={"approval_request": {"id": request_id, "consumed_by": consumed_by}},
        )
    return LedgerError(
        f"request {request_id} is {current.value}; it cannot become {wanted.value}",
        hint="only an open request can be rejected or consumed",
    )


# --- the audit trail ------------------------------------------------------------------------
def audit_event(event: AuditEvent, last: AuditEvent | None) -> dict[str, Any]:
    """The row for ``event``, refused unless it is stored exactly as it was hashed: the next
    seq after ``last``, a UTC time (``at.isoformat()`` is hashed, and the ledger reads times
    back in UTC) and JSON details."""
    expected = 1 if last is None else last.seq + 1
    if event.seq != expected:
        raise LedgerError(
            f"audit event {event.seq} ({event.action}) does not follow the last event "
            f"({expected - 1}); the next one is {expected}",
            hint="build the event with lambda_promote.audit.chain from the last one",
        )
    if event.at.tzinfo is None or event.at.utcoffset() != timedelta(0):
        raise ValueError(f"audit events are stored with UTC times only, got {event.at!r}")
    _audit_texts(event)
    if not isinstance(event.details, dict):
        raise LedgerError(
            f"cannot record audit event {event.seq}: its details must be a JSON object, "
            f"not {type(event.details).__name__}",
            hint="build the event with lambda_promote.audit.chain",
        )
    return {
        "seq": event.seq,
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "env": event.env,
        "digest": event.digest,
        "reason": event.reason,
        "details": dump_json(event.details, what=f"the details of audit event {event.seq}"),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "key_id": event.key_id,
    }


def _audit_texts(event: AuditEvent) -> None:
    """Text fields are text (env and digest may be None), so both ledgers refuse alike."""
    wrong = [
        name
        for name in ("actor", "action", "reason", "prev_hash", "hash", "env", "digest", "key_id")
        if not isinstance(getattr(event, name), str)
        and not (name in ("env", "digest", "key_id") and getattr(event, name) is None)
    ]
    if wrong:
        raise LedgerError(
            f"cannot record audit event {event.seq}: {', '.join(wrong)} must be text",
            hint="build the event with lambda_promote.audit.chain",
        )


def audit_details(text: str) -> Any:
    """Details as stored. Text that is not JSON (edited by hand) comes back as the text
    itself, never repaired, so ``audit.verify`` names the event instead of the reader failing."""
    try:
        return json.loads(text)
    except ValueError:
        return text
