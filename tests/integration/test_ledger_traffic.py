"""The steps of a progressive shift (DESIGN §11.5) in every ledger: the in-memory fake, both
SQLite ledgers and PostgreSQL keep ``deployment.traffic`` exactly, written with the transition
that announces the step, and a ledger from before the traffic column is upgraded in place."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from lambda_promote.ledger import migrate, rows, tables
from lambda_promote.ledger.engine import create_ledger_engine, writing
from lambda_promote.ledger.sql import open_ledger
from lambda_promote.model import Deployment, DeploymentState
from ledger_fixtures import ALL_KINDS, SQL_KINDS, OpenLedger, ledger_opener

S = DeploymentState
DIGEST = "cd" * 32


@pytest.fixture(params=ALL_KINDS)
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenLedger]:
    with ledger_opener(request.param, tmp_path) as (_url, open_):
        yield open_


def deployment(dep_id: str) -> Deployment:
    return Deployment(id=dep_id, env="staging", digest=DIGEST, state=S.PENDING)


def test_each_step_is_kept_with_the_transition_that_announced_it(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_deployment(deployment("d-1"))
    ledger.transition("d-1", S.SHIFTING, version="7")
    steps = [{"percent": 10.0, "at": "2026-12-01T18:00:00Z", "ok": None}]
    ledger.transition("d-1", S.SHIFTING, note="traffic 10% to version 7", traffic=steps)
    steps[0]["ok"] = "changed by the caller afterwards"  # the ledger keeps what it was given

    found = ledger.get_deployment("d-1")
    assert found is not None
    assert found.traffic == [{"percent": 10.0, "at": "2026-12-01T18:00:00Z", "ok": None}]
    assert [t.note for t in found.transitions][-1] == "traffic 10% to version 7"

    walked = [
        {"percent": 10.0, "at": "2026-12-01T18:00:00Z", "ok": True},
        {"percent": 100.0, "at": "2026-12-01T18:05:00Z", "ok": None},
    ]
    ledger.transition("d-1", S.SHIFTING, note="traffic 100% to version 7", traffic=walked)
    assert ledger.deployments(env="staging")[0].traffic == walked
    assert ledger.unfinished("staging")[0].traffic == walked


def test_an_all_at_once_deployment_has_no_traffic_steps(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_deployment(deployment("d-1"))
    ledger.transition("d-1", S.SUCCEEDED, version="3")
    found = ledger.get_deployment("d-1")
    assert found is not None
    assert found.traffic is None


@pytest.mark.parametrize("kind", SQL_KINDS)
def test_a_ledger_from_before_the_traffic_column_is_upgraded(kind: str, tmp_path: Path):
    from alembic import command
    from alembic.config import Config

    before = migrate.REVISIONS[migrate.REVISIONS.index(migrate.HEAD) - 1]
    with ledger_opener(kind, tmp_path) as (url, _open):
        assert url is not None
        engine = create_ledger_engine(url, root=tmp_path)
        try:
            with writing(engine) as connection:
                config = Config()
                config.set_main_option("script_location", str(migrate.MIGRATIONS))
                config.attributes["connection"] = connection
                command.upgrade(config, before)
                at = datetime(2026, 11, 30, tzinfo=UTC)
                row = rows.deployment_row(deployment("d-old"), created=at, updated=at)
                connection.execute(sa.insert(tables.deployments).values({**row, "seq": 1}))
        finally:
            engine.dispose()

        with open_ledger(url, root=tmp_path) as ledger:
            ledger.create_deployment(deployment("d-new"))
            ledger.transition(
                "d-new", S.SHIFTING, traffic=[{"percent": 5.0, "at": "t", "ok": None}]
            )
            assert ledger.schema_upgraded
            old, new = ledger.get_deployment("d-old"), ledger.get_deployment("d-new")
            assert old is not None
            assert new is not None
            assert old.traffic is None
            assert new.traffic == [{"percent": 5.0, "at": "t", "ok": None}]
