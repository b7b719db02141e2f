"""The committer time of an artifact's commit (DESIGN §11.8, revision 0008) in every ledger:
the in-memory fake, SQLite (SQLAlchemy and the standard-library one) and PostgreSQL keep it
UTC-aware; an artifact built outside git reads None; a ledger at the previous head (0005) is
upgraded in place and its old artifacts read None (``metrics`` then uses their build time)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from lambda_promote.ledger import rows, tables
from lambda_promote.model import Artifact
from ledger_fixtures import ALL_KINDS, OpenLedger, at_revision, ledger_opener

OLD, NEW = "a" * 64, "b" * 64
BUILT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# Committed at 09:15 in UTC+2: read back as 07:15 UTC.
COMMITTED = datetime(2026, 11, 28, 9, 15, 30, tzinfo=timezone(timedelta(hours=2)))


@pytest.fixture(params=ALL_KINDS)
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenLedger]:
    with ledger_opener(request.param, tmp_path) as (_url, open_):
        yield open_


def _artifact(digest: str, committed_at: datetime | None) -> Artifact:
    return Artifact(
        digest=digest,
        size=1,
        path="x.zip",
        commit="c1",
        builder="alice",
        built_at=BUILT,
        committed_at=committed_at,
    )


def test_an_artifact_keeps_its_commit_time_in_utc(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.record_artifact(_artifact(NEW, COMMITTED))
    ledger.record_artifact(_artifact(OLD, None))

    found, outside_git = ledger.find_artifact(NEW), ledger.find_artifact(OLD)
    assert found is not None
    assert outside_git is not None
    assert found.committed_at == COMMITTED
    assert found.committed_at is not None
    assert found.committed_at.utcoffset() == timedelta(0)
    assert found.committed_at.hour == 7
    assert outside_git.committed_at is None


@pytest.mark.parametrize(
    "kind", ["sqlite", "sqlite-stdlib", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_ledger_of_revision_0005_is_upgraded_and_its_old_artifacts_have_no_commit_time(
    kind: str, tmp_path: Path
):
    with ledger_opener(kind, tmp_path) as (url, open_):
        assert url is not None
        with at_revision(url, tmp_path, "0005") as connection:
            row = rows.artifact_row(_artifact(OLD, None))
            del row["committed_at"]  # the columns of revision 0005
            connection.execute(sa.insert(tables.artifacts).values(row))

        ledger = open_()
        ledger.record_artifact(_artifact(NEW, COMMITTED))
        old, new = ledger.find_artifact(OLD), ledger.find_artifact(NEW)
        assert old is not None
        assert new is not None
        assert (old.commit, old.built_at, old.committed_at) == ("c1", BUILT, None)
        assert new.committed_at == COMMITTED
