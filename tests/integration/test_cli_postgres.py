"""The same deploy / rollback / gate story with the ledger on PostgreSQL — how a team shares
history across machines (``LAMBDA_PROMOTE_STATE`` from a CI secret overrides ``state``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_project import make_project
from ledger_fixtures import postgres_schema

pytestmark = pytest.mark.postgres


def test_deploy_gate_and_rollback_with_the_ledger_on_postgresql(tmp_path: Path) -> None:
    with postgres_schema() as url:
        project = make_project(tmp_path / "team")
        env = {"LAMBDA_PROMOTE_STATE": url}
        _, first = project.run("deploy", "staging", env=env, check=0)
        project.release("r2", broken=True)
        code, _ = project.run("deploy", "staging", env=env)
        assert code == 3
        _, body = project.run("request-approval", "production", env=env, check=0)
        req = body["approval_request"]["id"]
        project.run("approve", req, "--env", "production", user="ops", env=env, check=0)
        project.run("deploy", "production", user="ops", env=env, check=0)
        _, status = project.run("status", env=env, check=0)
        assert status["environments"]["production"]["digest"] == first["deployment"]["digest"]
        _, history = project.run("history", env=env, check=0)
        assert [d["state"] for d in history["deployments"]] == [
            "succeeded",
            "rolled_back",
            "succeeded",
        ]
        project.run("audit", "--verify", env=env, check=0)
        # Nothing was written to the default SQLite file: the override really was used.
        assert not (project.root / ".lambda-promote" / "state.db").exists()
