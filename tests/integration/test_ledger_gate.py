"""The ledger contract for approval requests and the audit trail (ledger/base.py), run against
the in-memory fake, a SQLite file and PostgreSQL: what request-approval, approve/reject, the
deploy-time gate and `audit --verify` rely on (DESIGN §5.2–5.3, §5.7)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from lambda_promote import audit
from lambda_promote.errors import GateBlocked, LedgerError, UsageError
from lambda_promote.ledger.base import Ledger
from lambda_promote.model import ApprovalDecision, ApprovalRequest, AuditEvent
from lambda_promote.model import RequestState as R
from ledger_fixtures import ALL_KINDS, OpenLedger, ledger_opener

DIGEST_A = "abcd" + "1" * 60
DIGEST_B = "ef01" + "2" * 60
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
KEY = b"audit-key"


def request(req_id: str, *, env: str = "production", digest: str = DIGEST_A, **fields: object):
    values: dict[str, object] = {
        "requested_by": "carol",
        "requested_at": T0,
        "expires_at": T0 + timedelta(hours=72),
        **fields,
    }
    return ApprovalRequest(id=req_id, env=env, digest=digest, **values)  # type: ignore[arg-type]


def decision(reviewer: str, *, approve: bool = True, minutes: int = 1, **fields: object):
    return ApprovalDecision(
        reviewer=reviewer,
        approve=approve,
        at=T0 + timedelta(minutes=minutes),
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture(params=ALL_KINDS)
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenLedger]:
    """Opens the ledger under test: every test here runs against each kind."""
    with ledger_opener(request.param, tmp_path) as (_url, open_):
        yield open_


def race(count: int, attempt: Callable[[int], str]) -> list[str]:
    """Run ``attempt(n)`` in ``count`` threads released together; their answers."""
    barrier = threading.Barrier(count)
    answers: list[str] = [""] * count

    def run(number: int) -> None:
        barrier.wait()
        answers[number] = attempt(number)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


# --- requests -------------------------------------------------------------------------------
def test_a_request_keeps_its_evidence_decisions_and_times_in_utc(make_ledger: OpenLedger):
    ledger = make_ledger()
    plus_two = timezone(timedelta(hours=2))
    evidence = {
        "live_version": "6",
        "commits": ["a1 fix", "b2 feat"],
        "source": {"env": "staging", "checks": [{"name": "ping", "ok": True, "ms": 12.5}]},
    }
    given = request(
        "r-1a2b3c4d",
        requested_at=T0.astimezone(plus_two),
        built_by="alice",
        branch="main",
        evidence=evidence,
        decisions=[decision("bob", comment="looks good", source="github")],
    )
    created = ledger.create_request(given)

    stored = ledger.get_request("r-1a2b3c4d")
    assert stored == created
    assert stored is not None
    assert (stored.env, stored.digest, stored.state) == ("production", DIGEST_A, R.OPEN)
    assert (stored.requested_by, stored.built_by, stored.branch) == ("carol", "alice", "main")
    assert stored.evidence == evidence
    assert stored.requested_at == T0
    assert stored.requested_at.utcoffset() == timedelta(0)
    assert stored.expires_at == T0 + timedelta(hours=72)
    assert stored.decisions == [decision("bob", comment="looks good", source="github")]
    assert stored.consumed_by is None


def test_a_request_id_is_recorded_once(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_request(request("r-1"))
    with pytest.raises(LedgerError, match="already recorded"):
        ledger.create_request(request("r-1", env="staging"))
    assert ledger.get_request("r-1").env == "production"  # type: ignore[union-attr]


def test_a_new_request_naming_one_reviewer_twice_is_refused(make_ledger: OpenLedger):
    ledger = make_ledger()
    with pytest.raises(UsageError, match="bob already decided on request r-1"):
        ledger.create_request(request("r-1", decisions=[decision("bob"), decision("bob")]))
    assert ledger.get_request("r-1") is None


@pytest.mark.parametrize("evidence", [["not", "an", "object"], {"when": T0}, {"x": {1, 2}}])
def test_evidence_must_be_a_json_object(make_ledger: OpenLedger, evidence: object):
    ledger = make_ledger()
    with pytest.raises(LedgerError, match="evidence of request r-1"):
        ledger.create_request(request("r-1", evidence=evidence))
    assert ledger.get_request("r-1") is None


def test_naive_request_times_are_refused_rather_than_guessed(make_ledger: OpenLedger):
    ledger = make_ledger()
    with pytest.raises(ValueError, match="timezone-aware"):
        ledger.create_request(request("r-1", expires_at=datetime(2024, 5, 4, 12, 0)))
    ledger.create_request(request("r-2"))
    with pytest.raises(ValueError, match="timezone-aware"):
        ledger.add_decision("r-2", ApprovalDecision("bob", True, datetime(2024, 5, 1, 13, 0)))
    assert ledger.get_request("r-1") is None
    assert ledger.get_request("r-2").decisions == []  # type: ignore[union-attr]


def test_a_request_is_found_by_a_unique_prefix_and_only_so(make_ledger: OpenLedger):
    ledger = make_ledger()
    for req_id in ("r-1a2b0000", "r-1a2c0000", "r-9"):
        ledger.create_request(request(req_id))

    assert ledger.get_request("r-1a2c").id == "r-1a2c0000"  # type: ignore[union-attr]
    with pytest.raises(UsageError) as refused:
        ledger.get_request("r-1a2")
    assert "r-1a2b0000" in refused.value.message
    assert "r-1a2c0000" in refused.value.message
    assert ledger.get_request("r-9").id == "r-9"  # type: ignore[union-attr]
    assert ledger.get_request("r-") is None  # too short to be a prefix
    assert ledger.get_request("r_1a2c") is None  # _ is not a wildcard
    assert ledger.get_request("R-1A2C") is None
    assert ledger.get_request("r-404") is None


def test_requests_are_newest_first_and_stable_when_times_tie(make_ledger: OpenLedger):
    ledger = make_ledger()
    for number in range(1, 4):  # one instant: insertion order decides
        ledger.create_request(request(f"r-{number}"))
    ledger.create_request(request("r-old", requested_at=T0 - timedelta(days=1)))
    ledger.create_request(request("r-new", requested_at=T0 + timedelta(minutes=5)))

    assert [r.id for r in ledger.requests()] == ["r-new", "r-3", "r-2", "r-1", "r-old"]
    assert [r.id for r in ledger.requests(limit=2)] == ["r-new", "r-3"]
    assert len(ledger.requests(limit=None)) == 5


def test_requests_filter_by_env_digest_and_state(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_request(request("r-prod-a"))
    ledger.create_request(request("r-prod-b", digest=DIGEST_B))
    ledger.create_request(request("r-stage-a", env="staging"))
    ledger.create_request(request("r-used"))
    ledger.set_request_state("r-used", R.CONSUMED, consumed_by="d-1")

    assert {r.id for r in ledger.requests(env="production", digest=DIGEST_A)} == {
        "r-prod-a",
        "r-used",
    }
    assert [r.id for r in ledger.requests(digest=DIGEST_B)] == ["r-prod-b"]
    assert {r.id for r in ledger.requests(env="staging")} == {"r-stage-a"}
    open_ = ledger.requests(env="production", digest=DIGEST_A, states=[R.OPEN])
    assert [r.id for r in open_] == ["r-prod-a"]
    assert [r.id for r in ledger.requests(states=[R.CONSUMED])] == ["r-used"]
    assert ledger.requests(states=[]) == []
    assert ledger.requests(env="qa") == []


def test_decisions_come_back_in_the_order_they_were_made(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_request(request("r-1", decisions=[decision("zoe", minutes=9)]))
    ledger.create_request(request("r-2"))
    after_bob = ledger.add_decision("r-1", decision("bob", minutes=2, comment="ok"))
    ledger.add_decision("r-2", decision("dan", approve=False, comment="no tests"))
    ledger.add_decision("r-1", decision("amy", minutes=3, source="github"))

    assert [d.reviewer for d in after_bob.decisions] == ["zoe", "bob"]
    first = ledger.get_request("r-1")
    assert first is not None
    assert [(d.reviewer, d.source) for d in first.decisions] == [
        ("zoe", "builtin"),
        ("bob", "builtin"),
        ("amy", "github"),
    ]
    listed = {r.id: r.decisions for r in ledger.requests()}
    assert listed["r-1"] == first.decisions
    assert listed["r-2"] == [decision("dan", approve=False, comment="no tests")]


def test_a_web_decision_keeps_the_issuer_and_subject_that_proved_it(make_ledger: OpenLedger):
    """DESIGN §11.7: a decision made in ``serve`` is recorded via web, with issuer and subject;
    a CLI decision beside it keeps none (NULL), read back the same through every ledger."""
    ledger = make_ledger()
    ledger.create_request(request("r-1"))
    proven = decision("bob", source="web", issuer="https://id.example.com", subject="u-42")
    ledger.add_decision("r-1", proven)
    ledger.add_decision("r-1", decision("amy", minutes=2))
    found = ledger.get_request("r-1")
    assert found is not None
    assert [(d.reviewer, d.source, d.issuer, d.subject) for d in found.decisions] == [
        ("bob", "web", "https://id.example.com", "u-42"),
        ("amy", "builtin", None, None),
    ]
    assert ledger.requests()[0].decisions == found.decisions


def test_a_reviewer_decides_once_per_request(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_request(request("r-1"))
    ledger.create_request(request("r-2"))
    ledger.add_decision("r-1", decision("bob"))

    with pytest.raises(UsageError) as refused:
        ledger.add_decision("r-1", decision("bob", approve=False, minutes=5))
    assert refused.value.message == "bob already decided on request r-1"
    assert ledger.get_request("r-1").decisions == [decision("bob")]  # type: ignore[union-attr]
    ledger.add_decision("r-2", decision("bob"))


@pytest.mark.parametrize("end", [R.REJECTED, R.CONSUMED])
def test_a_decided_request_takes_no_more_decisions(make_ledger: OpenLedger, end: R):
    ledger = make_ledger()
    ledger.create_request(request("r-1"))
    consumed_by = "d-1" if end is R.CONSUMED else None
    ledger.set_request_state("r-1", end, consumed_by=consumed_by)

    with pytest.raises(LedgerError, match=f"request r-1 is {end.value}"):
        ledger.add_decision("r-1", decision("bob"))
    assert ledger.get_request("r-1").decisions == []  # type: ignore[union-attr]
    with pytest.raises(LedgerError, match="no approval request 'r-404'"):
        ledger.add_decision("r-404", decision("bob"))


def test_an_open_request_is_rejected_or_consumed_and_nothing_else(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_request(request("r-1"))
    ledger.create_request(request("r-2"))

    rejected = ledger.set_request_state("r-1", R.REJECTED)
    consumed = ledger.set_request_state("r-2", R.CONSUMED, consumed_by="d-7")

    assert (rejected.state, rejected.consumed_by) == (R.REJECTED, None)
    assert (consumed.state, consumed.consumed_by) == (R.CONSUMED, "d-7")
    assert ledger.get_request("r-2").consumed_by == "d-7"  # type: ignore[union-attr]
    with pytest.raises(LedgerError, match="r-1 is rejected; it cannot become consumed"):
        ledger.set_request_state("r-1", R.CONSUMED, consumed_by="d-8")
    with pytest.raises(LedgerError, match="r-2 is consumed; it cannot become rejected"):
        ledger.set_request_state("r-2", R.REJECTED)
    with pytest.raises(LedgerError, match="no approval request 'r-404'"):
        ledger.set_request_state("r-404", R.REJECTED)


def test_a_request_move_the_gate_never_makes_is_refused(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_request(request("r-1"))
    with pytest.raises(LedgerError, match="cannot be reopened"):
        ledger.set_request_state("r-1", R.OPEN)
    with pytest.raises(LedgerError, match="consumed_by"):
        ledger.set_request_state("r-1", R.CONSUMED)  # which deployment?
    with pytest.raises(LedgerError, match="consumed_by"):
        ledger.set_request_state("r-1", R.REJECTED, consumed_by="d-1")
    assert ledger.get_request("r-1").state is R.OPEN  # type: ignore[union-attr]


def test_a_consumed_approval_never_admits_a_second_deployment(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_request(request("r-1", decisions=[decision("bob")]))
    ledger.set_request_state("r-1", R.CONSUMED, consumed_by="d-first")

    with pytest.raises(GateBlocked) as blocked:
        ledger.set_request_state("r-1", R.CONSUMED, consumed_by="d-second")
    assert blocked.value.code == "approval_consumed"
    assert blocked.value.message == "request r-1 was already consumed by deployment d-first"
    assert "request-approval" in blocked.value.hint
    assert ledger.get_request("r-1").consumed_by == "d-first"  # type: ignore[union-attr]


def test_of_deployments_racing_for_one_approval_exactly_one_consumes_it(
    make_ledger: OpenLedger,
):
    ledger = make_ledger()
    ledger.create_request(request("r-1", decisions=[decision("bob")]))

    def consume(number: int) -> str:
        try:
            ledger.set_request_state("r-1", R.CONSUMED, consumed_by=f"d-{number}")
        except GateBlocked as blocked:
            return blocked.message
        return "won"

    answers = race(8, consume)
    assert answers.count("won") == 1, answers
    winner = f"d-{answers.index('won')}"
    assert ledger.get_request("r-1").consumed_by == winner  # type: ignore[union-attr]
    assert all(a.endswith(f"consumed by deployment {winner}") for a in answers if a != "won")


def test_what_the_ledger_returns_is_a_copy(make_ledger: OpenLedger):
    ledger = make_ledger()
    created = ledger.create_request(request("r-1", evidence={"commits": ["a1"]}))
    created.evidence["commits"].append("forged")
    created.decisions.append(decision("mallory"))
    created.state = R.CONSUMED

    stored = ledger.get_request("r-1")
    assert stored is not None
    assert (stored.evidence, stored.decisions, stored.state) == ({"commits": ["a1"]}, [], R.OPEN)


# --- the audit trail ------------------------------------------------------------------------
def append(ledger: Ledger, action: str, *, at: datetime = T0, key: bytes | None = KEY, **fields):
    return ledger.append_audit(
        lambda last: audit.chain(last, at=at, actor="alice", action=action, key=key, **fields)
    )


def test_audit_events_are_chained_in_order_and_verify(make_ledger: OpenLedger):
    ledger = make_ledger()
    seen: list[AuditEvent | None] = []

    def make(last: AuditEvent | None) -> AuditEvent:
        seen.append(last)
        return audit.chain(last, at=T0, actor="alice", action="build", key=KEY)

    first = ledger.append_audit(make)
    second = append(ledger, "deploy.started", env="staging", digest=DIGEST_A)
    third = append(ledger, "deploy.succeeded", env="staging", digest=DIGEST_A)

    assert seen == [None]
    assert [e.seq for e in (first, second, third)] == [1, 2, 3]
    events = ledger.audit_events()
    assert events == [first, second, third]
    checked = audit.verify(events, key=KEY, head=third.hash)
    assert (checked.ok, checked.count, checked.head) == (True, 3, third.hash)


def test_audit_events_read_back_exactly_as_they_were_hashed(make_ledger: OpenLedger):
    ledger = make_ledger()
    at = datetime(2024, 5, 1, 23, 59, 58, 123456, tzinfo=UTC)
    details = {
        "request": "r-1a2b",
        "reviewers": ["team-lead", "devops-admin"],
        "nested": {"ok": True, "none": None, "ratio": 0.1, "big": 2**53 + 1, "neg": -0.0},
        "text": 'naïve — 日本語 ✓ "quoted" \\ back\nslash',
        "empty": {},
    }
    written = [
        append(
            ledger,
            "approval.requested",
            at=at,
            env="production",
            digest=DIGEST_A,
            reason="release 7\nsecond line",
            details=details,
        ),
        append(ledger, "audit.plain", at=at + timedelta(microseconds=1), key=None),
        append(ledger, "lock.broken", at=at.replace(microsecond=0), env=None, details={}),
    ]

    events = ledger.audit_events()
    assert events == written
    assert events[0].at.isoformat() == "2024-05-01T23:59:58.123456+00:00"
    assert events[0].details == details
    assert (events[2].env, events[2].digest) == (None, None)
    # The second event has a plain hash, the others an HMAC: verify with each key.
    assert audit.verify(events[:1], key=KEY).ok
    assert audit.verify(events, key=KEY).first_bad == 2


def test_an_event_that_does_not_follow_the_last_one_is_refused(make_ledger: OpenLedger):
    ledger = make_ledger()
    append(ledger, "build")
    with pytest.raises(LedgerError, match="the next one is 2"):
        ledger.append_audit(lambda _last: audit.chain(None, at=T0, actor="mallory", action="build"))
    assert [e.seq for e in ledger.audit_events()] == [1]


@pytest.mark.parametrize(
    "at",
    [datetime(2024, 5, 1, 12, 0), datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))],
)
def test_an_audit_time_that_would_not_read_back_as_hashed_is_refused(
    make_ledger: OpenLedger, at: datetime
):
    ledger = make_ledger()
    with pytest.raises(ValueError, match="UTC"):
        append(ledger, "build", at=at)
    assert ledger.audit_events() == []


def test_audit_details_must_be_a_json_object(make_ledger: OpenLedger):
    ledger = make_ledger()
    event = audit.chain(None, at=T0, actor="alice", action="build")
    with pytest.raises(LedgerError, match="details"):
        ledger.append_audit(lambda _last: AuditEvent(**{**vars(event), "details": [1]}))  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match="not plain JSON"):
        ledger.append_audit(lambda _last: AuditEvent(**{**vars(event), "details": {"x": T0}}))
    assert ledger.audit_events() == []


@pytest.mark.parametrize("field", ["actor", "action", "reason", "hash", "env"])
def test_an_audit_event_with_a_field_that_is_not_text_is_refused(
    make_ledger: OpenLedger, field: str
):
    ledger = make_ledger()
    event = audit.chain(None, at=T0, actor="alice", action="build", env="staging")
    broken = AuditEvent(**{**vars(event), field: 7})
    with pytest.raises(LedgerError, match=f"{field} must be text"):
        ledger.append_audit(lambda _last: broken)
    assert ledger.audit_events() == []
    assert append(ledger, "build").seq == 1


def test_a_failing_event_builder_appends_nothing(make_ledger: OpenLedger):
    ledger = make_ledger()

    def broken(_last: AuditEvent | None) -> AuditEvent:
        raise RuntimeError("no key")

    with pytest.raises(RuntimeError, match="no key"):
        ledger.append_audit(broken)
    assert ledger.audit_events() == []
    assert append(ledger, "build").seq == 1


def test_the_audit_trail_filters_by_env_and_resumes_after_a_seq(make_ledger: OpenLedger):
    ledger = make_ledger()
    for action, env in (
        ("build", None),
        ("deploy", "staging"),
        ("deploy", "production"),
        ("rollback", "staging"),
    ):
        append(ledger, action, env=env)

    assert [e.seq for e in ledger.audit_events(env="staging")] == [2, 4]
    assert [e.seq for e in ledger.audit_events(since_seq=2)] == [3, 4]
    assert [e.seq for e in ledger.audit_events(env="staging", since_seq=2)] == [4]
    assert ledger.audit_events(since_seq=4) == []


def test_threads_appending_at_once_leave_one_unbroken_chain(make_ledger: OpenLedger):
    ledger = make_ledger()

    def write(number: int) -> str:
        for step in range(5):
            append(ledger, f"writer{number}.step{step}")
        return "done"

    assert race(6, write) == ["done"] * 6
    events = ledger.audit_events()
    assert [e.seq for e in events] == list(range(1, 31))
    assert audit.verify(events, key=KEY).ok
