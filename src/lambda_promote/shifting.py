"""A progressive shift carried out (DESIGN §11.5): ``shift.ShiftActions`` over the target, the
journal (ledger first, then listeners: audit trail, notifiers) and the health checks. The
state machine (``deploy.py``) calls ``walk`` between ``shifting`` and the 100 % step, with
every function of the release that moves (one for a single-function release).

Each step is recorded before the weight moves: a ``shifting`` transition noting the step,
with ``deployment.traffic`` holding every step so far (``ok`` None for the one in progress).
A step that fails is recorded at once with ``ok: false``; a step that passed is marked with
the next transition. After ``walk`` each member's ``alias`` is where the alias stands (its
revision guards the next write, the rollback's included).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from lambda_promote import checks as health
from lambda_promote.journal import Journal
from lambda_promote.model import AliasState, CheckResult, Deployment, DeploymentState, FunctionRef
from lambda_promote.shift import BakeOutcome, Control, ShiftOutcome, run_shift, watch_bake
from lambda_promote.targets.base import Target
from lambda_promote.traffic import TrafficStep, TrafficStrategy, format_duration

if TYPE_CHECKING:
    from lambda_promote.config.schema import Check

S = DeploymentState
_BAR = 20


class Progress(Protocol):
    """What a state machine says while it works (the CLI passes its UI)."""

    def task(self, title: str, /) -> AbstractContextManager[Any]: ...
    def step(self, message: str, /) -> None: ...
    def ok(self, message: str, /) -> None: ...
    def warn(self, message: str, /) -> None: ...


@dataclass
class Member:
    """One function taking part: its new ``version`` and its ``alias`` as last written."""

    fn: FunctionRef
    version: str
    alias: AliasState
    checks: Sequence[Check] = ()
    name: str = ""  # the function's name in a many-function release: checks say it first


@dataclass
class TargetShift:
    target: Target
    journal: Journal
    dep: Deployment
    members: list[Member]
    alarms: Sequence[str] = ()
    strategy: str = ""  # as promote.yaml says it, for the notifications
    progress: Progress | None = None
    crash: Callable[[str], None] = lambda _name: None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    steps: list[dict[str, Any]] = field(default_factory=list)

    # --- shift.ShiftActions ---------------------------------------------------------------
    def announce(self, step: TrafficStep, index: int) -> None:
        if self.steps:
            self.steps[-1]["ok"] = True  # the previous step passed: the shift goes on
        else:
            self.journal.note("traffic.started", self.dep, {"strategy": self.strategy})
        self.steps.append({"percent": step.percent, "at": _iso(self.now()), "ok": None})
        self.dep = self.journal.move(
            self.dep, S.SHIFTING, note=f"traffic {step.percent:g}% to {self._versions()}",
            traffic=list(self.steps),
        )  # fmt: skip
        self.crash(f"traffic-{index}-recorded")

    def set_weight(self, step: TrafficStep) -> None:
        for member in self.members:
            member.alias = self.target.weigh_alias(
                member.fn,
                str(member.alias.version),
                {member.version: round(step.percent / 100, 6)},
                expected_revision=str(member.alias.revision_id),
            )
        self._say(f"{step.percent:g}% of {self.dep.env}'s traffic to {self._versions()}")
        self.crash(f"traffic-{len(self.steps) - 1}-weighted")

    def check_new(self, step: TrafficStep) -> list[CheckResult]:
        results: list[CheckResult] = []
        for member in self.members:
            found = health.run_checks(
                self.target, member.fn, member.checks, phase="traffic", qualifier=member.version
            )
            at = f"version {member.version} at {step.percent:g}%"
            prefix = f"{member.name}: " if member.name else ""
            results += [
                replace(r, name=f"{prefix}{r.name}", detail=f"{r.detail} ({at})") for r in found
            ]
        self.journal.checks(self.dep, results)
        return results

    def read_alarms(self) -> list[CheckResult]:
        return health.alarm_results(self.target, self.members[0].fn, self.alarms, phase="traffic")

    def settled(self, step: TrafficStep, index: int, ok: bool, results: list[CheckResult]) -> None:
        if ok:
            return  # marked with the next step (or the 100 % step)
        self.steps[-1]["ok"] = False
        alarms = [r for r in results if r.name.startswith("alarm:") and not r.ok]
        self.journal.checks(self.dep, alarms)
        failed = [r.name for r in results if not r.ok]
        why = ("failed: " + ", ".join(failed)) if failed else "the alias weight was refused"
        self.journal.note("traffic.failed", self.dep, {"percent": step.percent, "why": why})
        self.dep = self.journal.move(
            self.dep, S.SHIFTING, note=f"traffic {step.percent:g}% failed",
            traffic=list(self.steps),
        )  # fmt: skip

    # --- the rest of the deployment -------------------------------------------------------
    def full(self) -> list[dict[str, Any]]:
        """The steps with the 100 % step appended, to record before the alias moves."""
        if self.steps:
            self.steps[-1]["ok"] = True
        return [*self.steps, {"percent": 100.0, "at": _iso(self.now()), "ok": None}]

    def requested(self, outcome: ShiftOutcome) -> None:
        """Record the abort or finish request that changed the shift, with who and why."""
        request = outcome.request
        if request is None:
            return
        if self.steps and outcome.end == "abort":
            self.steps[-1].update(ok=False, stopped_by=request.actor)
            details = {"percent": self.steps[-1]["percent"], "why": request.said()}
            self.journal.note("traffic.failed", self.dep, details)
        self._say(request.said())
        self.dep = self.journal.move(
            self.dep, S.SHIFTING, note=request.said(), traffic=list(self.steps)
        )

    def _versions(self) -> str:
        return ", ".join(f"{m.fn.function_name} version {m.version}" for m in self.members)

    def _say(self, message: str) -> None:
        if self.progress is not None:
            self.progress.step(message)


def walk(
    shift: TargetShift,
    strategy: TrafficStrategy,
    control: Control,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ShiftOutcome:
    """Every partial step of ``strategy``, as ``shift.run_shift`` walks them."""

    def bake(step: TrafficStep) -> BakeOutcome:
        def watch(update: Callable[[str], None] | None) -> BakeOutcome:
            def on_tick(remaining: float) -> None:
                if update is not None:
                    update(progress_bar(step.percent, remaining))

            return watch_bake(
                step.bake_seconds,
                read_alarms=shift.read_alarms,
                control=control,
                clock=clock,
                sleep=sleep,
                on_tick=on_tick,
            )

        if shift.progress is None:
            return watch(None)
        title = f"{shift.dep.env}: {step.percent:g}% for {format_duration(step.bake_seconds)}"
        with shift.progress.task(title) as task:
            return watch(getattr(task, "update", None))

    outcome = run_shift(strategy.steps(), shift, control, bake=bake)
    shift.requested(outcome)
    return outcome


def progress_bar(percent: float, remaining: float) -> str:
    """``[██░░░░░░░░░░░░░░░░░░] 10% · next step in 4:32``"""
    filled = max(0, min(_BAR, round(_BAR * percent / 100)))
    left = max(0, int(remaining + 0.999))
    bar = "█" * filled + "░" * (_BAR - filled)
    return f"[{bar}] {percent:g}% · next step in {left // 60}:{left % 60:02d}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
