"""The standard-library SQLite ledger (ledger/lite.py) beside the SQLAlchemy one, on one file:
what only a real file shows. Processes using either ledger race for one lock, one approval and
one audit chain; each reads exactly what the other wrote; an older file is migrated by Alembic
and then served without SQLAlchemy. (The contract itself runs in test_ledger.py and
test_ledger_gate.py, kind "sqlite-stdlib".)"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lambda_promote import audit
from lambda_promote.ledger import choose, migrate
from lambda_promote.ledger.lite import LiteLedger
from lambda_promote.ledger.lite_db import migrations_head, sqlite_file
from lambda_promote.ledger.sql import SqlLedger, open_ledger
from lambda_promote.model import (
    ApprovalDecision,
    ApprovalRequest,
    Artifact,
    CheckResult,
    Deployment,
    DeploymentState,
)
from ledger_fixtures import SQLITE_URL

DIGEST = "ab" * 32
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
KEY = b"audit-key"

# Opens the ledger the way argv[4] says ("lite" or "sql"), waits at a barrier, then acts.
PRELUDE = """
import sys, time
from pathlib import Path
from lambda_promote.ledger import choose
from lambda_promote.ledger.sql import open_ledger as open_sql

url, root, name, kind = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
ledger = (choose.open_ledger if kind == "lite" else open_sql)(url, root=root)
assert type(ledger).__name__ == ("LiteLedger" if kind == "lite" else "SqlLedger")
(root / f"ready-{name}").touch()
while not (root / "go").exists():
    time.sleep(0.001)
"""
LOCKER = (
    PRELUDE
    + """
from lambda_promote.errors import EnvironmentLocked
try:
    ledger.acquire_lock("production", holder=name, deployment_id=f"d-{name}")
except EnvironmentLocked as error:
    print("locked:", error.message)
else:
    print("won")
"""
)
CONSUMER = (
    PRELUDE
    + """
from lambda_promote.errors import GateBlocked
from lambda_promote.model import RequestState
try:
    ledger.set_request_state("r-1", RequestState.CONSUMED, consumed_by=f"d-{name}")
except GateBlocked as error:
    print(error.code, error.message)
else:
    print("won")
"""
)
APPENDER = (
    PRELUDE
    + """
from datetime import UTC, datetime
from lambda_promote.audit import chain
for step in range(10):
    ledger.append_audit(
        lambda last: chain(
            last, at=datetime.now(UTC), actor=name, action=f"step{step}", key=b"audit-key"
        )
    )
"""
)
# In a fresh interpreter: a deployment's whole journey through the stdlib ledger.
JOURNEY = """
import json, sys
from datetime import UTC, datetime
from pathlib import Path
from lambda_promote.audit import chain
from lambda_promote.ledger import choose
from lambda_promote.model import Deployment, DeploymentState

with choose.open_ledger(sys.argv[1], root=Path(sys.argv[2])) as ledger:
    ledger.acquire_lock("staging", holder="me", deployment_id="d-9")
    ledger.create_deployment(Deployment(id="d-9", env="staging", digest="ab" * 32,
                                        state=DeploymentState.PENDING))
    ledger.transition("d-9", DeploymentState.SUCCEEDED, version="3")
    ledger.append_audit(lambda last: chain(last, at=datetime.now(UTC), actor="me",
                                           action="deploy", key=None))
    ledger.release_lock("staging", "d-9")
    print(json.dumps({"ledger": type(ledger).__name__,
                      "heavy": sorted(m for m in ("sqlalchemy", "alembic", "pydantic")
                                      if m in sys.modules)}))
"""


def make_ledger_file(root: Path) -> None:
    """A current ledger file, as the first command of a project leaves it."""
    with open_ledger(SQLITE_URL, root=root):
        pass


def race(script: str, root: Path, count: int) -> list[str]:
    """``count`` processes, alternately on the stdlib and the SQLAlchemy ledger, released
    together; their outputs."""
    names = [f"racer{n}" for n in range(count)]
    kinds = ["lite" if n % 2 == 0 else "sql" for n in range(count)]
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", script, SQLITE_URL, str(root), name, kind],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, kind in zip(names, kinds, strict=True)
    ]
    deadline = time.monotonic() + 120
    while not all((root / f"ready-{name}").exists() for name in names):
        failed = [r for r in racers if r.poll() not in (None, 0)]
        if failed or time.monotonic() > deadline:
            pytest.fail(f"racers did not get ready: {[r.communicate()[1] for r in failed]}")
        time.sleep(0.01)
    (root / "go").touch()
    outputs = [racer.communicate(timeout=120) for racer in racers]
    assert [r.returncode for r in racers] == [0] * count, [err for _, err in outputs]
    return [out.strip() for out, _ in outputs]


def test_processes_on_either_ledger_racing_for_an_environment_exactly_one_wins(tmp_path: Path):
    make_ledger_file(tmp_path)

    results = race(LOCKER, tmp_path, 6)

    winners = [f"racer{n}" for n, result in enumerate(results) if result == "won"]
    assert len(winners) == 1, results
    assert all(f"locked by {winners[0]}" in r for r in results if r != "won")


def test_processes_on_either_ledger_consume_one_approval_exactly_once(tmp_path: Path):
    with open_ledger(SQLITE_URL, root=tmp_path) as ledger:
        ledger.create_request(
            ApprovalRequest(
                id="r-1",
                env="production",
                digest=DIGEST,
                requested_by="carol",
                requested_at=T0,
                expires_at=T0 + timedelta(hours=72),
                decisions=[ApprovalDecision("bob", True, T0)],
            )
        )

    results = race(CONSUMER, tmp_path, 6)

    winners = [f"d-racer{n}" for n, result in enumerate(results) if result == "won"]
    assert len(winners) == 1, results
    expected = f"approval_consumed request r-1 was already consumed by deployment {winners[0]}"
    assert [r for r in results if r != "won"] == [expected] * 5


def test_processes_on_either_ledger_appending_at_once_leave_one_unbroken_chain(tmp_path: Path):
    make_ledger_file(tmp_path)

    race(APPENDER, tmp_path, 4)

    with choose.open_ledger(SQLITE_URL, root=tmp_path) as ledger:
        events = ledger.audit_events()
    assert [e.seq for e in events] == list(range(1, 41))
    for name in (f"racer{n}" for n in range(4)):
        assert [e.action for e in events if e.actor == name] == [f"step{i}" for i in range(10)]
    assert audit.verify(events, key=KEY).ok


def write_history(ledger: SqlLedger | LiteLedger, suffix: str) -> None:
    ledger.record_artifact(
        Artifact(
            digest=DIGEST[:-2] + suffix,
            size=10,
            path="a.zip",
            files=("app.py",),
            builder="alice",
            built_at=T0,
        )
    )
    ledger.create_deployment(
        Deployment(id=f"d-{suffix}", env="staging", digest=DIGEST, state=DeploymentState.PENDING)
    )
    ledger.transition(f"d-{suffix}", DeploymentState.PUBLISHING)
    ledger.add_checks(
        f"d-{suffix}",
        [CheckResult(name="ping", ok=True, latency_ms=1.5, detail="ok", response={"a": 1})],
    )
    ledger.transition(f"d-{suffix}", DeploymentState.FAILED, error="x", rollback={"n": 1})
    ledger.create_request(
        ApprovalRequest(
            id=f"r-{suffix}",
            env="production",
            digest=DIGEST,
            requested_by="carol",
            requested_at=T0,
            expires_at=T0 + timedelta(hours=1),
            decisions=[ApprovalDecision("bob", False, T0, comment="no")],
        )
    )
    ledger.append_audit(
        lambda last: audit.chain(
            last, at=T0, actor="alice", action=f"act-{suffix}", details={"s": suffix}, key=KEY
        )
    )


def everything(ledger: SqlLedger | LiteLedger) -> list[object]:
    return [
        [ledger.find_artifact(DIGEST[:-2] + s) for s in ("01", "02")],
        [ledger.get_deployment(f"d-{s}") for s in ("01", "02")],
        ledger.deployments(),
        ledger.requests(),
        ledger.audit_events(),
    ]


def test_each_sqlite_ledger_reads_exactly_what_the_other_wrote(tmp_path: Path):
    with open_ledger(SQLITE_URL, root=tmp_path) as sql:
        write_history(sql, "01")
    with choose.open_ledger(SQLITE_URL, root=tmp_path) as lite:
        assert isinstance(lite, LiteLedger)
        write_history(lite, "02")
        through_lite = everything(lite)
    with open_ledger(SQLITE_URL, root=tmp_path) as sql:
        through_sql = everything(sql)

    assert through_lite == through_sql
    deployment = through_lite[1][1]  # type: ignore[index]
    assert deployment.checks[0].ok is True
    assert deployment.transitions[0].at.tzinfo is not None
    assert audit.verify(through_lite[4], key=KEY).ok  # type: ignore[arg-type]


def test_an_older_ledger_is_migrated_by_alembic_then_served_by_the_standard_library(
    tmp_path: Path,
):
    from alembic import command
    from alembic.config import Config

    from lambda_promote.ledger.engine import create_ledger_engine, writing

    engine = create_ledger_engine(SQLITE_URL, root=tmp_path)
    with writing(engine) as connection:
        config = Config()
        config.set_main_option("script_location", str(migrate.MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, migrate.REVISIONS[0])
    engine.dispose()

    with choose.open_ledger(SQLITE_URL, root=tmp_path) as ledger:
        assert isinstance(ledger, LiteLedger)
        write_history(ledger, "01")
        assert ledger.get_deployment("d-01").state is DeploymentState.FAILED  # type: ignore[union-attr]
    database = sqlite3.connect(tmp_path / ".lambda-promote" / "state.db")
    try:
        assert database.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (migrate.HEAD,)
        ]
    finally:
        database.close()


def test_a_new_project_gets_its_ledger_created_then_opened_with_the_standard_library(
    tmp_path: Path,
):
    with choose.open_ledger(SQLITE_URL, root=tmp_path) as ledger:
        assert isinstance(ledger, LiteLedger)
        assert ledger.deployments() == []
    assert (tmp_path / ".lambda-promote" / "state.db").is_file()


def test_a_deployment_through_the_stdlib_ledger_never_imports_sqlalchemy(tmp_path: Path):
    make_ledger_file(tmp_path)

    done = subprocess.run(
        [sys.executable, "-c", JOURNEY, SQLITE_URL, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )

    assert json.loads(done.stdout) == {"ledger": "LiteLedger", "heavy": []}
    with open_ledger(SQLITE_URL, root=tmp_path) as sql:
        stored = sql.get_deployment("d-9")
        assert stored is not None
        assert (stored.state, stored.version) == (DeploymentState.SUCCEEDED, "3")
        assert sql.lock_info("staging") is None


def test_the_migrations_head_read_from_the_scripts_is_the_one_the_code_migrates_to():
    assert migrations_head() == migrate.HEAD


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///.lambda-promote/state.db", "ROOT/.lambda-promote/state.db"),
        ("sqlite+pysqlite:///state.db", "ROOT/state.db"),
        ("sqlite:////var/lib/lp/state.db", "/var/lib/lp/state.db"),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:state.db?mode=ro&uri=true", None),
        ("sqlite:///state.db?timeout=5", None),
        ("sqlite:///my%20state.db", None),
        ("postgresql+psycopg://u@h/db", None),
    ],
)
def test_only_plain_sqlite_file_urls_are_served_without_sqlalchemy(
    url: str, expected: str | None, tmp_path: Path
):
    found = sqlite_file(url, root=tmp_path)
    wanted = None if expected is None else Path(expected.replace("ROOT", str(tmp_path)))
    assert found == wanted


def test_a_hand_edited_audit_row_reaches_verification_as_stored(tmp_path: Path):
    with choose.open_ledger(SQLITE_URL, root=tmp_path) as ledger:
        for n in range(1, 4):
            ledger.append_audit(
                lambda last, n=n: audit.chain(
                    last, at=T0, actor="alice", action=f"step{n}", details={"n": n}, key=KEY
                )
            )
    database = sqlite3.connect(tmp_path / ".lambda-promote" / "state.db")
    with database:
        database.execute("UPDATE audit_events SET details = 'not json' WHERE seq = 2")
    database.close()

    with choose.open_ledger(SQLITE_URL, root=tmp_path) as ledger:
        events = ledger.audit_events()
    assert events[1].details == "not json"
    verdict = audit.verify(events, key=KEY)
    assert not verdict.ok
    assert verdict.first_bad == 2


def test_every_record_is_stored_without_the_writers_secrets(tmp_path: Path):
    from lambda_promote.notify.redact import Redactor

    secret = "hook-PLANTED-value"
    token = "ghp_" + "PLANTED" * 6  # a shape no variable holds
    leak = f"{secret} {token}"
    redactor = Redactor.from_environ({"HOOK": secret}, names=["HOOK"])
    make_ledger_file(tmp_path)
    with choose.open_ledger(SQLITE_URL, root=tmp_path, redactor=redactor) as ledger:
        assert isinstance(ledger, LiteLedger)
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
        ledger.create_request(
            ApprovalRequest(
                id="r-1",
                env="production",
                digest=DIGEST,
                requested_by="carol",
                requested_at=T0,
                expires_at=T0 + timedelta(hours=1),
                evidence={"commits": [leak]},
                decisions=[ApprovalDecision("bob", True, T0, comment=leak)],
            )
        )
        ledger.add_decision("r-1", ApprovalDecision("amy", True, T0, comment=leak))
        assert ledger.get_deployment("d-1").checks[0].logs == "$HOOK [redacted:github-token]"  # type: ignore[union-attr]
    database = sqlite3.connect(tmp_path / ".lambda-promote" / "state.db")
    try:
        tables = [
            t for (t,) in database.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        stored = json.dumps({t: database.execute(f"SELECT * FROM {t}").fetchall() for t in tables})
    finally:
        database.close()
    assert "PLANTED" not in stored
    assert "$HOOK [redacted:github-token]" in stored


def test_a_ledger_opened_lazily_to_read_creates_nothing(tmp_path: Path):
    with choose.open_ledger(SQLITE_URL, root=tmp_path, lazy=True) as ledger:
        assert ledger.deployments() == []
    assert not (tmp_path / ".lambda-promote").exists()


def test_a_write_the_database_refuses_is_worded_as_the_sqlalchemy_ledger_words_it(
    tmp_path: Path,
):
    from lambda_promote.errors import LedgerError

    make_ledger_file(tmp_path)
    with choose.open_ledger(SQLITE_URL, root=tmp_path) as ledger:
        assert isinstance(ledger, LiteLedger)
        ledger._db._connection.execute("PRAGMA query_only = ON")  # as a read-only file would
        with pytest.raises(LedgerError) as refused:
            ledger.acquire_lock("staging", holder="me", deployment_id="d-1")
    assert refused.value.code == "ledger_read_only"
    assert "read-only" in refused.value.message
