"""``lambda-promote state migrate --to URL`` (DESIGN §11.6): a real ledger — deployments,
checks, a rollback, approvals with decisions, a keyed audit chain — copied SQLite → DynamoDB
→ PostgreSQL and compared record by record; a non-empty destination refused; an interrupted
copy completed by running the command again; the copy verified with ``audit --verify``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_project import Project, make_project
from lambda_promote.ledger.dynamo_transfer import DynamoStore
from lambda_promote.ledger.records import Records
from lambda_promote.ledger.transfer import open_store
from ledger_fixtures import dynamodb_table, postgres_schema

KEY = {"LAMBDA_PROMOTE_AUDIT_KEY": "a-key-for-the-chain"}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A SQLite ledger with a little of everything in it."""
    project = make_project(tmp_path / "p")
    _, deployed = project.run("deploy", "staging", env=KEY, check=0)
    project.release("r2", broken=True)
    project.run("deploy", "staging", env=KEY, check=3)  # rolled back, with its checks
    digest = deployed["deployment"]["digest"]
    _, opened = project.run("request-approval", "production", "--artifact", digest, env=KEY)
    request_id = opened["approval_request"]["id"]
    project.run("approve", request_id, "--env", "production", user="lead", env=KEY, check=0)
    project.run("deploy", "production", "--artifact", digest, env=KEY, check=0)
    project.run("request-approval", "eu-production", "--artifact", digest, env=KEY, check=0)
    return project


@pytest.fixture
def dynamo_url(tmp_path: Path) -> Iterator[str]:
    with dynamodb_table(server=True, root=tmp_path, create=False) as url:
        yield url


def records(url: str, root: Path) -> Records:
    store = open_store(url, root=root)
    try:
        return store.read()
    finally:
        store.close()


def test_sqlite_to_dynamodb_to_postgresql_keeps_every_record(
    project: Project, dynamo_url: str, tmp_path: Path
):
    original = records("sqlite:///.lambda-promote/state.db", project.root)
    assert original.counts()["checks"] > 0
    assert original.counts()["approval_decisions"] == 1

    _, moved = project.run("state", "migrate", "--to", dynamo_url, env=KEY, check=0)
    assert moved["migration"]["counts"] == original.counts()
    assert moved["migration"]["created"] is True
    assert moved["migration"]["audit_head"] == original.audit[-1].hash
    assert records(dynamo_url, project.root) == original

    with postgres_schema() as postgres:
        _, again = project.run(
            "state",
            "migrate",
            "--to",
            postgres,
            env={**KEY, "LAMBDA_PROMOTE_STATE": dynamo_url},
            check=0,
        )
        assert again["migration"]["counts"] == original.counts()
        assert records(postgres, project.root) == original
        # The copy is a working ledger: the chain verifies there, with the same key.
        _, verified = project.run(
            "audit", "--verify", env={**KEY, "LAMBDA_PROMOTE_STATE": postgres}, check=0
        )
        assert verified["ok"] is True


def test_the_copy_in_dynamodb_is_a_working_ledger(project: Project, dynamo_url: str):
    project.run("state", "migrate", "--to", dynamo_url, env=KEY, check=0)
    there = {**KEY, "LAMBDA_PROMOTE_STATE": dynamo_url}
    project.run("audit", "--verify", env=there, check=0)
    _, history = project.run("history", "staging", env=there, check=0)
    assert [d["state"] for d in history["deployments"]] == ["rolled_back", "succeeded"]
    _, status = project.run("status", env=there, check=0)
    assert len(status["environments"]["eu-production"]["approvals"]) == 1
    # The next deployment appends to the copied chain.
    project.release("r3")
    project.run("deploy", "staging", env=there, check=0)
    project.run("audit", "--verify", env=there, check=0)


def test_a_destination_holding_a_ledger_is_refused_and_left_alone(
    project: Project, dynamo_url: str, tmp_path: Path
):
    other = make_project(tmp_path / "other", state=dynamo_url)
    other.run("state", "init", check=0)
    other.run("deploy", "staging", check=0)
    before = records(dynamo_url, other.root)

    _, body = project.run("state", "migrate", "--to", dynamo_url, env=KEY, check=1)
    assert body["error"]["code"] == "destination_not_empty"
    assert records(dynamo_url, other.root) == before

    # Into SQL too: a SQLite file that holds a ledger is refused.
    _, body = project.run("state", "migrate", "--to", "sqlite:///other.db", env={**KEY}, check=0)
    _, body = project.run("state", "migrate", "--to", "sqlite:///other.db", env=KEY, check=1)
    assert body["error"]["code"] == "destination_not_empty"


def test_an_interrupted_copy_into_dynamodb_is_completed_by_running_it_again(
    project: Project, dynamo_url: str
):
    source = records("sqlite:///.lambda-promote/state.db", project.root)
    destination = DynamoStore(dynamo_url)
    destination.prepare()

    class Interrupted(Exception):
        pass

    def half_then_die(items: list[dict[str, object]]) -> None:
        original_put_many(items[: len(items) // 2])
        raise Interrupted

    original_put_many = destination.table.put_many
    destination.table.put_many = half_then_die  # type: ignore[method-assign]
    with pytest.raises(Interrupted):
        destination.write(source, source=_shown_source(project))
    partial = records(dynamo_url, project.root)
    assert partial.counts()["deployments"] + partial.counts()["artifacts"] > 0
    assert partial != source

    _, body = project.run("state", "migrate", "--to", dynamo_url, env=KEY, check=0)
    assert body["migration"]["counts"] == source.counts()
    assert records(dynamo_url, project.root) == source


def test_migrating_to_itself_is_a_usage_error(project: Project):
    _, body = project.run(
        "state", "migrate", "--to", "sqlite:///.lambda-promote/state.db", env=KEY, check=2
    )
    assert "already uses" in body["error"]["message"]


def _shown_source(project: Project) -> str:
    store = open_store("sqlite:///.lambda-promote/state.db", root=project.root)
    try:
        return store.shown
    finally:
        store.close()


def test_a_many_function_release_travels_with_its_functions(tmp_path: Path):
    """Fields added to the records (here §11.4's ``functions``) travel to DynamoDB and back
    without a change to the migration."""
    from lambda_promote.ledger.sql import open_ledger
    from lambda_promote.ledger.transfer import migrate
    from lambda_promote.model import Deployment, DeploymentState

    functions = {"api": {"digest": "a" * 64, "version": "4", "moved": True}}
    with open_ledger(SQLITE, root=tmp_path) as ledger:
        ledger.create_deployment(
            Deployment(
                id="d-1", env="staging", digest="ab" * 32, state=DeploymentState.PENDING,
                functions=functions,
            )
        )  # fmt: skip
        ledger.transition("d-1", DeploymentState.SUCCEEDED, functions=functions)
    with dynamodb_table(server=False, root=tmp_path, create=False) as url:
        source, there = open_store(SQLITE, root=tmp_path), open_store(url, root=tmp_path)
        back = open_store("sqlite:///back.db", root=tmp_path)
        migrate(source, there, verify=lambda events: None)
        migrate(there, back, verify=lambda events: None)
        copied = back.read()
        assert copied == source.read()
        assert copied.deployments[0].functions == functions
        for store in (source, there, back):
            store.close()


SQLITE = "sqlite:///.lambda-promote/state.db"
