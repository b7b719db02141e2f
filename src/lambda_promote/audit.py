"""The tamper-evident audit trail (DESIGN §5.7) as pure functions.

Each event's hash covers the previous event's hash and the event's canonical JSON; with
``LAMBDA_PROMOTE_AUDIT_KEY`` set it is an HMAC, so someone with write access to the ledger but
not the key cannot forge a consistent chain. ``verify`` walks the chain and names the first
event that does not fit: an edit breaks its hash, a deletion, insertion or reordering breaks the
sequence or the link to the previous hash; a report's recorded head catches a cut-off tail.

A keyed event records the **key id** of its key (a non-secret fingerprint, never the key) and
hashes it, so a verifier can tell "this event was signed with another key" (a rotation, a job
run without the key) from "this event was modified". Events written before key ids existed
carry none and hash exactly as they always did. Without a key an event is a plain sha256:
anyone can compute it, so it is *unauthenticated*. Unkeyed events before the first keyed one
are a ledger from before the key was turned on: the first keyed event's HMAC covers their
hashes, so they verify (and are reported as unkeyed). Unkeyed events *after* keyed ones are
what a forger without the key would write, so ``verify`` refuses them until a key holder
accepts them with a keyed ``audit.unkeyed_accepted`` event naming them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from lambda_promote.errors import UsageError
from lambda_promote.model import AuditEvent

GENESIS = "0" * 64
_KEY_ID_LABEL = b"lambda-promote key id"
_HEAD_RE = re.compile(r"^(?:#(?P<seq>\d+)\s+)?(?P<hash>[0-9a-f]{16,128})…?$")


def key_id(key: bytes) -> str:
    """A short, non-secret fingerprint of ``key``: names the key without revealing it."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    """The key this run signs with and the earlier keys it may still verify with."""

    current: bytes | None = None
    previous: tuple[bytes, ...] = ()

    @property
    def current_id(self) -> str | None:
        return key_id(self.current) if self.current else None

    @property
    def keys(self) -> tuple[bytes, ...]:
        return ((self.current,) if self.current else ()) + self.previous

    def find(self, wanted: str) -> bytes | None:
        return next((k for k in self.keys if key_id(k) == wanted), None)


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
    if event.key_id is not None:  # absent from older events, which must hash as they did
        body["key_id"] = event.key_id
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
        key_id=key_id(key) if key else None,
    )
    return replace(event, hash=event_hash(event, key))


# --- who signed an event ---------------------------------------------------------------------
UNKEYED = "unkeyed"


def signer(event: AuditEvent, keyring: Keyring) -> str | None:
    """The key id whose HMAC ``event.hash`` is, ``UNKEYED`` for a plain sha256, or None when
    no key at hand reproduces it (modified, or signed with a key this run does not have)."""
    if event.key_id is not None:
        key = keyring.find(event.key_id)
        return event.key_id if key and event_hash(event, key) == event.hash else None
    if event_hash(event, None) == event.hash:
        return UNKEYED
    # Written before key ids existed: try every key.
    return next((key_id(k) for k in keyring.keys if event_hash(event, k) == event.hash), None)


def authenticated(event: AuditEvent, keyring: Keyring) -> bool:
    """Signed with one of ``keyring``'s keys: only a key holder could have written it."""
    found = signer(event, keyring)
    return found is not None and found != UNKEYED


def head_state(event: AuditEvent | None, keyring: Keyring) -> str | None:
    """How the chain's newest event was written, as a key id or ``UNKEYED``; None for an
    empty trail or a head no key at hand reproduces (told apart by the caller)."""
    if event is None:
        return None
    return event.key_id or signer(event, keyring)


def key_change_warning(previous: AuditEvent | None, keyring: Keyring) -> str:
    """Said loudly when this run writes with another key state than the chain's head: the
    trail then mixes keys, and an unkeyed event after keyed ones proves nothing."""
    if previous is None:
        return ""
    before = head_state(previous, keyring)
    now = keyring.current_id or UNKEYED
    if before == now:
        return ""
    was = "without a key" if before == UNKEYED else f"with key id {before or 'unknown'}"
    this = "WITHOUT a key" if now == UNKEYED else f"with key id {now}"
    return (
        f"the audit trail's last event #{previous.seq} was written {was}; this run writes "
        f"{this}. Every job must share LAMBDA_PROMOTE_AUDIT_KEY; `audit --verify` flags unkeyed "
        "events after keyed ones (see docs/operations.md, 'The audit key')"
    )


# --- verifying the chain ---------------------------------------------------------------------
@dataclass(frozen=True)
class KeySpan:
    """Consecutive events written the same way: ``key_id`` None means without a key."""

    first: int
    last: int
    key_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {"from": self.first, "to": self.last, "key_id": self.key_id}


@dataclass(frozen=True)
class Verification:
    ok: bool
    count: int
    head: str
    first_bad: int | None = None  # seq of the first event that does not fit
    problem: str = ""
    spans: tuple[KeySpan, ...] = ()
    # Unkeyed events after keyed ones (a job without the key) that a key holder accepted:
    # fixed in place by later keyed events, but nobody can say who wrote them; the gate never
    # relies on them.
    unauthenticated: tuple[tuple[int, int], ...] = ()
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Head:
    """A chain head as reports print it (``#32 9f2c…``) or as a bare hash (or its prefix)."""

    hash: str
    seq: int | None = None

    def matches(self, event: AuditEvent) -> bool:
        seq_ok = self.seq is None or self.seq == event.seq
        return seq_ok and event.hash.startswith(self.hash)


def parse_head(text: str) -> Head:
    found = _HEAD_RE.match(text.strip().lower())
    if found is None:
        raise UsageError(
            f"--head {text!r} is not an audit chain head",
            hint="give it as a report prints it ('#32 9f2c…', the full hash) or as "
            "`audit --verify` prints it (at least 16 hex characters)",
        )
    seq = found.group("seq")
    return Head(found.group("hash"), int(seq) if seq else None)


def verify(
    events: Sequence[AuditEvent],
    *,
    key: bytes | None = None,
    head: str | None = None,
    keyring: Keyring | None = None,
) -> Verification:
    """Check ``events`` (in stored order) link up and each hash is what its key state says;
    with ``head``, also that it is in the chain."""
    walk = _Walk(keyring or Keyring(key))
    for event in events:
        bad = walk.step(event)
        if bad:
            first_bad, problem = bad
            return Verification(False, len(events), walk.prev_hash, first_bad, problem)
    tail = walk.finish()
    if tail:
        return Verification(False, len(events), walk.prev_hash, tail[0], tail[1])
    spans, unauth = tuple(walk.spans), walk.accepted_spans
    if head is not None:
        wanted = parse_head(head)
        if not any(wanted.matches(e) for e in events):
            return Verification(
                False,
                len(events),
                walk.prev_hash,
                walk.expected_seq,
                f"the chain does not contain the recorded head {wanted.hash[:16]}…: events were "
                f"removed from the end (the trail stops at event {walk.expected_seq - 1})",
                spans,
                unauth,
            )
    return Verification(
        True, len(events), walk.prev_hash, spans=spans, unauthenticated=unauth,
        notes=_notes(spans, unauth, walk.keyring),
    )  # fmt: skip


ACCEPT_UNKEYED = "audit.unkeyed_accepted"


class _Walk:
    """The state of one pass over the chain, event by event."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.prev_hash, self.expected_seq = GENESIS, 1
        self.seen_keyed = False
        self.current_from: int | None = None  # first event signed with the current key
        self.pending_unkeyed: int | None = None  # unkeyed after keyed, not anchored yet
        self.spans: list[KeySpan] = []
        self.unkeyed: list[tuple[int, int, str]] = []  # (first, last, hash of last), anchored
        self.accepted: list[tuple[int, int, str]] = []  # what key holders accepted

    def step(self, event: AuditEvent) -> tuple[int, str] | None:
        problem = _link_problem(event, self.prev_hash, self.expected_seq)
        if problem:
            return self._unanchored(problem) or (event.seq, problem)
        signed = signer(event, self.keyring)
        if signed is None:
            problem = _sign_problem(event, self.keyring)
            return self._unanchored(problem) or (event.seq, problem)
        if signed == UNKEYED:
            if self.seen_keyed and self.pending_unkeyed is None:
                self.pending_unkeyed = event.seq
        else:
            problem = self._keyed(event, signed)
            if problem:
                return event.seq, problem
        self._span(event.seq, None if signed == UNKEYED else signed)
        self.prev_hash, self.expected_seq = event.hash, event.seq + 1
        return None

    def _keyed(self, event: AuditEvent, signed: str) -> str:
        current = self.keyring.current_id
        if self.current_from is not None and signed != current:
            return (
                f"event {event.seq} ({event.action}) is signed with the previous key id "
                f"{signed}, after event {self.current_from} was signed with this run's key "
                f"{current}: a job still uses the old key, or the old key signed it after "
                "the rotation"
            )
        if signed == current and self.current_from is None:
            self.current_from = event.seq
        if self.pending_unkeyed is not None:  # this keyed event fixes them in place
            self.unkeyed.append((self.pending_unkeyed, event.seq - 1, self.prev_hash))
            self.pending_unkeyed = None
        if event.action == ACCEPT_UNKEYED:
            d = event.details if isinstance(event.details, dict) else {}
            self.accepted.append((int(d.get("from", 0)), int(d.get("to", 0)), str(d.get("head"))))
        self.seen_keyed = True
        return ""

    def _span(self, seq: int, signed: str | None) -> None:
        last = self.spans[-1] if self.spans else None
        if last is not None and last.key_id == signed and last.last == seq - 1:
            self.spans[-1] = replace(last, last=seq)
        else:
            self.spans.append(KeySpan(seq, seq, signed))

    def _unanchored(self, then: str) -> tuple[int, str] | None:
        """A break right after unkeyed events that followed keyed ones: those events are
        where the trouble starts (a forger appends unkeyed events), so name the first."""
        if self.pending_unkeyed is None:
            return None
        start = self.pending_unkeyed
        return start, f"{_unkeyed_problem(start, self.expected_seq - 1)}; then {then}"

    def finish(self) -> tuple[int, str] | None:
        """The first run of unkeyed events after keyed ones that no key holder accepted."""
        if self.pending_unkeyed is not None:
            self.unkeyed.append((self.pending_unkeyed, self.expected_seq - 1, self.prev_hash))
        for first, last, last_hash in self.unkeyed:
            if not any(a <= first and last <= b and h == last_hash for a, b, h in self.accepted):
                return first, (
                    f"{_unkeyed_problem(first, last)}. If you know why, a key holder accepts "
                    f"them: `lambda-promote audit --accept-unkeyed {first}-{last} --reason …` "
                    "(they stay listed as unauthenticated; the gate never relies on them)"
                )
        return None

    @property
    def accepted_spans(self) -> tuple[tuple[int, int], ...]:
        return tuple((first, last) for first, last, _ in self.unkeyed)


def _unkeyed_problem(first: int, last: int) -> str:
    which = f"event {first} was" if first == last else f"events {first}–{last} were"
    return (
        f"{which} written without the audit key after keyed events (a job ran without "
        "LAMBDA_PROMOTE_AUDIT_KEY, or someone appended or rewrote them)"
    )


def first_break(events: Sequence[AuditEvent]) -> tuple[int, str] | None:
    """The first event that does not link to the one before (seq, problem), hashes unchecked:
    cheap enough for the gate, which then checks the HMAC of only the events it relies on."""
    prev_hash, expected_seq = GENESIS, 1
    for event in events:
        problem = _link_problem(event, prev_hash, expected_seq)
        if problem:
            return event.seq, problem
        prev_hash, expected_seq = event.hash, event.seq + 1
    return None


def _link_problem(event: AuditEvent, prev_hash: str, expected_seq: int) -> str:
    if event.seq != expected_seq:
        kind = "missing (deleted)" if event.seq > expected_seq else "out of order or inserted"
        return f"event {event.seq} found where event {expected_seq} belongs: events {kind}"
    if event.prev_hash != prev_hash:
        return f"event {event.seq} does not link to the event before it (inserted or reordered)"
    return ""


def _sign_problem(event: AuditEvent, keyring: Keyring) -> str:
    this = (
        f"this run's key has id {keyring.current_id}" if keyring.current else "this run has no key"
    )
    if event.key_id is not None and keyring.find(event.key_id) is None:
        return (
            f"event {event.seq} ({event.action}) is signed with key id {event.key_id}, and {this}: "
            "it cannot be checked (modified, or the key changed). Give the key it was signed "
            "with in LAMBDA_PROMOTE_AUDIT_KEY, or in LAMBDA_PROMOTE_AUDIT_KEY_PREVIOUS after a "
            "rotation"
        )
    if not keyring.keys:
        return (
            f"event {event.seq} ({event.action}) was modified after it was written, or was "
            "signed with an audit key and this run has none (set LAMBDA_PROMOTE_AUDIT_KEY)"
        )
    return f"event {event.seq} ({event.action}) was modified after it was written"


def _notes(
    spans: tuple[KeySpan, ...], unauth: tuple[tuple[int, int], ...], keyring: Keyring
) -> tuple[str, ...]:
    """What a person should know about an intact chain that mixes key states."""
    if len({s.key_id for s in spans}) <= 1 and not unauth:
        return ()
    notes = [
        f"events {s.first}–{s.last}: "
        + ("written without a key" if s.key_id is None else f"signed with key id {s.key_id}")
        + (" (this run's key)" if s.key_id and s.key_id == keyring.current_id else "")
        for s in spans
    ]
    notes += [
        f"events {a}–{b} were written without the key after keyed events and accepted: not "
        "authenticated; the gate does not rely on them"
        for a, b in unauth
    ]
    return tuple(notes)
