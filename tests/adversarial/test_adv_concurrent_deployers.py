"""Twenty deployers race for one environment with the ledger on PostgreSQL: exactly one holds
the lock at any moment, every other is refused at once (exit 6, naming the holder), and the
lock passes on only when it is released — so a deployer that starts after the first one
finished is simply the next deployment, which is what "two winners in one round, one after
the other" was (docs/operations.md, "Locks").

Acquisitions and releases are recorded by PostgreSQL itself: a trigger on the ledger's
``locks`` table (in the test's own schema) logs each insert and delete in commit order.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cli_project import Project, make_project
from ledger_fixtures import postgres_schema

pytestmark = pytest.mark.postgres

DEPLOYERS = 20

LOCK_LOG = """
CREATE TABLE lock_log (
    seq bigserial PRIMARY KEY, op text NOT NULL, deployment_id text NOT NULL,
    holder text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION log_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO lock_log (op, deployment_id, holder)
        VALUES ('acquire', NEW.deployment_id, NEW.holder);
    ELSE
        INSERT INTO lock_log (op, deployment_id, holder)
        VALUES ('release', OLD.deployment_id, OLD.holder);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER log_lock AFTER INSERT OR DELETE ON locks
    FOR EACH ROW EXECUTE FUNCTION log_lock();
"""


@pytest.fixture
def team(tmp_path: Path) -> Iterator[tuple[Project, sa.Engine]]:
    with postgres_schema() as url:
        project = make_project(tmp_path / "team", state=url)
        engine = sa.create_engine(url)
        try:
            yield project, engine
        finally:
            engine.dispose()


def query(engine: sa.Engine, statement: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.exec_driver_sql(statement)]


def finish(proc: subprocess.Popen[str]) -> tuple[int, dict[str, Any]]:
    out, err = proc.communicate(timeout=300)
    try:
        return proc.returncode, json.loads(out)
    except ValueError as exc:
        raise AssertionError(f"not one JSON object: {out!r}\n{err}") from exc


def wait_for_release(engine: sa.Engine) -> None:
    deadline = time.monotonic() + 120
    while not query(engine, "SELECT 1 FROM lock_log WHERE op = 'release'"):
        assert time.monotonic() < deadline, "no deployer ever released the lock"
        time.sleep(0.05)


def test_twenty_racing_deployers_never_overlap_and_the_losers_are_refused_at_once(team):
    project, engine = team
    project.run("deploy", "staging", check=0)  # r1 live; the ledger's tables exist
    with engine.begin() as connection:
        connection.exec_driver_sql(LOCK_LOG)
    project.release("r2", sleep=1)  # the winner holds the lock for a while
    project.run("build", check=0)  # every racer finds the artifact built

    racers = [project.popen("deploy", "staging", user=f"racer-{n}") for n in range(DEPLOYERS - 1)]
    # The last one starts once the lock was released, as a slow starter in the round.
    wait_for_release(engine)
    racers.append(project.popen("deploy", "staging", user="late-racer"))
    results = [finish(proc) for proc in racers]

    codes = [code for code, _ in results]
    assert set(codes) <= {0, 6}, codes
    won = {body["deployment"]["id"]: body["deployment"] for code, body in results if code == 0}
    assert len(won) >= 2  # the first, and whoever took the lock after it was released

    # PostgreSQL's own record: acquire, release, acquire, release … — never two holders.
    log = query(engine, "SELECT op, deployment_id FROM lock_log ORDER BY seq")
    assert [op for op, _ in log] == ["acquire", "release"] * len(won)
    order = [dep for _, dep in log[::2]]
    assert order == [dep for _, dep in log[1::2]]
    assert set(order) == set(won)

    # The first winner moved r2 live; each later one was an ordinary next deployment that
    # found r2 already live (it started after the lock was released, so it saw the result).
    first, *later = (won[dep] for dep in order)
    assert first["previous_version"] == "1"
    for deployment in later:
        assert deployment["previous_version"] == deployment["version"] == first["version"]

    # Every loser was refused at once by a deployment holding the lock at that moment, and
    # left nothing behind: no deployment row, no lock, no waiting.
    for code, body in results:
        if code == 6:
            assert body["error"]["code"] == "locked"
            holder = re.search(r"for deployment (d-[0-9a-f]+)", body["error"]["message"])
            assert holder is not None, body["error"]
            assert holder.group(1) in won, body["error"]
    deployments = query(engine, "SELECT id, state FROM deployments ORDER BY seq")
    assert [dep for dep, _ in deployments[1:]] == order
    assert {state for _, state in deployments} == {"succeeded"}
    assert query(engine, "SELECT * FROM locks") == []
    project.run("audit", "--verify", check=0)
