"""The walk of a progressive shift (DESIGN §11.5), as pure decisions over small protocols.

``run_shift`` takes the partial steps of a ``TrafficStrategy`` (every step below 100 %) and, for
each: announces it (the caller writes it to the ledger *before* acting), sets the alias weight,
runs the checks against the new version by number, then bakes — ``watch_bake`` reads the
environment's alarms and the abort/finish requests about once a second until the bake is over.
The 100 % step and the checks through the alias are the ordinary all-at-once path, after this.

It stops at the first failure: a check that fails, an alarm in ALARM, an ``abort`` request, a
weight the target refused. The caller then sets the weight back to 0 and verifies the previous
version (exit 3). A ``finish`` request skips the bakes that remain; the steps still run, each
with its checks. Ctrl-C / SIGTERM arrive as ``KeyboardInterrupt`` (``signals.py``) and go
straight through: the caller's ``except BaseException`` rolls back.

Clock and sleep are parameters, so the unit tests never wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from lambda_promote.model import CheckResult
from lambda_promote.traffic import TrafficStep

POLL_SECONDS = 1.0  # how often a bake reads alarms and requests: "within a second or two"

ControlAction = Literal["abort", "finish"]
BakeEnd = Literal["baked", "alarm", "abort", "finish"]
ShiftEnd = Literal["shifted", "check", "alarm", "abort", "weight"]


@dataclass(frozen=True)
class ControlRequest:
    """``lambda-promote abort ENV`` or ``finish ENV``, as another process left it."""

    action: ControlAction
    actor: str
    reason: str = ""
    at: datetime | None = None

    def said(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        return f"{self.action} requested by {self.actor}{why}"


class Control(Protocol):
    def requested(self) -> ControlRequest | None:
        """The newest abort/finish request for this deployment, if any."""
        ...


class ShiftActions(Protocol):
    """What a shift does to the world; the release layer implements it over the target and
    the ledger, the unit tests with fakes."""

    def announce(self, step: TrafficStep, index: int) -> None:
        """Record that ``step`` is about to happen (written before the weight moves)."""
        ...

    def set_weight(self, step: TrafficStep) -> None:
        """Give the new version ``step.percent``; raises ``PromoteError`` when refused."""
        ...

    def check_new(self, step: TrafficStep) -> list[CheckResult]:
        """The checks, invoked on the new version by its number."""
        ...

    def read_alarms(self) -> list[CheckResult]:
        """One result per alarm of the environment (failed when in ALARM or unreadable)."""
        ...

    def settled(self, step: TrafficStep, index: int, ok: bool, results: list[CheckResult]) -> None:
        """Record how the step ended (its checks, and the alarm round that stopped it)."""
        ...


@dataclass(frozen=True)
class BakeOutcome:
    end: BakeEnd
    results: list[CheckResult] = field(default_factory=list)
    request: ControlRequest | None = None


@dataclass(frozen=True)
class ShiftOutcome:
    end: ShiftEnd
    percent: float = 0.0  # the share the new version had when the shift ended
    failed: list[CheckResult] = field(default_factory=list)
    request: ControlRequest | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.end == "shifted"


Tick = Callable[[float], None]  # seconds to the end of the bake, for live progress


def watch_bake(
    seconds: float,
    *,
    read_alarms: Callable[[], list[CheckResult]],
    control: Control,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll: float = POLL_SECONDS,
    on_tick: Tick | None = None,
) -> BakeOutcome:
    """Wait ``seconds``, reading requests and alarms every ``poll`` seconds; the first abort,
    finish or alarm ends the bake early. Alarms are read once more at the very end."""
    deadline = clock() + seconds
    results: list[CheckResult] = []
    while True:
        request = control.requested()
        if request is not None:
            return BakeOutcome(request.action, results, request)
        results = read_alarms()
        if not all(r.ok for r in results):
            return BakeOutcome("alarm", results)
        remaining = deadline - clock()
        if remaining <= 0:
            return BakeOutcome("baked", results)
        if on_tick is not None:
            on_tick(remaining)
        sleep(min(poll, remaining))


def run_shift(
    steps: Sequence[TrafficStep],
    actions: ShiftActions,
    control: Control,
    *,
    bake: Callable[[TrafficStep], BakeOutcome],
) -> ShiftOutcome:
    """Walk the partial ``steps`` in order (see the module doc); the first failure ends it."""
    finishing: ControlRequest | None = None
    percent = 0.0
    for index, step in enumerate(s for s in steps if s.partial):
        early = control.requested()
        if early is not None and early.action == "abort":
            return ShiftOutcome("abort", percent, request=early, detail=early.said())
        finishing = finishing or early
        actions.announce(step, index)
        try:
            actions.set_weight(step)
        except Exception as error:  # a PromoteError from the target; anything else too
            actions.settled(step, index, False, [])
            detail = getattr(error, "message", str(error))
            return ShiftOutcome("weight", percent, detail=f"setting {step.percent:g}%: {detail}")
        percent = step.percent
        checks = actions.check_new(step)
        failed = [r for r in checks if not r.ok]
        if failed:
            actions.settled(step, index, False, checks)
            return ShiftOutcome("check", percent, failed, detail=f"at {percent:g}%")
        outcome = BakeOutcome("finish", request=finishing) if finishing else bake(step)
        ended = _ended(outcome, percent)
        actions.settled(step, index, ended is None, [*checks, *outcome.results])
        if ended is not None:
            return ended
        finishing = finishing or (outcome.request if outcome.end == "finish" else None)
    return ShiftOutcome("shifted", percent, request=finishing)


def _ended(outcome: BakeOutcome, percent: float) -> ShiftOutcome | None:
    """The shift's end when the bake stopped it; None when the shift goes on."""
    if outcome.end == "alarm":
        failed = [r for r in outcome.results if not r.ok]
        names = ", ".join(r.name.removeprefix("alarm:") for r in failed)
        return ShiftOutcome("alarm", percent, failed, detail=f"at {percent:g}%: {names}")
    if outcome.end == "abort" and outcome.request is not None:
        return ShiftOutcome(
            "abort", percent, request=outcome.request, detail=outcome.request.said()
        )
    return None
