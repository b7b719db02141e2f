"""A many-function deployment's functions (DESIGN §11.4, revision 0005) in every ledger: the
in-memory fake, SQLite (SQLAlchemy and the standard-library one) and PostgreSQL keep them
through creation and transitions; a single-function deployment reads None; a ledger written
before 0005 is upgraded in place; and a single-function project whose ledger the previous
release of lambda-promote wrote (revision 0004) keeps deploying and rolling back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from cli_project import make_project
from lambda_promote.ledger import migrate, rows, tables
from lambda_promote.ledger.engine import create_ledger_engine, writing
from lambda_promote.ledger.sql import open_ledger
from lambda_promote.model import Deployment, DeploymentState
from ledger_fixtures import ALL_KINDS, SQL_KINDS, OpenLedger, ledger_opener

S = DeploymentState
RELEASE = "ab" * 32
FUNCTIONS = {
    "api": {"digest": "a" * 64, "version": None, "previous_version": "3", "moved": False},
    "worker": {"digest": "b" * 64, "version": None, "previous_version": None, "moved": False},
}


@pytest.fixture(params=ALL_KINDS)
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenLedger]:
    with ledger_opener(request.param, tmp_path) as (_url, open_):
        yield open_


def deployment(dep_id: str, **fields: object) -> Deployment:
    return Deployment(id=dep_id, env="staging", digest=RELEASE, state=S.PENDING, **fields)  # type: ignore[arg-type]


def test_a_release_deployment_keeps_each_function_through_its_transitions(
    make_ledger: OpenLedger,
):
    ledger = make_ledger()
    ledger.create_deployment(deployment("d-1", functions=FUNCTIONS))
    published = {n: {**f, "version": str(i + 4)} for i, (n, f) in enumerate(FUNCTIONS.items())}
    ledger.transition("d-1", S.SHIFTING, functions=published)
    moved = {n: {**f, "moved": n == "api"} for n, f in published.items()}
    ledger.transition("d-1", S.ROLLING_BACK, error="worker: check failed", functions=moved)

    found = ledger.get_deployment("d-1")
    assert found is not None
    assert found.functions == moved
    assert [t.state for t in found.transitions] == [S.PENDING, S.SHIFTING, S.ROLLING_BACK]
    assert ledger.unfinished("staging")[0].functions == moved  # what recovery reads
    assert ledger.deployments("staging")[0].functions == moved
    moved["api"]["version"] = "changed by the caller"  # the ledger keeps its own copy
    assert ledger.get_deployment("d-1").functions["api"]["version"] == "4"  # type: ignore[union-attr]


def test_a_single_function_deployment_has_no_functions(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_deployment(deployment("d-1", version="2"))
    ledger.transition("d-1", S.SUCCEEDED)
    found = ledger.get_deployment("d-1")
    assert found is not None
    assert (found.functions, found.version) == (None, "2")


@pytest.mark.parametrize("kind", SQL_KINDS)
def test_a_ledger_of_revision_0004_is_upgraded_and_keeps_its_deployments(kind: str, tmp_path: Path):
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
                command.upgrade(config, "0004")
                at = datetime(2026, 11, 30, tzinfo=UTC)
                row = rows.deployment_row(deployment("d-old", version="7"), created=at, updated=at)
                connection.execute(sa.insert(tables.deployments).values({**row, "seq": 1}))
        finally:
            engine.dispose()

        with open_ledger(url, root=tmp_path) as ledger:
            ledger.create_deployment(deployment("d-new", functions=FUNCTIONS))
            assert ledger.schema_upgraded
            old, new = ledger.get_deployment("d-old"), ledger.get_deployment("d-new")
            assert old is not None
            assert new is not None
            assert (old.functions, old.version) == (None, "7")
            assert new.functions == FUNCTIONS


def test_a_single_function_project_on_a_ledger_the_previous_release_wrote(tmp_path: Path):
    """The previous lambda-promote wrote this ledger at revision 0004: the same project keeps
    working, its release digest is still its artifact digest, and rollback finds the old
    deployment."""
    project = make_project(tmp_path)
    _, first = project.run("deploy", "staging", check=0)
    digest = first["deployment"]["digest"]
    # Back to exactly the schema the previous release wrote: revision 0004, no functions.
    project.sql("alter table deployments drop column functions")
    project.sql("alter table artifacts drop column committed_at")  # revision 0008
    project.sql("update alembic_version set version_num = '0004'")
    assert project.sql("select version_num from alembic_version") == [("0004",)]

    _, built = project.run("build", check=0)
    assert built["release"]["digest"] == built["artifact"]["digest"] == digest
    project.release("r2")
    _, second = project.run("deploy", "staging", check=0)
    dep = second["deployment"]
    assert (dep["version"], dep["previous_version"]) == ("2", "1")
    assert dep["functions"] == {
        "function": {"digest": dep["digest"], "version": "2", "previous_version": "1"}
    }
    _, back = project.run("rollback", "staging", check=0)
    assert (back["deployment"]["version"], back["deployment"]["digest"]) == ("1", digest)
    assert project.sql("select version_num from alembic_version") == [(migrate.HEAD,)]
