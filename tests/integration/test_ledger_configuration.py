"""The configuration a deployment carries (DESIGN §11.3) in every ledger: the in-memory fake,
SQLite and PostgreSQL keep it exactly, and a ledger written before revision 0004 is upgraded in
place with its deployments reading "not recorded" (None)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from lambda_promote.function_config import FunctionConfiguration
from lambda_promote.ledger import migrate, rows, tables
from lambda_promote.ledger.engine import create_ledger_engine, writing
from lambda_promote.ledger.sql import open_ledger
from lambda_promote.model import Deployment, DeploymentState
from ledger_fixtures import ALL_KINDS, SQL_KINDS, OpenLedger, ledger_opener

DIGEST = "ab" * 32
RELEASE = FunctionConfiguration(memory_mb=1024, variables={"TABLE": "orders", "MODE": "fast"})
EFFECTIVE = FunctionConfiguration(
    memory_mb=2048,
    timeout_seconds=60,
    layers=("arn:aws:lambda:us-east-1:111111111111:layer:common:3",),
    variables={"TABLE": "orders", "MODE": "fast", "STAGE": "prod"},
)


@pytest.fixture(params=ALL_KINDS)
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenLedger]:
    with ledger_opener(request.param, tmp_path) as (_url, open_):
        yield open_


def deployment(dep_id: str, **fields: object) -> Deployment:
    return Deployment(
        id=dep_id, env="production", digest=DIGEST, state=DeploymentState.PENDING, **fields
    )  # type: ignore[arg-type]


def test_a_deployment_keeps_its_configuration_and_digest_exactly(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_deployment(
        deployment(
            "d-1",
            configuration=EFFECTIVE.to_json(),
            configuration_digest=EFFECTIVE.digest,
            release_configuration=RELEASE.to_json(),
        )
    )
    ledger.transition("d-1", DeploymentState.PUBLISHING, note="")

    found = ledger.get_deployment("d-1")
    assert found is not None
    assert FunctionConfiguration.from_json(found.configuration) == EFFECTIVE
    assert found.configuration_digest == EFFECTIVE.digest
    assert FunctionConfiguration.from_json(found.release_configuration) == RELEASE
    listed = ledger.deployments(env="production")
    assert listed[0].configuration_digest == EFFECTIVE.digest


def test_a_deployment_without_configuration_reads_as_not_recorded(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_deployment(deployment("d-1"))

    found = ledger.get_deployment("d-1")
    assert found is not None
    assert (found.configuration, found.configuration_digest) == (None, None)
    assert found.release_configuration is None


@pytest.mark.parametrize("kind", SQL_KINDS)
def test_a_ledger_of_revision_0003_is_upgraded_and_its_deployments_have_no_configuration(
    kind: str, tmp_path: Path
):
    from alembic import command
    from alembic.config import Config

    with ledger_opener(kind, tmp_path) as (url, _open):
        assert url is not None
        engine = create_ledger_engine(url, root=tmp_path)
        try:
            with writing(engine) as connection:
                config = Config()
                config.set_main_option("script_location", str(migrate.MIGRATIONS))
                config.attributes["connection"] = connection
                command.upgrade(config, "0003")
                at = datetime(2026, 11, 30, tzinfo=UTC)
                row = rows.deployment_row(deployment("d-old"), created=at, updated=at)
                connection.execute(sa.insert(tables.deployments).values({**row, "seq": 1}))
        finally:
            engine.dispose()

        with open_ledger(url, root=tmp_path) as ledger:
            ledger.create_deployment(
                deployment("d-new", configuration={"memory_mb": 512}, configuration_digest="c" * 64)
            )
            assert ledger.schema_upgraded
            old, new = ledger.get_deployment("d-old"), ledger.get_deployment("d-new")
            assert old is not None
            assert new is not None
            assert old.configuration is None
            assert new.configuration == {"memory_mb": 512}
