"""The tamper-evident audit trail (DESIGN §5.7) as pure functions.

Each event's hash covers the previous event's hash and the event's canonical JSON; with
``LAMBDA_PROMOTE_AUDIT_KEY`` set it is an HMAC, so someone with write access to the ledger but
not the key cannot forge a consistent chain. ``verify`` walks the chain and names the first
event that does not fit: an edit breaks its hash, a deletion, insertion or reordering breaks the
sequence or the link to the previous hash; a report's recorded head catches a cut-off tail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from lambda_promote.model import AuditEvent

GENESIS = "0" * 64


def canonical(event: AuditEvent) -> bytes:
    body: dict[str, Any] = {
        "seq": event.seq,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "env": event.env,
        "digest": event.digest,
        "reason": event.reason,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def event_hash(event: AuditEvent, key: bytes | None) -> str:
    data = event.prev_hash.encode() + b"\n" + canonical(event)
    if key:
        return hmac.new(key, data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


def chain(
    previous: AuditEvent | None,
    *,
    at: datetime,
    actor: str,
    action: str,
    env: str | None = None,
    digest: str | None = None,
    reason: str = "",
    details: dict[str, Any] | None = None,
    key: bytes | None = None,
) -> AuditEvent:
    """The next event after ``previous`` (None for the first), hashed."""
    event = AuditEvent(
        seq=(previous.seq + 1) if previous else 1,
        at=at,
        actor=actor,
        action=action,
        env=env,
        digest=digest,
        reason=reason,
        details=json.loads(json.dumps(details or {}, default=str)),
        prev_hash=previous.hash if previous else GENESIS,
    )
    return replace(event, hash=event_hash(event, key))


@dataclass(frozen=True)
class Verification:
    ok: bool
    count: int
    head: str
    first_bad: int | None = None  # seq of the first event that does not fit
    problem: str = ""


def verify(
    events: Sequence[AuditEvent], *, key: bytes | None, head: str | None = None
) -> Verification:
    """Check ``events`` (in stored order) link up; with ``head``, also that it is in the chain."""
    prev_hash, expected_seq = GENESIS, 1
    for event in events:
        bad = _first_problem(event, prev_hash, expected_seq, key)
        if bad:
            return Verification(False, len(events), prev_hash, event.seq, bad)
        prev_hash, expected_seq = event.hash, event.seq + 1
    if head is not None and head != prev_hash and head not in {e.hash for e in events}:
        return Verification(
            False,
            len(events),
            prev_hash,
            expected_seq,
            f"the chain does not contain the recorded head {head[:16]}…: events were removed "
            f"from the end (the trail stops at event {expected_seq - 1})",
        )
    return Verification(True, len(events), prev_hash)


def _first_problem(event: AuditEvent, prev_hash: str, expected_seq: int, key: bytes | None) -> str:
    if event.seq != expected_seq:
        kind = "missing (deleted)" if event.seq > expected_seq else "out of order or inserted"
        return f"event {event.seq} found where event {expected_seq} belongs: events {kind}"
    if event.prev_hash != prev_hash:
        return f"event {event.seq} does not link to the event before it (inserted or reordered)"
    if event_hash(event, key) != event.hash:
        return f"event {event.seq} ({event.action}) was modified after it was written"
    return ""
