"""The progressive part of a deployment (DESIGN §11.5), for the state machines of ``deploy.py``
(one function) and ``deploy_release.py`` (many): the before/after-traffic hooks and the
partial steps of the shift. They call in here at three points:

    published ─► before_traffic(...)   a failure: the deployment ``failed``, nothing changed
    shifting  ─► partial_steps(...)     each step: ledger, weight, checks on version N, bake
              ─► (the 100 % step and the checks through the alias, as all-at-once)
    verified  ─► after_traffic(...)     a failure: rolled back like a failed check

A shift that stops (a check, an alarm, an abort, a refused weight) returns its outcome; the
caller rolls back from each member's ``alias`` (weights included: moving the alias clears
them). Ctrl-C/SIGTERM arrive as ``KeyboardInterrupt`` and reach the caller's rollback as is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from lambda_promote.hooks import HookCall, HookName, run_hook
from lambda_promote.journal import Journal
from lambda_promote.ledger.base import Ledger
from lambda_promote.model import AliasState, CheckResult, Deployment, DeploymentState, FunctionRef
from lambda_promote.outcome import undone_if_interrupted
from lambda_promote.shift import ShiftOutcome
from lambda_promote.shifting import Member, Progress, TargetShift, walk

__all__ = [
    "Member",
    "Pace",
    "after_traffic",
    "before_traffic",
    "last_step",
    "partial_steps",
    "shift_one",
    "stopped_why",
]
from lambda_promote.targets.base import Target
from lambda_promote.traffic import TrafficError, TrafficStrategy, parse_traffic
from lambda_promote.traffic_control import AuditControl

if TYPE_CHECKING:
    from lambda_promote.config.schema import Environment

S = DeploymentState


class Machine(Protocol):
    """What of a ``Deployer`` the shift uses."""

    ledger: Ledger
    target: Target
    journal: Journal
    progress: Any


@dataclass
class Pace:
    """The shift's clock (tests pass fake ones; bakes then take no time)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    crash: Callable[[str], None] = field(default=lambda _name: None)


def strategy_of(env: Environment) -> TrafficStrategy:
    try:
        return parse_traffic(env.traffic)
    except TrafficError:  # refused when promote.yaml was loaded; never reached
        return TrafficStrategy()


def before_traffic(
    m: Machine, dep: Deployment, env: Environment, targets: Sequence[tuple[FunctionRef, str]]
) -> list[CheckResult]:
    """The before-traffic hook, once per function ``(fn, new version)``; its failed results
    (recorded with the checks either way). Empty when no hook is configured."""
    return _hooks(m, dep, env, "before_traffic", targets)


def after_traffic(
    m: Machine, dep: Deployment, env: Environment, targets: Sequence[tuple[FunctionRef, str]]
) -> list[CheckResult]:
    """As ``before_traffic``, once the new version has all the traffic and passed."""
    return _hooks(m, dep, env, "after_traffic", targets)


def _hooks(
    m: Machine,
    dep: Deployment,
    env: Environment,
    hook: HookName,
    targets: Sequence[tuple[FunctionRef, str]],
) -> list[CheckResult]:
    function = getattr(env.hooks, hook)
    if not function:
        return []
    results = []
    for fn, version in targets:
        call = HookCall(dep.id, dep.env, fn.function_name, version, dep.digest)
        with m.progress.task(f"{dep.env}: {hook} hook {function} for version {version}"):
            results.append(run_hook(m.target, fn, hook, function, call))
    m.journal.checks(dep, results)
    return [r for r in results if not r.ok]


def partial_steps(
    m: Machine,
    dep: Deployment,
    env: Environment,
    members: list[Member],
    *,
    pace: Pace,
    checks: Callable[[Member], Sequence[Any]] | None = None,
) -> tuple[TargetShift, ShiftOutcome]:
    """Walk the steps below 100 % (none for all-at-once); afterwards each member's ``alias``
    is where its alias stands. ``checks``: the checks of each function (default: all)."""
    for member in members:
        member.checks = list(checks(member) if checks is not None else env.checks)
    progress: Progress | None = m.progress
    shift = TargetShift(
        target=m.target,
        journal=m.journal,
        dep=dep,
        members=members,
        alarms=list(env.alarms),
        strategy=env.traffic,
        progress=progress,
        crash=pace.crash,
    )
    strategy = strategy_of(env)
    if not strategy.progressive:
        return shift, ShiftOutcome("shifted")
    control = AuditControl(m.ledger, dep.env, dep.id, since_seq=0)
    outcome = walk(shift, strategy, control, clock=pace.clock, sleep=pace.sleep)
    return shift, outcome


def shift_one(
    m: Machine,
    dep: Deployment,
    env: Environment,
    member: Member,
    *,
    pace: Pace,
    roll_back: Callable[[Deployment, str, AliasState], Deployment],
) -> tuple[Deployment, AliasState, Deployment | None]:
    """A single function's steps below 100 % (none when nothing was live to shift from);
    the deployment and the alias after them, and the rolled-back deployment when the shift
    stopped. ``roll_back(deployment, why, alias as it stands)``."""
    if member.alias.version is None:
        return dep, member.alias, None
    with undone_if_interrupted(m.ledger, dep.id, lambda d, why: roll_back(d, why, member.alias)):
        shift, outcome = partial_steps(m, dep, env, [member], pace=pace)
    if not outcome.ok:
        return shift.dep, member.alias, roll_back(shift.dep, stopped_why(outcome), member.alias)
    if shift.steps:
        note = f"traffic 100% to version {member.version}"
        dep = m.journal.move(shift.dep, S.SHIFTING, note=note, traffic=shift.full())
        pace.crash("traffic-full-recorded")
    return dep, member.alias, None


def last_step(dep: Deployment, ok: bool) -> dict[str, Any]:
    """The transition field that settles the step still open (``ok`` None) when the
    deployment ends: ``{"traffic": …}``, or nothing for a deployment without steps."""
    if not dep.traffic or dep.traffic[-1].get("ok") is not None:
        return {}
    steps = [dict(step) for step in dep.traffic]
    steps[-1]["ok"] = ok
    return {"traffic": steps}


def stopped_why(outcome: ShiftOutcome) -> str:
    """The deployment's error when a shift stops: what, and at which share."""
    what = {
        "check": "a check failed on the new version",
        "alarm": "an alarm went off",
        "abort": "aborted",
        "weight": "the alias weight was refused",
    }.get(outcome.end, outcome.end)
    if outcome.failed:
        detail = ": " + "; ".join(f"{r.name}: {r.detail}" for r in outcome.failed)
    elif outcome.detail and outcome.end in ("abort", "weight"):
        detail = f": {outcome.detail}"
    else:
        detail = ""
    return f"traffic stopped at {outcome.percent:g}% — {what}{detail}"
