"""Ledgers for tests: the in-memory fake, SQLite files in tmp_path and PostgreSQL schemas.

Test modules wrap ``ledger_opener`` in their fixtures. PostgreSQL is the
server on 127.0.0.1 (``LAMBDA_PROMOTE_TEST_POSTGRES`` overrides the URL); each test gets a
fresh schema, dropped afterwards, and a session time zone other than UTC so that reading
times back in UTC is actually exercised. Without a server those tests are skipped, saying so.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from fakes import MemoryLedger
from lambda_promote.ledger import choose
from lambda_promote.ledger.base import Ledger
from lambda_promote.ledger.lite import LiteLedger
from lambda_promote.ledger.sql import open_ledger

POSTGRES_URL = os.environ.get(
    "LAMBDA_PROMOTE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SQLITE_URL = "sqlite:///.lambda-promote/state.db"


class StepClock:
    """A clock for ledgers: each reading is ``step`` after the previous one (``step=0``
    freezes it). ``zone`` is the zone of the readings, to prove the ledger returns UTC."""

    def __init__(
        self,
        *,
        start: datetime = datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        step: timedelta = timedelta(seconds=1),
        zone: timedelta = timedelta(0),
    ) -> None:
        self.now = start
        self.step = step
        self.zone = zone
        self.readings: list[datetime] = []

    def __call__(self) -> datetime:
        reading = self.now.astimezone(timezone(self.zone))
        self.readings.append(reading)
        self.now += self.step
        return reading


@functools.cache
def postgres_unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when the server answers."""
    engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except sa.exc.OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0]
        return f"PostgreSQL at {POSTGRES_URL} is not reachable: {reason}"
    finally:
        engine.dispose()


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A ledger URL on a brand-new schema of the test database, dropped afterwards."""
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    schema = f"lp_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        options = f"-c search_path={schema} -c timezone=Asia/Kolkata"
        url = sa.make_url(POSTGRES_URL).update_query_dict({"options": options})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


OpenLedger = Callable[..., Ledger]


@contextmanager
def ledger_opener(kind: str, root: Path) -> Iterator[tuple[str | None, OpenLedger]]:
    """``(url, open)`` for one kind of ledger; ``open(clock=…)`` opens it (again: SQL ledgers
    reopen the same database, the memory one starts empty). Everything opened is closed."""
    opened: list[Ledger] = []

    def opener(url: str | None, *, lite: bool = False) -> OpenLedger:
        def open_(**options: object) -> Ledger:
            ledger: Ledger
            if url is None:
                ledger = MemoryLedger(**options)  # type: ignore[arg-type]
            elif lite:
                ledger = choose.open_ledger(url, root=root, **options)  # type: ignore[arg-type]
                assert isinstance(ledger, LiteLedger), "the stdlib ledger must serve this URL"
            else:
                ledger = open_ledger(url, root=root, **options)  # type: ignore[arg-type]
            opened.append(ledger)
            return ledger

        return open_

    try:
        if kind == "memory":
            yield None, opener(None)
        elif kind == "sqlite":
            yield SQLITE_URL, opener(SQLITE_URL)
        elif kind == "sqlite-stdlib":
            yield SQLITE_URL, opener(SQLITE_URL, lite=True)
        else:
            with postgres_schema() as url:
                yield url, opener(url)
    finally:
        for ledger in opened:
            ledger.close()  # type: ignore[attr-defined]


# The kinds a test module parametrizes its fixtures over; PostgreSQL ones carry the marker.
# "sqlite-stdlib" is the same file through the standard library's sqlite3 (ledger/lite.py),
# the ledger of the hot path: it passes the same contract suite.
ALL_KINDS = [
    "memory",
    "sqlite",
    "sqlite-stdlib",
    pytest.param("postgres", marks=pytest.mark.postgres),
]
SQL_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def at_revision(url: str, root: Path, revision: str) -> Iterator[sa.engine.Connection]:
    """The ledger at ``url`` migrated to an older ``revision`` only, as an earlier
    lambda-promote left it: a connection to write that era's rows through, committed on exit."""
    from alembic import command
    from alembic.config import Config

    from lambda_promote.ledger import migrate
    from lambda_promote.ledger.engine import create_ledger_engine, writing

    engine = create_ledger_engine(url, root=root)
    try:
        with writing(engine) as connection:
            config = Config()
            config.set_main_option("script_location", str(migrate.MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            yield connection
    finally:
        engine.dispose()
