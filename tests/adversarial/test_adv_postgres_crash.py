"""Crash recovery with the ledger on PostgreSQL (a team's shared ledger): a deploy killed with
SIGKILL after publishing, after moving the alias, and in the middle of its checks, each
resolved by the next command — as with SQLite (tests/integration/test_cli_deploy.py), but
through a real server connection that the dead process never closed.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cli_project import Project, make_project
from ledger_fixtures import postgres_schema

pytestmark = pytest.mark.postgres


@pytest.fixture
def team(tmp_path: Path) -> Iterator[tuple[Project, sa.Engine]]:
    with postgres_schema() as url:
        project = make_project(tmp_path / "team", state=url)
        engine = sa.create_engine(url)
        try:
            yield project, engine
        finally:
            engine.dispose()


def ledger(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT id, state, version, previous_version, digest FROM deployments ORDER BY seq"
        )
        return [dict(row._mapping) for row in found]


def live(project: Project) -> dict[str, Any]:
    return project.run("status", "staging", check=0)[1]["environments"]["staging"]


def killed_at(project: Project, crash_at: str) -> None:
    proc = project.popen("deploy", "staging", env={"LAMBDA_PROMOTE_CRASH_AT": crash_at})
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err


def assert_alias_recorded(project: Project, engine: sa.Engine) -> dict[str, Any]:
    """DESIGN §5.5: the alias points at a version the ledger recorded; returns status."""
    status = live(project)
    known = {v for row in ledger(engine) for v in (row["version"], row["previous_version"])}
    assert status["version"] in known, (status, ledger(engine))
    return status


def test_deploys_killed_at_each_step_are_resolved_by_the_next_command_on_postgresql(team):
    project, engine = team
    _, first = project.run("deploy", "staging", check=0)
    project.release("r2")

    # Killed after publishing: nothing moved. Status shows it, with a stale lock.
    killed_at(project, "publish")
    status = assert_alias_recorded(project, engine)
    assert [d["state"] for d in status["in_flight"]] == ["publishing"]
    assert status["lock"]["stale"] is True
    assert status["version"] == "1"

    # Killed after moving the alias; this command first marked the one above failed.
    killed_at(project, "shift")
    rows = ledger(engine)
    assert [r["state"] for r in rows] == ["succeeded", "failed", "shifting"]
    status = assert_alias_recorded(project, engine)
    assert status["version"] == rows[-1]["version"] != "1"

    # Killed during its checks (by a person, with kill -9), after this command rolled the
    # one above back and verified it.
    project.release("r3", sleep=30)
    victim = project.popen("deploy", "staging")
    deadline = time.monotonic() + 120
    while [r["state"] for r in ledger(engine)][-1:] != ["verifying"]:
        assert time.monotonic() < deadline, "never reached verifying"
        assert victim.poll() is None, "the deploy ended before verifying"
        time.sleep(0.1)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)
    rows = ledger(engine)
    assert [r["state"] for r in rows] == ["succeeded", "failed", "rolled_back", "verifying"]
    assert rows[-1]["previous_version"] == "1"
    assert_alias_recorded(project, engine)

    # The user's rollback undoes the interrupted deployment, and goes no further.
    _, body = project.run("rollback", "staging", check=0)
    assert (body["deployment"]["id"], body["deployment"]["state"]) == (
        rows[-1]["id"],
        "rolled_back",
    )
    status = live(project)
    assert status["in_flight"] == []
    assert status["lock"] is None
    assert (status["version"], status["digest"]) == ("1", first["deployment"]["digest"])
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM locks").scalar() == 0
    _, audit = project.run("audit", "--verify", check=0)
    assert audit["ok"] is True
