"""Delivery metrics (DESIGN §11.8): the four DORA figures of one environment over a time
window, computed from ledger records alone. Pure: ``metrics_window`` reads the records, the
command renders them, ``metrics_charts`` draws them. docs/metrics.md states each definition;
tests/unit/test_metrics.py pins each one on hand-made histories.

The decisions the contract leaves open, made once here:

- An attempt belongs to the window by its **start** (``created_at``): a failure that began
  before ``since`` is not counted even when restored inside; one that began inside is counted
  and its restore is found even after ``until`` (when the records hold it).
- A finished deployment's end is its last transition (``updated_at`` when transitions were
  not read): ``succeeded`` for a success, the verified ``rolled_back`` for a rollback.
- A manual rollback "takes a deployment away" when it **succeeded**, moved the alias off that
  deployment's version, and **started** within 24 h of that deployment's success.
- No deployments → change failure rate ``None`` (undefined, not a perfect 0).
- Percentiles: nearest rank (p90 of n samples is the ⌈0.9·n⌉-th smallest); median: the
  middle sample, or the mean of the two middle ones.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lambda_promote.model import Deployment, DeploymentKind, DeploymentState

MANUAL_ROLLBACK_WINDOW = timedelta(hours=24)
_WEEK = timedelta(weeks=1)


@dataclass(frozen=True)
class ChangeFailure:
    """An attempt that hurt the environment, and when it served a verified version again
    (``restored_at`` None: not yet, as far as the records go)."""

    deployment: str
    cause: str  # rolled_back | rollback_failed | manual_rollback
    started_at: datetime
    restored_at: datetime | None

    @property
    def minutes_to_restore(self) -> float | None:
        if self.restored_at is None:
            return None
        return (self.restored_at - self.started_at).total_seconds() / 60

    def to_json(self) -> dict[str, Any]:
        minutes = self.minutes_to_restore
        return {
            "deployment": self.deployment,
            "cause": self.cause,
            "started_at": self.started_at.isoformat(),
            "restored_at": self.restored_at.isoformat() if self.restored_at else None,
            "minutes_to_restore": None if minutes is None else round(minutes, 1),
        }


@dataclass(frozen=True)
class Attempt:
    """One deployment attempt of the window, judged: its success time and lead time (hours,
    when it succeeded and its release time is known), and its change failure if any."""

    deployment: Deployment
    succeeded_at: datetime | None
    lead_time_hours: float | None
    failure: ChangeFailure | None

    @property
    def started_at(self) -> datetime:
        return _start(self.deployment)


@dataclass(frozen=True)
class WeekFigures:
    """The figures of the attempts that started in one ISO week (UTC)."""

    week: str  # "2026-W47"
    starts: date  # its Monday
    deployments: int
    succeeded: int
    failed: int  # change failures, as in the change failure rate
    lead_time_hours: tuple[float, ...]
    minutes_to_restore: tuple[float, ...]

    @property
    def change_failure_rate(self) -> float | None:
        return self.failed / self.deployments if self.deployments else None

    def to_json(self) -> dict[str, Any]:
        return {
            "week": self.week,
            "starts": self.starts.isoformat(),
            "deployments": self.deployments,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "change_failure_rate": _rounded(self.change_failure_rate, 3),
            "lead_time_hours_median": _rounded(median(self.lead_time_hours), 2),
            "time_to_restore_minutes_median": _rounded(median(self.minutes_to_restore), 1),
        }


@dataclass(frozen=True)
class DeliveryMetrics:
    env: str
    since: datetime
    until: datetime
    attempts: tuple[Attempt, ...]
    weeks: tuple[WeekFigures, ...]

    @property
    def deployments(self) -> int:
        return len(self.attempts)

    @property
    def succeeded(self) -> int:
        return sum(1 for a in self.attempts if a.succeeded_at is not None)

    @property
    def deployment_frequency_per_week(self) -> float:
        """Successful deployments per week of the window."""
        weeks = (self.until - self.since) / _WEEK
        return self.succeeded / weeks if weeks > 0 else 0.0

    @property
    def lead_times_hours(self) -> tuple[float, ...]:
        return tuple(a.lead_time_hours for a in self.attempts if a.lead_time_hours is not None)

    @property
    def failures(self) -> tuple[ChangeFailure, ...]:
        return tuple(a.failure for a in self.attempts if a.failure is not None)

    @property
    def change_failure_rate(self) -> float | None:
        return len(self.failures) / self.deployments if self.deployments else None

    @property
    def minutes_to_restore(self) -> tuple[float, ...]:
        found = (f.minutes_to_restore for f in self.failures)
        return tuple(m for m in found if m is not None)

    def to_json(self) -> dict[str, Any]:
        """The ``"metrics"`` object of ``metrics --json`` (DESIGN §11.8, docs/metrics.md)."""
        leads, restores = self.lead_times_hours, self.minutes_to_restore
        return {
            "env": self.env,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "deployments": self.deployments,
            "succeeded": self.succeeded,
            "deployment_frequency_per_week": round(self.deployment_frequency_per_week, 2),
            "per_week": [week.to_json() for week in self.weeks],
            "lead_time_hours": {
                "median": _rounded(median(leads), 2),
                "p90": _rounded(percentile(leads, 90), 2),
                "samples": len(leads),
            },
            "change_failure_rate": _rounded(self.change_failure_rate, 3),
            "change_failures": len(self.failures),
            "time_to_restore_minutes": {
                "median": _rounded(median(restores), 1),
                "restored": len(restores),
                "unrestored": len(self.failures) - len(restores),
            },
            "failures": [f.to_json() for f in self.failures],
        }


def compute(
    records: Sequence[Deployment],
    *,
    env: str,
    since: datetime,
    until: datetime,
    release_times: Mapping[str, datetime],
) -> DeliveryMetrics:
    """The metrics of ``env`` over ``[since, until)``. ``records``: the env's deployments and
    rollbacks from ``since`` on, in any order (later ones are read for restores and manual
    rollbacks); ``release_times``: each digest's commit time (or build time, see
    ``metrics_window``). Records of other envs are ignored."""
    timeline = _Timeline([d for d in records if d.env == env])
    attempts = tuple(
        _judge(d, timeline, release_times)
        for d in timeline.order
        if d.kind is DeploymentKind.DEPLOY and since <= _start(d) < until
    )
    return DeliveryMetrics(
        env=env, since=since, until=until, attempts=attempts, weeks=_weeks(attempts, since, until)
    )


class _Timeline:
    """One environment's records in start order, indexed so that judging every attempt
    stays linear (10,000 deployments in a window must not mean 10,000² comparisons)."""

    def __init__(self, records: Sequence[Deployment]) -> None:
        self.order = sorted(records, key=_start)
        self._position = {d.id: i for i, d in enumerate(self.order)}
        # _restored_by[i]: the earliest end of a success started after position i.
        self._restored_by: list[datetime | None] = [None] * len(self.order)
        earliest: datetime | None = None
        for i in range(len(self.order) - 1, -1, -1):
            self._restored_by[i] = earliest
            if self.order[i].state is DeploymentState.SUCCEEDED:
                end = _end(self.order[i])
                earliest = end if earliest is None else min(earliest, end)
        # What each manual rollback that succeeded moved off: a version, or — for a release of
        # many functions, whose versions are per function — the release digest.
        self._rollback_starts: dict[tuple[str, str | None], list[datetime]] = {}
        for d in self.order:
            if d.kind is DeploymentKind.ROLLBACK and d.state is DeploymentState.SUCCEEDED:
                for key in (("version", d.previous_version), ("digest", d.previous_digest)):
                    self._rollback_starts.setdefault(key, []).append(_start(d))

    def next_verified(self, deployment: Deployment) -> datetime | None:
        """When the env next served a verified version: the end of the first deployment or
        rollback that started after this one and succeeded (a success is verified)."""
        return self._restored_by[self._position[deployment.id]]

    def taken_away(self, deployment: Deployment, succeeded_at: datetime) -> bool:
        """Whether a manual rollback that succeeded moved the alias off this deployment's
        version (its release, for many functions), starting within 24 h of its success."""
        key = (
            ("version", deployment.version)
            if deployment.version is not None
            else ("digest", deployment.digest)
        )
        starts = self._rollback_starts.get(key, [])
        return any(timedelta(0) <= at - succeeded_at <= MANUAL_ROLLBACK_WINDOW for at in starts)


def _judge(
    deployment: Deployment, timeline: _Timeline, release_times: Mapping[str, datetime]
) -> Attempt:
    succeeded_at = _end(deployment) if deployment.state is DeploymentState.SUCCEEDED else None
    lead = None
    released = release_times.get(deployment.digest)
    if succeeded_at is not None and released is not None:
        # A build machine's clock ahead of the deployer's must not give a negative lead time.
        lead = max(0.0, (succeeded_at - released).total_seconds() / 3600)
    return Attempt(
        deployment=deployment,
        succeeded_at=succeeded_at,
        lead_time_hours=lead,
        failure=_change_failure(deployment, succeeded_at, timeline),
    )


def _change_failure(
    deployment: Deployment, succeeded_at: datetime | None, timeline: _Timeline
) -> ChangeFailure | None:
    started = _start(deployment)
    if deployment.state is DeploymentState.ROLLED_BACK:
        # rolled_back is reached only once the previous version passed its checks again.
        return ChangeFailure(deployment.id, "rolled_back", started, _end(deployment))
    if deployment.state is DeploymentState.ROLLBACK_FAILED:
        restored = timeline.next_verified(deployment)
        return ChangeFailure(deployment.id, "rollback_failed", started, restored)
    if succeeded_at is not None and timeline.taken_away(deployment, succeeded_at):
        restored = timeline.next_verified(deployment)
        return ChangeFailure(deployment.id, "manual_rollback", started, restored)
    return None


def _weeks(
    attempts: Sequence[Attempt], since: datetime, until: datetime
) -> tuple[WeekFigures, ...]:
    """Every ISO week the window touches, oldest first, empty ones included (a chart needs
    the gaps). The first and last weeks hold only their part inside the window."""
    mondays: list[date] = []
    monday = _monday(since)
    while monday <= _monday(until - timedelta(microseconds=1)) or not mondays:
        mondays.append(monday)
        monday += _WEEK
    by_week: dict[date, list[Attempt]] = {m: [] for m in mondays}
    for attempt in attempts:
        by_week[_monday(attempt.started_at)].append(attempt)
    return tuple(_week_figures(m, by_week[m]) for m in mondays)


def _week_figures(monday: date, attempts: Sequence[Attempt]) -> WeekFigures:
    year, week, _ = monday.isocalendar()
    restores = (a.failure.minutes_to_restore for a in attempts if a.failure is not None)
    return WeekFigures(
        week=f"{year}-W{week:02d}",
        starts=monday,
        deployments=len(attempts),
        succeeded=sum(1 for a in attempts if a.succeeded_at is not None),
        failed=sum(1 for a in attempts if a.failure is not None),
        lead_time_hours=tuple(a.lead_time_hours for a in attempts if a.lead_time_hours is not None),
        minutes_to_restore=tuple(m for m in restores if m is not None),
    )


def _monday(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def _start(deployment: Deployment) -> datetime:
    if deployment.created_at is None:  # the ledger always sets it; a hand-made record may not
        raise ValueError(f"deployment {deployment.id} has no creation time")
    return deployment.created_at


def _end(deployment: Deployment) -> datetime:
    """When the deployment reached its current state."""
    for transition in reversed(deployment.transitions):
        if transition.state is deployment.state:
            return transition.at
    return deployment.updated_at or _start(deployment)


# --- statistics --------------------------------------------------------------------------
def median(samples: Sequence[float]) -> float | None:
    return statistics.median(samples) if samples else None


def percentile(samples: Sequence[float], rank: float) -> float | None:
    """Nearest-rank percentile: the smallest sample with at least ``rank`` % of the samples
    at or below it (p90 of 1–10 samples is the largest; of 11–20 the second largest)."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(rank / 100 * len(ordered))) - 1]


def trend_line(values: Sequence[float | None]) -> list[float] | None:
    """Least-squares line through the weeks that have a value, evaluated at every week;
    None with fewer than two such weeks."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    return [mean_y + slope * (i - mean_x) for i in range(len(values))]


def arrow(before: float | None, now: float | None) -> str:
    """The week-over-week direction of a figure: ↑, ↓, → (unchanged), blank without both."""
    if before is None or now is None:
        return " "
    if math.isclose(before, now):
        return "→"
    return "↑" if now > before else "↓"


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
