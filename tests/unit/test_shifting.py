"""shifting.py over the fake target and the in-memory ledger: each step is in the ledger
before the weight moves, the checks invoke the new version by number, an alarm mid-bake stops
the shift and is recorded, and abort/finish requests are noted with who asked."""

from __future__ import annotations

from datetime import UTC, datetime

from fake_target import FakeTarget
from fakes import MemoryLedger
from lambda_promote.config.schema import Check
from lambda_promote.journal import Journal
from lambda_promote.model import Deployment, DeploymentState, FunctionRef, PublishedVersion
from lambda_promote.shift import ControlRequest
from lambda_promote.shifting import Member, TargetShift, progress_bar, walk
from lambda_promote.traffic import parse_traffic

FN = FunctionRef(env="staging", function_name="orders-staging", alias="live")
S = DeploymentState


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Control:
    def __init__(self, clock: Clock, request: ControlRequest | None = None, at: float = 0.0):
        self.clock, self.request, self.at = clock, request, at

    def requested(self) -> ControlRequest | None:
        return self.request if self.request and self.clock.now >= self.at else None


def setup(**target_fields: object) -> tuple[FakeTarget, MemoryLedger, TargetShift]:
    target = FakeTarget(
        versions=[PublishedVersion("1", "a" * 64), PublishedVersion("2", "b" * 64)],
        **target_fields,  # type: ignore[arg-type]
    )
    alias = target.point_alias(FN, "1", expected_revision=None)
    ledger = MemoryLedger()
    dep = ledger.create_deployment(
        Deployment(id="d-1", env="staging", digest="b" * 64, state=S.SHIFTING, version="2")
    )
    shift = TargetShift(
        target=target,
        journal=Journal(ledger),
        dep=dep,
        members=[Member(FN, "2", alias, checks=[Check(name="ping")])],
        alarms=["errors"],
        now=lambda: datetime(2026, 12, 1, 18, 0, tzinfo=UTC),
    )
    return target, ledger, shift


def test_a_canary_records_then_weights_then_checks_the_new_version() -> None:
    target, ledger, shift = setup()
    seen: list[tuple[str, object]] = []
    real_weigh = target.weigh_alias

    def weigh(fn, version, weights, *, expected_revision):  # type: ignore[no-untyped-def]
        recorded = ledger.get_deployment("d-1")
        seen.append(("ledger before weight", recorded.traffic if recorded else None))
        return real_weigh(fn, version, weights, expected_revision=expected_revision)

    target.weigh_alias = weigh  # type: ignore[method-assign]
    clock = Clock()
    outcome = walk(
        shift, parse_traffic("canary 10% 5m"), Control(clock), clock=clock, sleep=clock.sleep
    )

    assert outcome.ok
    assert seen == [
        ("ledger before weight", [{"percent": 10.0, "at": "2026-12-01T18:00:00Z", "ok": None}])
    ]
    assert target.weights["live"] == {"2": 0.1}
    assert target.alias["live"][0] == "1"  # the old version keeps the rest
    dep = ledger.get_deployment("d-1")
    assert dep is not None
    assert [(c.name, c.phase, c.ok) for c in dep.checks] == [("ping", "traffic", True)]
    assert "(version 2 at 10%)" in dep.checks[0].detail
    assert clock.now >= 300
    assert shift.full()[-1]["percent"] == 100.0
    assert shift.full()[0]["ok"] is True


def test_the_checks_invoke_the_new_version_by_number() -> None:
    _, ledger, shift = setup(unhealthy_versions={"2"})  # the alias (version 1) is healthy
    clock = Clock()
    outcome = walk(
        shift, parse_traffic("canary 10% 5m"), Control(clock), clock=clock, sleep=clock.sleep
    )
    assert outcome.end == "check"
    dep = ledger.get_deployment("d-1")
    assert dep is not None
    assert dep.traffic == [{"percent": 10.0, "at": "2026-12-01T18:00:00Z", "ok": False}]
    assert dep.transitions[-1].note == "traffic 10% failed"


def test_an_alarm_mid_bake_stops_the_shift_and_is_recorded() -> None:
    target, ledger, shift = setup()
    clock = Clock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now >= 61:
            target.firing_alarms.add("errors")

    outcome = walk(
        shift, parse_traffic("linear 20% every 2m"), Control(clock), clock=clock, sleep=sleep
    )
    assert outcome.end == "alarm"
    assert outcome.percent == 20
    assert 61 <= clock.now <= 63
    dep = ledger.get_deployment("d-1")
    assert dep is not None
    assert [c.name for c in dep.checks if not c.ok] == ["alarm:errors"]
    assert dep.traffic is not None
    assert dep.traffic[-1]["ok"] is False


def test_an_abort_is_noted_with_who_asked_and_why() -> None:
    _, ledger, shift = setup()
    clock = Clock()
    abort = ControlRequest("abort", "ana", "latency up")
    outcome = walk(
        shift,
        parse_traffic("canary 10% 5m"),
        Control(clock, abort, at=30),
        clock=clock,
        sleep=clock.sleep,
    )
    assert outcome.end == "abort"
    dep = ledger.get_deployment("d-1")
    assert dep is not None
    assert dep.transitions[-1].note == "abort requested by ana: latency up"
    assert dep.traffic is not None
    assert dep.traffic[-1]["stopped_by"] == "ana"


def test_progress_bar_shows_the_share_and_the_time_left() -> None:
    assert progress_bar(10, 272.2) == "[██░░░░░░░░░░░░░░░░░░] 10% · next step in 4:33"
    assert progress_bar(50, 0) == "[██████████░░░░░░░░░░] 50% · next step in 0:00"
