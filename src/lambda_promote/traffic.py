"""How an environment moves traffic to a new version (DESIGN §11.5): the ``traffic:`` words of
promote.yaml parsed into a pure value, and that value unrolled into the shift's steps.

Config loading (``config/trafficcheck.py``) parses every environment's ``traffic:`` with
``parse_traffic`` and reports a bad one at its line; the release plan asks ``steps`` for the
list of ``(percent, bake seconds)`` it executes one by one. No I/O here.

Accepted forms (keywords are case-insensitive):

- ``all-at-once`` (the default) — 100 % in one step, today's behaviour;
- ``canary P% DURATION`` — P % of the traffic for DURATION, then 100 %;
- ``linear P% every DURATION`` — P %, 2P %, … each for DURATION, then 100 %;
- CodeDeploy's predefined Lambda configurations by name (``Canary10Percent5Minutes``, with or
  without the ``CodeDeployDefault.Lambda`` prefix).

A DURATION is a whole number followed by ``s``, ``m`` or ``h`` (``30s``, ``5m``, ``1h``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

Kind = Literal["all-at-once", "canary", "linear"]

ACCEPTED_FORMS = (
    "all-at-once · canary 10% 5m · linear 10% every 1m (durations like 30s, 5m, 1h) · "
    "a CodeDeploy name such as Canary10Percent5Minutes or Linear10PercentEvery1Minute"
)
# The longest single bake we accept: CodeDeploy's own limit for a canary/linear interval.
MAX_INTERVAL_SECONDS = 2880 * 60

_UNITS = {"s": 1, "m": 60, "h": 3600}
_DURATION = r"(\d+)\s*([smh])"
_PERCENT = r"(\d+(?:\.\d+)?)\s*%"
_CANARY = re.compile(rf"^canary\s+{_PERCENT}\s+{_DURATION}$", re.IGNORECASE)
_LINEAR = re.compile(rf"^linear\s+{_PERCENT}\s+every\s+{_DURATION}$", re.IGNORECASE)
_ALL_AT_ONCE = re.compile(r"^(all[-_ ]at[-_ ]once|allatonce)$", re.IGNORECASE)
_CODEDEPLOY_PREFIX = "CodeDeployDefault.Lambda"

# CodeDeploy's predefined configurations for Lambda (its documentation's list).
CODEDEPLOY_NAMES: dict[str, tuple[Kind, float, int]] = {
    "AllAtOnce": ("all-at-once", 100.0, 0),
    "Canary10Percent5Minutes": ("canary", 10.0, 5 * 60),
    "Canary10Percent10Minutes": ("canary", 10.0, 10 * 60),
    "Canary10Percent15Minutes": ("canary", 10.0, 15 * 60),
    "Canary10Percent30Minutes": ("canary", 10.0, 30 * 60),
    "Linear10PercentEvery1Minute": ("linear", 10.0, 1 * 60),
    "Linear10PercentEvery2Minutes": ("linear", 10.0, 2 * 60),
    "Linear10PercentEvery3Minutes": ("linear", 10.0, 3 * 60),
    "Linear10PercentEvery10Minutes": ("linear", 10.0, 10 * 60),
}


class TrafficError(ValueError):
    """``traffic:`` is not one of the accepted forms; the message says what is wrong."""


@dataclass(frozen=True)
class TrafficStep:
    """Give the new version ``percent`` of the alias's traffic, then watch for ``bake_seconds``."""

    percent: float
    bake_seconds: int

    @property
    def partial(self) -> bool:
        """True while the previous version still serves some traffic."""
        return self.percent < 100


@dataclass(frozen=True)
class TrafficStrategy:
    kind: Kind = "all-at-once"
    percent: float = 100.0
    interval_seconds: int = 0

    @property
    def progressive(self) -> bool:
        return self.kind != "all-at-once"

    def steps(self) -> list[TrafficStep]:
        """The shift in order; the last step is always 100 % with no bake of its own (the
        environment's ``bake_seconds`` still applies after it, as for an all-at-once shift)."""
        if self.kind == "all-at-once":
            return [TrafficStep(100.0, 0)]
        if self.kind == "canary":
            return [TrafficStep(self.percent, self.interval_seconds), TrafficStep(100.0, 0)]
        steps: list[TrafficStep] = []
        share = self.percent
        while share < 100:
            steps.append(TrafficStep(round(share, 6), self.interval_seconds))
            share += self.percent
        return [*steps, TrafficStep(100.0, 0)]

    def shift_seconds(self) -> int:
        """How long the bakes of the shift take together (the time a deploy job must allow)."""
        return sum(step.bake_seconds for step in self.steps())

    def describe(self) -> str:
        """The strategy in the words ``parse_traffic`` accepts."""
        if self.kind == "all-at-once":
            return "all-at-once"
        every = " every" if self.kind == "linear" else ""
        return (
            f"{self.kind} {_number(self.percent)}%{every} {format_duration(self.interval_seconds)}"
        )


ALL_AT_ONCE = TrafficStrategy()


def parse_traffic(text: str) -> TrafficStrategy:
    """``text`` as written in promote.yaml → a strategy; ``TrafficError`` saying why not."""
    words = " ".join(str(text).split())
    if not words or _ALL_AT_ONCE.match(words):
        return ALL_AT_ONCE
    name = words.removeprefix(_CODEDEPLOY_PREFIX)
    if name in CODEDEPLOY_NAMES:
        kind, percent, seconds = CODEDEPLOY_NAMES[name]
        return TrafficStrategy(kind, percent, seconds)
    forms: tuple[tuple[Kind, re.Pattern[str]], ...] = (("canary", _CANARY), ("linear", _LINEAR))
    for kind, pattern in forms:
        found = pattern.match(words)
        if found:
            share, amount, unit = found.groups()
            return _checked(kind, float(share), int(amount) * _UNITS[unit.lower()])
    raise TrafficError(_why_not(words))


def format_duration(seconds: int) -> str:
    """``300`` → ``5m``; the largest unit that divides it."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _checked(kind: Kind, percent: float, seconds: int) -> TrafficStrategy:
    if not 0 < percent < 100:
        raise TrafficError(f"the {kind} share must be more than 0% and less than 100%")
    if percent < 0.1:
        raise TrafficError("Lambda routes at least 0.1% of the traffic to a weighted version")
    if seconds <= 0:
        raise TrafficError(f"the {kind} interval must be longer than 0 seconds")
    if seconds > MAX_INTERVAL_SECONDS:
        raise TrafficError("an interval may be at most 48h (2880 minutes, CodeDeploy's limit)")
    return TrafficStrategy(kind, percent, seconds)


def _why_not(words: str) -> str:
    lowered = words.lower()
    if " " not in words and words.startswith(("Canary", "Linear", "CodeDeploy")):
        known = ", ".join(CODEDEPLOY_NAMES)
        return f"{words!r} is not a CodeDeploy Lambda configuration; known: {known}"
    if lowered.startswith(("canary", "linear")):
        example = "canary 10% 5m" if lowered.startswith("canary") else "linear 10% every 1m"
        return f"cannot read {words!r}: write it as e.g. {example!r} (a percent, then a duration)"
    return f"unknown traffic strategy {words!r}"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def shift_view(
    recorded: list[dict[str, Any]] | None, strategy: TrafficStrategy
) -> dict[str, Any] | None:
    """What ``status`` says of a deployment's shift: the share the new version was given last,
    when the next step is due (``None`` at 100 % or once stopped), and how many steps."""
    if not recorded:
        return None
    last = recorded[-1]
    percent = float(last.get("percent") or 0.0)
    planned = strategy.steps()
    index = len(recorded) - 1
    next_at = None
    if last.get("ok") is not False and percent < 100 and index < len(planned):
        started = _parsed_time(last.get("at"))
        if started is not None:
            next_at = started + timedelta(seconds=planned[index].bake_seconds)
    return {
        "percent": percent,
        "step": index + 1,
        "steps": len(planned),
        "next_step_at": next_at.isoformat().replace("+00:00", "Z") if next_at else None,
    }


def _parsed_time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
