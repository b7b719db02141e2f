"""What only a real database shows: several processes at once, migrations, where the SQLite file
lives, how the database failing reaches the user, what a hand-edited audit row looks like.
SQLite and PostgreSQL (skipped without a server on 127.0.0.1)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from lambda_promote import audit
from lambda_promote.errors import ConfigError, LedgerError
from lambda_promote.ledger import migrate, rows, tables
from lambda_promote.ledger.engine import create_ledger_engine, ledger_url, writing
from lambda_promote.ledger.sql import SqlLedger, open_ledger
from lambda_promote.ledger.tables import metadata
from lambda_promote.model import (
    ApprovalDecision,
    ApprovalRequest,
    Deployment,
    DeploymentState,
    RequestState,
)
from ledger_fixtures import SQL_KINDS, SQLITE_URL, ledger_opener, postgres_schema

DIGEST = "ab" * 32
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
KEY = b"audit-key"

# Opens the ledger (racing the others to create it), waits at a barrier, takes the lock.
RACER = """
import sys, time
from pathlib import Path
from lambda_promote.errors import EnvironmentLocked
from lambda_promote.ledger.sql import open_ledger

url, root, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
with open_ledger(url, root=root) as ledger:
    (root / f"ready-{name}").touch()
    while not (root / "go").exists():
        time.sleep(0.001)
    try:
        ledger.acquire_lock("production", holder=name, deployment_id=f"d-{name}")
    except EnvironmentLocked as error:
        print("locked:", error.message)
    else:
        print("won")
"""

# Waits at the barrier, then tries to consume approval request r-1 for its own deployment.
CONSUMER = """
import sys, time
from pathlib import Path
from lambda_promote.errors import GateBlocked
from lambda_promote.ledger.sql import open_ledger
from lambda_promote.model import RequestState

url, root, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
with open_ledger(url, root=root) as ledger:
    (root / f"ready-{name}").touch()
    while not (root / "go").exists():
        time.sleep(0.001)
    try:
        ledger.set_request_state("r-1", RequestState.CONSUMED, consumed_by=f"d-{name}")
    except GateBlocked as error:
        print(error.code, error.message)
    else:
        print("won")
"""

# Waits at the barrier, then appends 10 hash-chained audit events.
APPENDER = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from lambda_promote.audit import chain
from lambda_promote.ledger.sql import open_ledger

url, root, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
with open_ledger(url, root=root) as ledger:
    (root / f"ready-{name}").touch()
    while not (root / "go").exists():
        time.sleep(0.001)
    for step in range(10):
        ledger.append_audit(
            lambda last: chain(
                last, at=datetime.now(UTC), actor=name, action=f"step{step}", key=b"audit-key"
            )
        )
"""

# Opens the ledger in a fresh interpreter and says whether that needed Alembic.
OPENER = """
import json, sys
from pathlib import Path
from lambda_promote.ledger.sql import open_ledger

with open_ledger(sys.argv[1], root=Path(sys.argv[2])) as ledger:
    print(json.dumps({"upgraded": ledger.schema_upgraded, "alembic": "alembic" in sys.modules}))
"""

# Like OPENER, but first waits at a barrier so that all openers start together.
EAGER_OPENER = (
    """
import sys, time
from pathlib import Path
root, name = Path(sys.argv[2]), sys.argv[3]
(root / f"ready-{name}").touch()
while not (root / "go").exists():
    time.sleep(0.001)
"""
    + OPENER
)


@pytest.fixture(params=SQL_KINDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh SQL ledger, not opened yet, rooted at tmp_path."""
    with ledger_opener(request.param, tmp_path) as (ledger_url_, _open):
        assert ledger_url_ is not None
        yield ledger_url_


def run_python(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(paths: list[Path], processes: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + 120
    while not all(p.exists() for p in paths):
        failed = [p for p in processes if p.poll() not in (None, 0)]
        if failed or time.monotonic() > deadline:
            details = [p.communicate()[1] for p in failed]
            pytest.fail(f"racers did not get ready: {details}")
        time.sleep(0.01)


def test_of_processes_racing_for_an_environment_exactly_one_wins(url: str, tmp_path: Path):
    names = [f"racer{n}" for n in range(6)]
    racers = [run_python(RACER, url, str(tmp_path), name) for name in names]
    wait_for([tmp_path / f"ready-{name}" for name in names], racers)
    (tmp_path / "go").touch()
    outputs = [racer.communicate(timeout=120) for racer in racers]

    assert [racer.returncode for racer in racers] == [0] * 6, [err for _, err in outputs]
    results = [out.strip() for out, _ in outputs]
    winners = [name for name, result in zip(names, results, strict=True) if result == "won"]
    assert len(winners) == 1, results
    losers = [result for result in results if result != "won"]
    assert all(f"locked by {winners[0]} for deployment d-{winners[0]}" in r for r in losers)
    with open_ledger(url, root=tmp_path) as ledger:
        assert ledger.lock_info("production").holder == winners[0]  # type: ignore[union-attr]


def race_processes(script: str, url: str, root: Path, count: int) -> list[str]:
    """Start ``count`` copies of ``script``, release them together; their outputs."""
    names = [f"racer{n}" for n in range(count)]
    racers = [run_python(script, url, str(root), name) for name in names]
    wait_for([root / f"ready-{name}" for name in names], racers)
    (root / "go").touch()
    outputs = [racer.communicate(timeout=120) for racer in racers]
    assert [racer.returncode for racer in racers] == [0] * count, [err for _, err in outputs]
    return [out.strip() for out, _ in outputs]


def approval_request(req_id: str) -> ApprovalRequest:
    return ApprovalRequest(
        id=req_id,
        env="production",
        digest=DIGEST,
        requested_by="carol",
        requested_at=T0,
        expires_at=T0 + timedelta(hours=72),
        decisions=[ApprovalDecision("bob", True, T0)],
    )


def test_of_processes_deploying_with_one_approval_exactly_one_consumes_it(url: str, tmp_path: Path):
    with open_ledger(url, root=tmp_path) as ledger:
        ledger.create_request(approval_request("r-1"))

    results = race_processes(CONSUMER, url, tmp_path, 6)

    winners = [f"d-racer{n}" for n, result in enumerate(results) if result == "won"]
    assert len(winners) == 1, results
    losers = [result for result in results if result != "won"]
    expected = f"approval_consumed request r-1 was already consumed by deployment {winners[0]}"
    assert losers == [expected] * 5
    with open_ledger(url, root=tmp_path) as ledger:
        stored = ledger.get_request("r-1")
    assert stored is not None
    assert (stored.state, stored.consumed_by) == (RequestState.CONSUMED, winners[0])


def test_processes_appending_at_once_leave_one_unbroken_audit_chain(url: str, tmp_path: Path):
    race_processes(APPENDER, url, tmp_path, 5)

    with open_ledger(url, root=tmp_path) as ledger:
        events = ledger.audit_events()
    assert [e.seq for e in events] == list(range(1, 51))
    for name in (f"racer{n}" for n in range(5)):  # each writer's events in its own order
        assert [e.action for e in events if e.actor == name] == [f"step{i}" for i in range(10)]
    assert audit.verify(events, key=KEY).ok


def write_trail(ledger: SqlLedger, count: int) -> None:
    for number in range(1, count + 1):
        ledger.append_audit(
            lambda last, n=number: audit.chain(
                last, at=T0, actor="alice", action=f"step{n}", details={"n": n}, key=KEY
            )
        )


@pytest.mark.parametrize(
    ("edit", "first_bad", "problem"),
    [
        ("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3", 3, "modified"),
        ("UPDATE audit_events SET details = '{\"n\": 33}' WHERE seq = 3", 3, "modified"),
        ("UPDATE audit_events SET details = 'not json' WHERE seq = 3", 3, "modified"),
        ("DELETE FROM audit_events WHERE seq = 3", 4, "missing"),
        ("UPDATE audit_events SET seq = 99 WHERE seq = 5", 99, "where event 5 belongs"),
    ],
)
def test_a_hand_edited_audit_trail_fails_verification_at_the_edit(
    url: str, tmp_path: Path, edit: str, first_bad: int, problem: str
):
    with open_ledger(url, root=tmp_path) as ledger:
        write_trail(ledger, 5)
        head = ledger.audit_events()[-1].hash
        with ledger.engine.begin() as connection:
            connection.exec_driver_sql(edit)
        events = ledger.audit_events()  # read back as stored, however broken

    checked = audit.verify(events, key=KEY, head=head)
    assert not checked.ok
    assert checked.first_bad == first_bad
    assert problem in checked.problem


def test_a_reviewer_cannot_decide_twice_even_bypassing_the_code(url: str, tmp_path: Path):
    with open_ledger(url, root=tmp_path) as ledger:
        ledger.create_request(approval_request("r-1"))
        with pytest.raises(sa.exc.IntegrityError), ledger.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO approval_decisions "
                    "(request_id, seq, reviewer, approve, at, comment, source) "
                    "VALUES ('r-1', 2, 'bob', :no, :at, '', 'builtin')"
                ),
                {"no": False, "at": T0},
            )
        assert len(ledger.get_request("r-1").decisions) == 1  # type: ignore[union-attr]


def test_requests_are_read_with_their_decisions_in_two_queries_however_many(
    url: str, tmp_path: Path
):
    with open_ledger(url, root=tmp_path) as ledger:
        for number in range(20):
            ledger.create_request(approval_request(f"r-{number}"))
            ledger.add_decision(f"r-{number}", ApprovalDecision("amy", True, T0))
        statements: list[str] = []

        def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            statements.append(statement)

        sa.event.listen(ledger.engine, "before_cursor_execute", record)
        listed = ledger.requests(limit=None)
        sa.event.remove(ledger.engine, "before_cursor_execute", record)
    assert len(listed) == 20
    assert all([d.reviewer for d in r.decisions] == ["bob", "amy"] for r in listed)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2


def test_a_ledger_made_by_the_first_release_is_upgraded_in_place(url: str, tmp_path: Path):
    from alembic import command
    from alembic.config import Config

    engine = create_ledger_engine(url, root=tmp_path)
    try:
        with writing(engine) as connection:
            config = Config()
            config.set_main_option("script_location", str(migrate.MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
            # Written as the first release wrote it: today's SqlLedger reads columns 0001 lacks.
            old = Deployment(
                id="d-old", env="staging", digest=DIGEST, state=DeploymentState.PENDING
            )
            at = datetime(2024, 5, 1, tzinfo=UTC)
            row = rows.deployment_row(old, created=at, updated=at)
            connection.execute(sa.insert(tables.deployments).values({**row, "seq": 1}))
    finally:
        engine.dispose()

    with open_ledger(url, root=tmp_path) as ledger:
        assert ledger.schema_upgraded
        assert ledger.get_deployment("d-old").env == "staging"  # type: ignore[union-attr]
        ledger.create_request(approval_request("r-1"))
        write_trail(ledger, 1)
        with ledger.engine.connect() as connection:
            assert migrate.schema_revision(connection) == migrate.HEAD
        assert ledger.get_request("r-1").decisions[0].reviewer == "bob"  # type: ignore[union-attr]
    with open_ledger(url, root=tmp_path) as reopened:
        assert not reopened.schema_upgraded


def test_a_new_ledger_is_created_once_and_never_loads_alembic(url: str, tmp_path: Path):
    # An empty database gets today's tables directly (stamped at HEAD); Alembic is for
    # upgrading older ledgers only (see the in-place upgrade test).
    def open_in_fresh_process() -> dict[str, bool]:
        opener = run_python(OPENER, url, str(tmp_path))
        out, err = opener.communicate(timeout=120)
        assert opener.returncode == 0, err
        return json.loads(out)  # type: ignore[no-any-return]

    assert open_in_fresh_process() == {"upgraded": True, "alembic": False}
    assert open_in_fresh_process() == {"upgraded": False, "alembic": False}


def test_processes_opening_a_new_ledger_at_once_migrate_it_once(url: str, tmp_path: Path):
    names = [f"opener{n}" for n in range(6)]
    openers = [run_python(EAGER_OPENER, url, str(tmp_path), name) for name in names]
    wait_for([tmp_path / f"ready-{name}" for name in names], openers)
    (tmp_path / "go").touch()
    outputs = [opener.communicate(timeout=120) for opener in openers]

    assert [opener.returncode for opener in openers] == [0] * 6, [err for _, err in outputs]
    upgraded = [json.loads(out)["upgraded"] for out, _ in outputs]
    assert upgraded.count(True) == 1


def test_the_migrations_create_exactly_the_tables_the_code_queries(url: str, tmp_path: Path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    # Replay every migration on an empty database, as an old ledger's upgrade does, and
    # compare with tables.py, which a new ledger is created from directly.
    with open_ledger(url, root=tmp_path) as ledger:
        with writing(ledger.engine) as connection:
            metadata.drop_all(connection)
            connection.execute(sa.text("DROP TABLE alembic_version"))
            migrate._run_alembic(connection)
        with ledger.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
            assert migrate.schema_revision(connection) == migrate.HEAD
    assert differences == []


def test_the_revision_list_names_every_migration_script():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    oldest_first = [s.revision for s in reversed(list(scripts.walk_revisions()))]
    assert tuple(oldest_first) == migrate.REVISIONS
    assert scripts.get_heads() == [migrate.HEAD]


def test_a_ledger_written_by_a_newer_version_is_refused(url: str, tmp_path: Path):
    with open_ledger(url, root=tmp_path) as ledger, ledger.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))

    with pytest.raises(LedgerError, match="revision 9999") as refused:
        open_ledger(url, root=tmp_path)
    assert "upgrade lambda-promote" in refused.value.hint


def test_history_is_read_in_one_query_however_long(url: str, tmp_path: Path):
    with open_ledger(url, root=tmp_path) as ledger:
        for number in range(20):
            ledger.create_deployment(
                Deployment(
                    id=f"d-{number}", env="staging", digest=DIGEST, state=DeploymentState.PENDING
                )
            )
            ledger.transition(f"d-{number}", DeploymentState.SUCCEEDED)
        statements: list[str] = []

        def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            statements.append(statement)

        sa.event.listen(ledger.engine, "before_cursor_execute", record)
        assert len(ledger.deployments("staging", limit=None)) == 20
        sa.event.remove(ledger.engine, "before_cursor_execute", record)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


# --- SQLite -----------------------------------------------------------------------------------
def test_the_sqlite_ledger_lives_beside_promote_yaml_and_persists(tmp_path: Path):
    with open_ledger(SQLITE_URL, root=tmp_path) as ledger:
        ledger.create_deployment(
            Deployment(id="d-1", env="staging", digest=DIGEST, state=DeploymentState.PENDING)
        )
        ledger.acquire_lock("staging", holder="alice", deployment_id="d-1")

    assert (tmp_path / ".lambda-promote" / "state.db").is_file()
    with open_ledger(SQLITE_URL, root=tmp_path) as reopened:
        assert not reopened.schema_upgraded
        assert reopened.get_deployment("d-1").env == "staging"  # type: ignore[union-attr]
        assert reopened.lock_info("staging").holder == "alice"  # type: ignore[union-attr]


def test_a_reader_does_not_block_a_deployment_writing_to_sqlite(tmp_path: Path):
    with open_ledger(SQLITE_URL, root=tmp_path) as ledger:
        ledger.create_deployment(
            Deployment(id="d-1", env="staging", digest=DIGEST, state=DeploymentState.PENDING)
        )
        # Another process (say `status`) in the middle of a read.
        reader = sqlite3.connect(tmp_path / ".lambda-promote" / "state.db", isolation_level=None)
        try:
            reader.execute("BEGIN")
            assert reader.execute("SELECT state FROM deployments").fetchall() == [("pending",)]
            moved = ledger.transition("d-1", DeploymentState.PUBLISHING)
            # The reader keeps its snapshot; the write is durable for everyone else.
            assert reader.execute("SELECT state FROM deployments").fetchall() == [("pending",)]
        finally:
            reader.close()
    assert moved.state is DeploymentState.PUBLISHING


# --- the database failing, and bad settings -------------------------------------------------
def test_an_unreachable_database_is_a_ledger_error_that_hides_the_password(tmp_path: Path):
    with pytest.raises(LedgerError) as failed:
        open_ledger("postgresql+psycopg://deployer:s3cret-pw@127.0.0.1:1/ledger", root=tmp_path)
    assert "127.0.0.1" in failed.value.message
    assert "s3cret-pw" not in failed.value.message
    assert "state" in failed.value.hint


def test_a_state_setting_that_is_not_a_url_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="not a database URL"):
        open_ledger(".lambda-promote/state.db", root=tmp_path)


def test_a_bare_postgresql_url_uses_psycopg_3(tmp_path: Path):
    assert ledger_url("postgresql://u@db/x", root=tmp_path).drivername == "postgresql+psycopg"
    assert ledger_url("postgres://u@db/x", root=tmp_path).drivername == "postgresql+psycopg"
    absolute = ledger_url(f"sqlite:///{tmp_path}/elsewhere/l.db", root=Path("/nonexistent"))
    assert absolute.database == f"{tmp_path}/elsewhere/l.db"


# --- secrets and reading without writing ------------------------------------------------------
def test_every_record_is_stored_without_the_writers_secrets(url: str, tmp_path: Path):
    from lambda_promote.model import CheckResult
    from lambda_promote.notify.redact import Redactor

    secret = "hook-PLANTED-value"
    token = "ghp_" + "PLANTED" * 6  # a shape no variable holds
    leak = f"{secret} {token}"
    redactor = Redactor.from_environ({"HOOK": secret}, names=["HOOK"])
    with open_ledger(url, root=tmp_path, redactor=redactor) as ledger:
        check = CheckResult("ping", False, 1.0, leak, logs=leak, response={"k": leak})
        ledger.create_deployment(
            Deployment(
                id="d-1", env="staging", digest=DIGEST, state=DeploymentState.PENDING,
                reason=leak, error=leak, checks=[check],
            )
        )  # fmt: skip
        ledger.transition("d-1", DeploymentState.PUBLISHING, note=leak, error=leak)
        ledger.transition("d-1", DeploymentState.FAILED, rollback={"why": [leak]}, reason=leak)
        ledger.add_checks("d-1", [check])
        request = approval_request("r-1")
        request.evidence = {"commits": [leak]}
        request.decisions = [ApprovalDecision("bob", True, T0, comment=leak)]
        ledger.create_request(request)
        ledger.add_decision("r-1", ApprovalDecision("amy", True, T0, comment=leak))
        with ledger.engine.connect() as connection:
            stored = json.dumps(
                {
                    table.name: [list(map(str, row)) for row in connection.execute(table.select())]
                    for table in metadata.sorted_tables
                }
            )
        assert "PLANTED" not in stored
        assert "$HOOK [redacted:github-token]" in stored
        # Reading back gives the redacted text, not the original.
        assert ledger.get_deployment("d-1").checks[0].logs == "$HOOK [redacted:github-token]"  # type: ignore[union-attr]


def test_a_ledger_opened_to_read_creates_and_migrates_nothing(url: str, tmp_path: Path):
    with open_ledger(url, root=tmp_path, lazy=True) as ledger:
        assert ledger.deployments() == []
        assert ledger.audit_head() is None
    parsed = ledger_url(url, root=tmp_path)
    if parsed.get_backend_name() == "sqlite":
        assert not (tmp_path / ".lambda-promote").exists()
    else:
        engine = sa.create_engine(parsed)
        try:
            with engine.connect() as connection:
                assert migrate.schema_revision(connection) is None
        finally:
            engine.dispose()
    with open_ledger(url, root=tmp_path, lazy=True) as ledger:  # the first write creates it
        ledger.create_deployment(
            Deployment(id="d-1", env="staging", digest=DIGEST, state=DeploymentState.PENDING)
        )
        assert ledger.schema_upgraded
        assert [d.id for d in ledger.deployments()] == ["d-1"]


def _ledger_at_revision_0001(url: str, root: Path) -> None:
    from alembic import command
    from alembic.config import Config

    engine = create_ledger_engine(url, root=root)
    try:
        with writing(engine) as connection:
            config = Config()
            config.set_main_option("script_location", str(migrate.MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
    finally:
        engine.dispose()


def test_reading_an_older_writable_ledger_upgrades_it_first(url: str, tmp_path: Path):
    """Someone who upgrades lambda-promote runs `status` first: it must work."""
    _ledger_at_revision_0001(url, tmp_path)
    with open_ledger(url, root=tmp_path, lazy=True) as ledger:
        assert ledger.deployments() == []
        assert ledger.schema_upgraded
    with open_ledger(url, root=tmp_path, lazy=True) as ledger:
        ledger.create_request(approval_request("r-1"))
        assert not ledger.schema_upgraded


@pytest.mark.postgres
def test_reading_an_older_ledger_that_cannot_be_written_is_refused(tmp_path: Path):
    with postgres_schema() as url:
        _ledger_at_revision_0001(url, tmp_path)
        read_only = sa.make_url(url)
        options = f"{read_only.query['options']} -c default_transaction_read_only=on"
        read_only = read_only.update_query_dict({"options": options})
        with open_ledger(read_only.render_as_string(False), root=tmp_path, lazy=True) as ledger:
            with pytest.raises(LedgerError, match="revision 0001") as refused:
                ledger.deployments()
            assert refused.value.code == "ledger_schema"
            assert "where the ledger is writable" in refused.value.hint
