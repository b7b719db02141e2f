"""Each definition of DESIGN §11.8 (docs/metrics.md) pinned on a hand-made history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lambda_promote.metrics import (
    DeliveryMetrics,
    arrow,
    compute,
    median,
    percentile,
    trend_line,
)
from lambda_promote.model import Deployment, DeploymentKind, DeploymentState, Transition

S = DeploymentState
MONDAY = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # ISO week 2026-W45
SINCE = MONDAY
UNTIL = MONDAY + timedelta(weeks=2)
HOUR = timedelta(hours=1)


class History:
    """Builds one environment's records: each attempt starts at ``at`` and reaches its
    final state ``minutes`` later (its last transition)."""

    def __init__(self) -> None:
        self.records: list[Deployment] = []
        self.built: dict[str, datetime] = {}

    def deploy(
        self,
        at: datetime,
        state: DeploymentState = S.SUCCEEDED,
        *,
        minutes: float = 10,
        version: str | None = None,
        built: datetime | None = None,
        env: str = "production",
    ) -> Deployment:
        number = len(self.records) + 1
        digest = f"{number:064x}"
        if built is not None:
            self.built[digest] = built
        return self._add(
            Deployment(
                id=f"d-{number}",
                env=env,
                digest=digest,
                state=state,
                version=version or str(number),
            ),
            at,
            minutes,
        )

    def rollback(
        self, at: datetime, *, off: Deployment, state: DeploymentState = S.SUCCEEDED
    ) -> Deployment:
        number = len(self.records) + 1
        record = Deployment(
            id=f"r-{number}",
            env=off.env,
            digest="f" * 64,
            state=state,
            kind=DeploymentKind.ROLLBACK,
            version="1",
            previous_version=off.version,
            previous_digest=off.digest,
        )
        return self._add(record, at, 5)

    def _add(self, record: Deployment, at: datetime, minutes: float) -> Deployment:
        end = at + timedelta(minutes=minutes)
        record.created_at, record.updated_at = at, end
        record.transitions = [Transition(S.PENDING, at), Transition(record.state, end)]
        self.records.append(record)
        return record

    def metrics(self, *, since: datetime = SINCE, until: datetime = UNTIL) -> DeliveryMetrics:
        return compute(
            self.records, env="production", since=since, until=until, release_times=self.built
        )


def test_no_deployments_give_zero_counts_and_no_rates():
    figures = History().metrics().to_json()

    assert figures["deployments"] == 0
    assert figures["succeeded"] == 0
    assert figures["deployment_frequency_per_week"] == 0.0
    # Undefined, not a perfect 0 %: nothing was deployed.
    assert figures["change_failure_rate"] is None
    assert figures["lead_time_hours"] == {"median": None, "p90": None, "samples": 0}
    assert figures["time_to_restore_minutes"] == {"median": None, "restored": 0, "unrestored": 0}
    assert [w["week"] for w in figures["per_week"]] == ["2026-W45", "2026-W46"]
    assert all(w["deployments"] == 0 for w in figures["per_week"])


def test_deployments_count_attempts_but_not_rollbacks_or_other_environments():
    history = History()
    good = history.deploy(MONDAY + HOUR)
    history.deploy(MONDAY + 2 * HOUR, S.FAILED)  # before traffic moved: an attempt all the same
    history.rollback(MONDAY + 3 * HOUR, off=good)
    history.deploy(MONDAY + 4 * HOUR, env="staging")

    metrics = history.metrics()

    assert metrics.deployments == 2
    assert metrics.succeeded == 1


def test_deployment_frequency_is_successful_deployments_per_week_of_the_window():
    history = History()
    for day in range(6):
        history.deploy(MONDAY + timedelta(days=day), S.SUCCEEDED if day % 3 else S.FAILED)

    metrics = history.metrics()  # two weeks

    assert metrics.succeeded == 4
    assert metrics.deployment_frequency_per_week == pytest.approx(2.0)
    week = metrics.to_json()["per_week"][0]
    assert (week["deployments"], week["succeeded"]) == (6, 4)


def test_lead_time_runs_from_the_release_to_its_success_in_this_environment():
    history = History()
    history.deploy(MONDAY + 2 * HOUR, minutes=30, built=MONDAY)  # 2.5 h
    history.deploy(MONDAY + 10 * HOUR, minutes=60, built=MONDAY + 4 * HOUR)  # 7 h
    history.deploy(MONDAY + 11 * HOUR, S.ROLLED_BACK, built=MONDAY)  # no success: no lead time
    history.deploy(MONDAY + 12 * HOUR)  # release time unknown: left out

    lead = history.metrics().to_json()["lead_time_hours"]

    assert lead == {"median": 4.75, "p90": 7.0, "samples": 2}


def test_a_release_clock_ahead_of_the_deployer_gives_zero_not_a_negative_lead_time():
    history = History()
    history.deploy(MONDAY + HOUR, minutes=0, built=MONDAY + 2 * HOUR)

    assert history.metrics().lead_times_hours == (0.0,)


def test_p90_is_the_nearest_rank():
    assert percentile([], 90) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([1.0, 9.0], 90) == 9.0
    assert percentile([float(n) for n in range(1, 11)], 90) == 9.0
    assert percentile([float(n) for n in range(1, 12)], 90) == 10.0
    assert median([3.0, 1.0, 2.0, 10.0]) == 2.5
    assert median([]) is None


def test_rolled_back_and_rollback_failed_are_change_failures():
    history = History()
    history.deploy(MONDAY + HOUR)
    history.deploy(MONDAY + 2 * HOUR, S.ROLLED_BACK, minutes=12)
    history.deploy(MONDAY + 3 * HOUR, S.ROLLBACK_FAILED)
    history.deploy(MONDAY + 4 * HOUR, S.FAILED)  # nothing changed: not a change failure

    metrics = history.metrics()

    assert [(f.deployment, f.cause) for f in metrics.failures] == [
        ("d-2", "rolled_back"),
        ("d-3", "rollback_failed"),
    ]
    assert metrics.change_failure_rate == pytest.approx(2 / 4)


def test_restore_of_a_rolled_back_deployment_is_its_verified_rollback():
    history = History()
    history.deploy(MONDAY + HOUR, S.ROLLED_BACK, minutes=12)

    restore = history.metrics().to_json()["time_to_restore_minutes"]

    assert restore == {"median": 12.0, "restored": 1, "unrestored": 0}


def test_a_failed_rollback_is_restored_by_the_next_verified_deployment_or_rollback():
    history = History()
    broken = history.deploy(MONDAY + HOUR, S.ROLLBACK_FAILED, minutes=10)
    history.deploy(MONDAY + 2 * HOUR, S.FAILED)  # not verified: the env is still broken
    history.rollback(MONDAY + 3 * HOUR, off=broken)  # succeeded 5 min later

    failure = history.metrics().failures[0]

    assert failure.restored_at == MONDAY + 3 * HOUR + timedelta(minutes=5)
    assert failure.minutes_to_restore == pytest.approx(125.0)


def test_a_failure_never_restored_is_counted_but_left_out_of_the_median():
    history = History()
    history.deploy(MONDAY + HOUR, S.ROLLED_BACK, minutes=20)
    history.deploy(MONDAY + 2 * HOUR, S.ROLLBACK_FAILED)

    figures = history.metrics().to_json()

    assert figures["change_failures"] == 2
    assert figures["time_to_restore_minutes"] == {"median": 20.0, "restored": 1, "unrestored": 1}
    assert figures["failures"][1]["restored_at"] is None


@pytest.mark.parametrize(("hours", "counted"), [(23, True), (25, False)])
def test_a_manual_rollback_within_24_hours_of_success_makes_it_a_change_failure(
    hours: int, counted: bool
):
    history = History()
    history.deploy(MONDAY, S.SUCCEEDED, version="1")
    shipped = history.deploy(MONDAY + HOUR, minutes=10)
    succeeded_at = MONDAY + HOUR + timedelta(minutes=10)
    history.rollback(succeeded_at + timedelta(hours=hours), off=shipped)

    metrics = history.metrics()

    assert [f.deployment for f in metrics.failures] == (["d-2"] if counted else [])
    assert metrics.change_failure_rate == pytest.approx(0.5 if counted else 0.0)
    if counted:
        # From the deployment's start to the rollback's verified end.
        assert metrics.failures[0].minutes_to_restore == pytest.approx(10 + hours * 60 + 5)


def test_a_release_of_many_functions_is_taken_away_by_its_digest():
    """Such a release has per-function versions only: the rollback names its digest."""
    history = History()
    shipped = history.deploy(MONDAY, minutes=10)
    shipped.version = None
    rollback = history.rollback(MONDAY + 2 * HOUR, off=shipped)
    rollback.previous_version = None

    assert [f.cause for f in history.metrics().failures] == ["manual_rollback"]


def test_a_manual_rollback_that_failed_or_moved_another_version_takes_nothing_away():
    history = History()
    first = history.deploy(MONDAY)
    second = history.deploy(MONDAY + HOUR)
    history.rollback(MONDAY + 2 * HOUR, off=second, state=S.ROLLED_BACK)
    history.rollback(MONDAY + 3 * HOUR, off=first)  # not the version `second` put live

    assert [f.deployment for f in history.metrics().failures] == ["d-1"]


def test_a_window_counts_a_failure_by_its_start():
    history = History()
    # Starts before the window, restored inside it: not this window's failure.
    history.deploy(SINCE - 2 * HOUR, S.ROLLBACK_FAILED)
    history.deploy(SINCE + HOUR)
    # Starts inside, restored after the window's end: counted, restore included.
    history.deploy(UNTIL - HOUR, S.ROLLBACK_FAILED)
    history.deploy(UNTIL + 2 * HOUR, minutes=15)

    metrics = history.metrics()

    assert metrics.deployments == 2
    assert [f.deployment for f in metrics.failures] == ["d-3"]
    assert metrics.failures[0].minutes_to_restore == pytest.approx(3 * 60 + 15)


def test_weeks_are_iso_weeks_with_their_own_figures():
    history = History()
    history.deploy(MONDAY + HOUR, minutes=60, built=MONDAY)  # W45: lead 2 h
    history.deploy(MONDAY + timedelta(days=8), S.ROLLED_BACK, minutes=30)  # W46
    history.deploy(MONDAY + timedelta(days=9), minutes=60, built=MONDAY + timedelta(days=9))

    weeks = history.metrics().to_json()["per_week"]

    assert weeks == [
        {
            "week": "2026-W45",
            "starts": "2026-11-02",
            "deployments": 1,
            "succeeded": 1,
            "failed": 0,
            "change_failure_rate": 0.0,
            "lead_time_hours_median": 2.0,
            "time_to_restore_minutes_median": None,
        },
        {
            "week": "2026-W46",
            "starts": "2026-11-09",
            "deployments": 2,
            "succeeded": 1,
            "failed": 1,
            "change_failure_rate": 0.5,
            "lead_time_hours_median": 1.0,
            "time_to_restore_minutes_median": 30.0,
        },
    ]


def test_a_window_starting_mid_week_still_shows_that_week():
    since = MONDAY + timedelta(days=3, hours=5)  # a Thursday
    metrics = History().metrics(since=since, until=since + timedelta(days=7))

    assert [w.week for w in metrics.weeks] == ["2026-W45", "2026-W46"]


def test_the_json_shape_has_the_contract_keys():
    history = History()
    history.deploy(MONDAY + HOUR, built=MONDAY)
    figures = history.metrics().to_json()

    assert {
        "env",
        "since",
        "deployments",
        "per_week",
        "lead_time_hours",
        "change_failure_rate",
        "time_to_restore_minutes",
    } <= set(figures)
    assert {"median", "p90"} <= set(figures["lead_time_hours"])
    assert "median" in figures["time_to_restore_minutes"]
    assert figures["env"] == "production"
    assert figures["since"] == "2026-11-02T00:00:00+00:00"


def test_trend_is_a_least_squares_line_over_the_weeks_with_data():
    assert trend_line([1.0, None, 3.0]) == pytest.approx([1.0, 2.0, 3.0])
    assert trend_line([2.0, 2.0, 2.0, 2.0]) == pytest.approx([2.0] * 4)
    assert trend_line([None, 4.0, None]) is None
    assert (arrow(1.0, 2.0), arrow(2.0, 1.0), arrow(1.0, 1.0), arrow(None, 1.0)) == (
        "↑",
        "↓",
        "→",
        " ",
    )
