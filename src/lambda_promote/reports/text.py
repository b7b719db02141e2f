"""How times, durations and latencies read in every report format (one place, so the
Markdown and the HTML say the same thing)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambda_promote.reports.data import Report


def stamp(value: datetime | None) -> str:
    """``2024-05-01 12:00:03`` in UTC; ``—`` when unknown."""
    if value is None:
        return "—"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def step_result(ok: bool | None, stopped_by: str | None) -> str:
    """How one step of a traffic shift ended, in words."""
    if stopped_by:
        return f"aborted by {stopped_by}"
    return {True: "passed", False: "failed", None: "running or cut short"}[ok]


def latency(ms: float) -> str:
    return f"{ms:,.0f} ms"


def no_checks(report: Report) -> str:
    if report.state == "succeeded":
        return "No checks ran: nothing verified this version."
    return "No checks ran."
