"""traffic.py: every accepted form of ``traffic:`` and the steps each one walks (DESIGN §11.5)."""

from __future__ import annotations

import pytest

from lambda_promote.traffic import (
    CODEDEPLOY_NAMES,
    TrafficError,
    TrafficStep,
    TrafficStrategy,
    format_duration,
    parse_traffic,
    shift_view,
)


@pytest.mark.parametrize("text", ["all-at-once", "All-At-Once", "AllAtOnce", "  all-at-once "])
def test_all_at_once_is_one_full_step(text: str) -> None:
    strategy = parse_traffic(text)
    assert not strategy.progressive
    assert strategy.steps() == [TrafficStep(100.0, 0)]
    assert strategy.shift_seconds() == 0


@pytest.mark.parametrize(
    ("text", "percent", "seconds"),
    [
        ("canary 10% 5m", 10.0, 300),
        ("Canary 25%   30s", 25.0, 30),
        ("canary 1.5% 1h", 1.5, 3600),
    ],
)
def test_canary_is_one_partial_step_then_all(text: str, percent: float, seconds: int) -> None:
    strategy = parse_traffic(text)
    assert strategy == TrafficStrategy("canary", percent, seconds)
    assert strategy.steps() == [TrafficStep(percent, seconds), TrafficStep(100.0, 0)]
    assert strategy.shift_seconds() == seconds


def test_linear_walks_equal_steps_and_ends_at_100() -> None:
    strategy = parse_traffic("linear 30% every 1m")
    assert [s.percent for s in strategy.steps()] == [30.0, 60.0, 90.0, 100.0]
    assert [s.bake_seconds for s in strategy.steps()] == [60, 60, 60, 0]
    assert strategy.shift_seconds() == 180


def test_linear_ten_percent_has_nine_bakes() -> None:
    steps = parse_traffic("linear 10% every 2m").steps()
    assert [s.percent for s in steps] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert [s.partial for s in steps] == [True] * 9 + [False]


@pytest.mark.parametrize("name", list(CODEDEPLOY_NAMES))
def test_codedeploy_names_with_and_without_prefix(name: str) -> None:
    kind, percent, seconds = CODEDEPLOY_NAMES[name]
    expected = TrafficStrategy(kind, percent, seconds)
    assert parse_traffic(name) == expected
    assert parse_traffic(f"CodeDeployDefault.Lambda{name}") == expected


def test_codedeploy_names_mean_what_they_say() -> None:
    assert parse_traffic("Canary10Percent30Minutes").steps()[0] == TrafficStep(10.0, 1800)
    assert parse_traffic("Linear10PercentEvery10Minutes").shift_seconds() == 9 * 600


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("canary 10%", "canary 10% 5m"),
        ("canary 10 5m", "canary 10% 5m"),
        ("linear 10% 1m", "linear 10% every 1m"),
        ("canary 0% 5m", "more than 0%"),
        ("canary 100% 5m", "less than 100%"),
        ("canary 10% 0s", "longer than 0 seconds"),
        ("canary 10% 49h", "48h"),
        ("canary 0.01% 5m", "0.1%"),
        ("Canary10Percent7Minutes", "Canary10Percent5Minutes"),
        ("blue-green", "unknown traffic strategy"),
    ],
)
def test_bad_values_say_why(text: str, words: str) -> None:
    with pytest.raises(TrafficError, match=words.replace(".", r"\.").replace("%", "%")):
        parse_traffic(text)


@pytest.mark.parametrize(
    "text", ["all-at-once", "canary 10% 5m", "linear 10% every 1m", "canary 2.5% 90s"]
)
def test_describe_reads_back(text: str) -> None:
    assert parse_traffic(parse_traffic(text).describe()) == parse_traffic(text)


def test_format_duration_picks_the_largest_unit() -> None:
    assert [format_duration(s) for s in (30, 60, 90, 3600, 7200, 0)] == [
        "30s",
        "1m",
        "90s",
        "1h",
        "2h",
        "0s",
    ]


def test_shift_view_says_the_share_and_when_the_next_step_is_due() -> None:
    canary = parse_traffic("canary 10% 5m")
    first = [{"percent": 10.0, "at": "2026-12-01T18:00:00Z", "ok": None}]
    assert shift_view(first, canary) == {
        "percent": 10.0,
        "step": 1,
        "steps": 2,
        "next_step_at": "2026-12-01T18:05:00Z",
    }
    full = [{**first[0], "ok": True}, {"percent": 100.0, "at": "2026-12-01T18:05:01Z", "ok": None}]
    assert shift_view(full, canary)["next_step_at"] is None  # type: ignore[index]
    stopped = [{**first[0], "ok": False}]
    assert shift_view(stopped, canary)["next_step_at"] is None  # type: ignore[index]
    assert shift_view(None, canary) is None
