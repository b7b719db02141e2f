"""``metrics --since``: which window a user's words mean (docs/metrics.md, "The window"),
and the release times the lead time starts from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fakes import MemoryLedger
from lambda_promote.errors import UsageError, exit_code_for
from lambda_promote.metrics_window import parse_since, release_times
from lambda_promote.model import Artifact, Deployment, DeploymentKind, DeploymentState

NOW = datetime(2026, 12, 1, 17, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("12h", NOW - timedelta(hours=12)),
        ("7d", NOW - timedelta(days=7)),
        ("4w", NOW - timedelta(weeks=4)),
        ("90D", NOW - timedelta(days=90)),
        (" 30d ", NOW - timedelta(days=30)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T09:15", datetime(2026, 11, 1, 9, 15, tzinfo=UTC)),
        ("2026-11-01T09:15+01:00", datetime(2026, 11, 1, 8, 15, tzinfo=UTC)),
    ],
)
def test_a_span_or_an_iso_date_names_the_window_start(text: str, start: datetime) -> None:
    found = parse_since(text, now=NOW)

    assert found == start
    assert found.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["", "30", "d30", "7y", "1.5d", "0h", "soon", "2026-13-01"])
def test_anything_else_is_a_usage_error_with_the_forms_as_hint(text: str) -> None:
    with pytest.raises(UsageError) as refused:
        parse_since(text, now=NOW)

    assert exit_code_for(refused.value) == 2
    assert "12h, 7d, 4w, 90d" in refused.value.hint


def test_a_start_not_in_the_past_is_refused() -> None:
    later = NOW.astimezone(timezone(timedelta(hours=-5))) + timedelta(minutes=1)
    with pytest.raises(UsageError, match="not in the past"):
        parse_since(later.isoformat(), now=NOW)


def test_release_times_are_build_times_of_the_releases_that_succeeded() -> None:
    ledger = MemoryLedger()
    built = NOW - timedelta(hours=5)
    for digest, when in (("a" * 64, built), ("b" * 64, built), ("c" * 64, None)):
        ledger.record_artifact(Artifact(digest=digest, size=1, path="x.zip", built_at=when))
    records = [
        Deployment(id="1", env="p", digest="a" * 64, state=DeploymentState.SUCCEEDED),
        Deployment(id="2", env="p", digest="b" * 64, state=DeploymentState.ROLLED_BACK),
        Deployment(id="3", env="p", digest="c" * 64, state=DeploymentState.SUCCEEDED),
        Deployment(id="4", env="p", digest="d" * 64, state=DeploymentState.SUCCEEDED),
        Deployment(
            id="5",
            env="p",
            digest="b" * 64,
            state=DeploymentState.SUCCEEDED,
            kind=DeploymentKind.ROLLBACK,
        ),
    ]

    # Only successful deployments need one; no build time or no artifact: no lead time.
    assert release_times(ledger, records) == {"a" * 64: built}


def test_a_release_time_is_its_commit_time_and_its_build_time_only_without_one() -> None:
    """DESIGN §11.8: lead time starts at the commit. ``built_at`` stands in only for artifacts
    recorded before the ledger kept commit times, or built outside git."""
    ledger = MemoryLedger()
    committed = NOW - timedelta(days=3)
    built = NOW - timedelta(hours=5)
    ledger.record_artifact(
        Artifact(digest="a" * 64, size=1, path="x.zip", built_at=built, committed_at=committed)
    )
    ledger.record_artifact(Artifact(digest="b" * 64, size=1, path="y.zip", built_at=built))
    records = [
        Deployment(id="1", env="p", digest="a" * 64, state=DeploymentState.SUCCEEDED),
        Deployment(id="2", env="p", digest="b" * 64, state=DeploymentState.SUCCEEDED),
    ]

    assert release_times(ledger, records) == {"a" * 64: committed, "b" * 64: built}
