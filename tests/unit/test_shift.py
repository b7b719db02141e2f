"""shift.py: the walk of a progressive shift and its bakes, with a fake clock and fakes of the
world, so every way a shift can stop is exercised without waiting (DESIGN §11.5)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from lambda_promote.errors import ConflictError
from lambda_promote.model import CheckResult
from lambda_promote.shift import (
    BakeOutcome,
    ControlRequest,
    run_shift,
    watch_bake,
)
from lambda_promote.traffic import TrafficStep, parse_traffic


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class FakeControl:
    """Requests that appear at given times of the fake clock."""

    clock: FakeClock
    at: list[tuple[float, ControlRequest]] = field(default_factory=list)
    reads: int = 0

    def requested(self) -> ControlRequest | None:
        self.reads += 1
        due = [r for t, r in self.at if t <= self.clock.now]
        return due[-1] if due else None


def alarm(name: str, ok: bool) -> CheckResult:
    return CheckResult(f"alarm:{name}", ok, 0.0, "quiet" if ok else "in ALARM", phase="bake")


@dataclass
class FakeWorld:
    """ShiftActions over a log of what happened, with alarms that fire at a given time."""

    clock: FakeClock
    alarm_at: float | None = None
    failing_check_at: float | None = None  # percent at which the new version's check fails
    refuse_weight_at: float | None = None
    log: list[str] = field(default_factory=list)
    settled_steps: list[tuple[float, bool, list[str]]] = field(default_factory=list)

    def announce(self, step: TrafficStep, index: int) -> None:
        self.log.append(f"announce {step.percent:g}")

    def set_weight(self, step: TrafficStep) -> None:
        if step.percent == self.refuse_weight_at:
            raise ConflictError("the alias was changed by someone else")
        self.log.append(f"weight {step.percent:g}")

    def check_new(self, step: TrafficStep) -> list[CheckResult]:
        ok = step.percent != self.failing_check_at
        self.log.append(f"check {step.percent:g}")
        return [CheckResult("ping", ok, 1.0, "ok" if ok else "boom")]

    def read_alarms(self) -> list[CheckResult]:
        firing = self.alarm_at is not None and self.clock.now >= self.alarm_at
        return [alarm("errors", not firing)]

    def settled(self, step: TrafficStep, index: int, ok: bool, results: list[CheckResult]) -> None:
        self.settled_steps.append((step.percent, ok, [r.name for r in results]))


def walk(strategy: str, world: FakeWorld, control: FakeControl):  # type: ignore[no-untyped-def]
    def bake(step: TrafficStep) -> BakeOutcome:
        world.log.append(f"bake {step.percent:g}")
        return watch_bake(
            step.bake_seconds,
            read_alarms=world.read_alarms,
            control=control,
            clock=world.clock,
            sleep=world.clock.sleep,
        )

    return run_shift(parse_traffic(strategy).steps(), world, control, bake=bake)


def test_a_canary_announces_weights_checks_then_bakes_its_whole_interval() -> None:
    clock = FakeClock()
    world = FakeWorld(clock)
    outcome = walk("canary 10% 5m", world, FakeControl(clock))
    assert outcome.ok
    assert outcome.percent == 10
    assert world.log == ["announce 10", "weight 10", "check 10", "bake 10"]
    assert clock.now == pytest.approx(300)
    assert max(clock.sleeps) <= 1.0  # alarms and requests read about once a second
    assert world.settled_steps == [(10, True, ["ping", "alarm:errors"])]


def test_linear_walks_every_partial_step_in_order() -> None:
    clock = FakeClock()
    world = FakeWorld(clock)
    outcome = walk("linear 25% every 30s", world, FakeControl(clock))
    assert outcome.ok
    assert outcome.percent == 75
    assert [e for e in world.log if e.startswith("weight")] == [
        "weight 25",
        "weight 50",
        "weight 75",
    ]
    assert clock.now == pytest.approx(90)


def test_an_alarm_mid_bake_stops_the_shift_within_a_second() -> None:
    clock = FakeClock()
    world = FakeWorld(clock, alarm_at=42.5)
    outcome = walk("canary 10% 5m", world, FakeControl(clock))
    assert outcome.end == "alarm"
    assert outcome.percent == 10
    assert [r.name for r in outcome.failed] == ["alarm:errors"]
    assert 42.5 <= clock.now <= 43.5
    assert world.settled_steps[-1][1] is False
    assert "errors" in outcome.detail


def test_a_failing_check_on_the_new_version_stops_before_the_bake() -> None:
    clock = FakeClock()
    world = FakeWorld(clock, failing_check_at=50)
    outcome = walk("linear 25% every 1m", world, FakeControl(clock))
    assert outcome.end == "check"
    assert outcome.percent == 50
    assert "bake 50" not in world.log
    assert "weight 75" not in world.log
    assert [r.detail for r in outcome.failed] == ["boom"]


def test_a_refused_weight_stops_the_shift_with_the_share_before_it() -> None:
    clock = FakeClock()
    world = FakeWorld(clock, refuse_weight_at=50)
    outcome = walk("linear 25% every 1m", world, FakeControl(clock))
    assert outcome.end == "weight"
    assert outcome.percent == 25
    assert "changed by someone else" in outcome.detail
    assert world.settled_steps[-1] == (50, False, [])


def test_abort_mid_bake_stops_within_a_second_and_says_who() -> None:
    clock = FakeClock()
    abort = ControlRequest("abort", "ana", "error rate up")
    control = FakeControl(clock, at=[(100.2, abort)])
    world = FakeWorld(clock)
    outcome = walk("canary 10% 5m", world, control)
    assert outcome.end == "abort"
    assert outcome.request == abort
    assert outcome.detail == "abort requested by ana: error rate up"
    assert 100.2 <= clock.now <= 101.2


def test_abort_before_a_step_stops_before_the_weight_moves() -> None:
    clock = FakeClock()
    control = FakeControl(clock, at=[(0.0, ControlRequest("abort", "ana"))])
    world = FakeWorld(clock)
    outcome = walk("canary 10% 5m", world, control)
    assert outcome.end == "abort"
    assert outcome.percent == 0
    assert world.log == []


def test_finish_skips_the_remaining_bakes_but_not_the_checks() -> None:
    clock = FakeClock()
    finish = ControlRequest("finish", "bo", "looks good")
    control = FakeControl(clock, at=[(30.0, finish)])
    world = FakeWorld(clock)
    outcome = walk("linear 25% every 1m", world, control)
    assert outcome.ok
    assert outcome.request == finish
    assert outcome.percent == 75
    assert clock.now == pytest.approx(30, abs=1)
    assert world.log.count("bake 25") == 1
    assert "bake 50" not in world.log
    assert [e for e in world.log if e.startswith("check")] == ["check 25", "check 50", "check 75"]


def test_all_at_once_has_no_partial_step() -> None:
    clock = FakeClock()
    world = FakeWorld(clock)
    outcome = walk("all-at-once", world, FakeControl(clock))
    assert outcome.ok
    assert outcome.percent == 0
    assert world.log == []


def test_watch_bake_reads_alarms_once_more_at_the_end_and_ticks() -> None:
    clock = FakeClock()
    ticks: list[float] = []
    reads = {"n": 0}

    def read() -> list[CheckResult]:
        reads["n"] += 1
        return [alarm("a", True)]

    outcome = watch_bake(
        3.5,
        read_alarms=read,
        control=FakeControl(clock),
        clock=clock,
        sleep=clock.sleep,
        on_tick=ticks.append,
    )
    assert outcome.end == "baked"
    assert reads["n"] == 5  # at 0, 1, 2, 3 and at the end (3.5)
    assert ticks == [3.5, 2.5, 1.5, 0.5]
