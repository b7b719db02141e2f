"""DESIGN §5.7: every kind of tampering with the audit trail is detected and located."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from lambda_promote.audit import chain, event_hash, verify
from lambda_promote.model import AuditEvent

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def trail(n: int = 5, key: bytes | None = None) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    for i in range(n):
        events.append(
            chain(
                events[-1] if events else None,
                at=T0 + timedelta(minutes=i),
                actor="alice",
                action=f"step-{i + 1}",
                env="staging",
                digest="a" * 64,
                details={"i": i},
                key=key,
            )
        )
    return events


def test_an_intact_chain_verifies() -> None:
    events = trail()
    result = verify(events, key=None, head=events[-1].hash)
    assert result.ok
    assert result.count == 5
    assert result.head == events[-1].hash


@pytest.mark.parametrize(
    ("tamper", "first_bad"),
    [
        (lambda e: [*e[:2], replace(e[2], actor="mallory"), *e[3:]], 3),
        (lambda e: [*e[:2], replace(e[2], details={"i": 99}), *e[3:]], 3),
        (lambda e: [*e[:1], *e[2:]], 3),  # deletion of event 2
        (lambda e: [e[0], e[2], e[1], *e[3:]], 3),  # reordering: 3 stands where 2 belongs
        (lambda e: [*e[:2], replace(e[1], seq=3), *[replace(x, seq=x.seq + 1) for x in e[2:]]], 3),
    ],
    ids=["edited-actor", "edited-details", "deleted", "reordered", "inserted"],
)
def test_tampering_is_found_and_located(tamper, first_bad: int) -> None:
    result = verify(tamper(trail()), key=None)
    assert not result.ok
    assert result.first_bad == first_bad


def test_rehashing_an_edit_without_the_key_is_caught() -> None:
    key = b"secret"
    events = trail(key=key)
    forged = replace(events[1], actor="mallory")
    forged = chain(
        events[0],
        at=forged.at,
        actor="mallory",
        action=forged.action,
        env=forged.env,
        digest=forged.digest,
        details=forged.details,
    )  # no key
    result = verify([events[0], forged, *events[2:]], key=key)
    assert not result.ok
    assert result.first_bad == 2


def test_a_truncated_tail_is_caught_against_the_recorded_head() -> None:
    events = trail()
    assert verify(events[:3], key=None).ok  # looks fine on its own …
    result = verify(events[:3], key=None, head=events[-1].hash)  # … but not against the head
    assert not result.ok
    assert "removed from the end" in result.problem


def test_an_older_head_is_still_in_the_chain() -> None:
    events = trail()
    assert verify(events, key=None, head=events[2].hash).ok


def continued(events: list[AuditEvent], n: int, key: bytes | None) -> list[AuditEvent]:
    out = list(events)
    for i in range(n):
        out.append(chain(out[-1], at=T0 + timedelta(hours=1, minutes=i), actor="bob",
                         action=f"later-{i + 1}", key=key))  # fmt: skip
    return out


def test_turning_the_key_on_keeps_the_older_unkeyed_events_verifying() -> None:
    events = continued(trail(3), 2, b"new")
    result = verify(events, key=b"new")
    assert result.ok, result.problem
    assert [(s.first, s.last, s.key_id is None) for s in result.spans] == [
        (1, 3, True),
        (4, 5, False),
    ]


def test_a_rotated_key_is_named_not_called_a_modification() -> None:
    from lambda_promote.audit import Keyring, key_id

    events = continued(trail(3, key=b"old"), 2, b"new")
    result = verify(events, key=b"new")
    assert result.first_bad == 1
    assert f"signed with key id {key_id(b'old')}" in result.problem
    assert "modified after" not in result.problem
    assert verify(events, keyring=Keyring(b"new", (b"old",))).ok
    # … but the old key signing after the new one took over is refused
    late = continued(events, 1, b"old")
    assert verify(late, keyring=Keyring(b"new", (b"old",))).first_bad == 6


def test_old_events_without_a_key_id_still_verify_with_their_key() -> None:
    events = [replace(e, key_id=None) for e in trail(3, key=b"k")]
    rehashed: list[AuditEvent] = []
    for event in events:  # as an older lambda-promote hashed them: no key id in the JSON
        old = replace(event, prev_hash=rehashed[-1].hash if rehashed else event.prev_hash)
        rehashed.append(replace(old, hash=event_hash(old, b"k")))
    assert verify(rehashed, key=b"k").ok


def test_a_head_is_accepted_as_reports_and_verify_print_it() -> None:
    events = trail()
    last = events[-1]
    assert verify(events, head=f"#{last.seq} {last.hash}").ok
    assert verify(events, head=f"{last.hash[:16]}…").ok
    assert not verify(events, head=f"#{last.seq - 1} {last.hash}").ok
