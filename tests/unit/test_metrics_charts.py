"""The charts of ``metrics --format html|png`` and of the dashboard (``svg_charts``)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import pytest

from lambda_promote import metrics_charts
from lambda_promote.errors import UsageError, exit_code_for
from lambda_promote.metrics import DeliveryMetrics, compute
from lambda_promote.model import Deployment, DeploymentState

SINCE = datetime(2026, 11, 2, tzinfo=UTC)


def metrics(*states: DeploymentState) -> DeliveryMetrics:
    records = []
    for number, state in enumerate(states):
        at = SINCE + timedelta(days=2 * number, hours=1)
        records.append(
            Deployment(
                id=f"d-{number}",
                env="production",
                digest=f"{number:064x}",
                state=state,
                created_at=at,
                updated_at=at + timedelta(minutes=15),
            )
        )
    built = {d.digest: SINCE for d in records}
    return compute(
        records,
        env="production",
        since=SINCE,
        until=SINCE + timedelta(weeks=3),
        release_times=built,
    )


def test_the_dashboard_gets_four_embeddable_svg_charts() -> None:
    history = metrics(
        DeploymentState.SUCCEEDED, DeploymentState.ROLLED_BACK, *[DeploymentState.SUCCEEDED] * 6
    )

    charts = metrics_charts.svg_charts(history)

    assert list(charts) == [
        "deployment_frequency",
        "lead_time",
        "change_failure_rate",
        "time_to_restore",
    ]
    for svg in charts.values():
        assert svg.startswith("<svg")
        assert svg.rstrip().endswith("</svg>")
        assert "<?xml" not in svg
        assert "<!DOCTYPE" not in svg
    # The same metrics draw the same bytes (stable ids, no date): pages can be cached.
    assert metrics_charts.svg_charts(history) == charts


def test_an_empty_window_still_draws_saying_there_is_no_data() -> None:
    charts = metrics_charts.svg_charts(metrics())

    assert all(svg.startswith("<svg") for svg in charts.values())


def test_the_page_escapes_what_it_shows() -> None:
    page = metrics_charts.html_page(metrics(DeploymentState.SUCCEEDED), ["<b>env</b> & co"])

    assert "&lt;b&gt;env&lt;/b&gt; &amp; co" in page
    assert "<b>env</b>" not in page


def test_without_matplotlib_drawing_is_a_usage_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises ImportError

    with pytest.raises(UsageError) as refused:
        metrics_charts.png(metrics())

    assert exit_code_for(refused.value) == 2
    assert "lambda-promote[metrics]" in refused.value.hint
