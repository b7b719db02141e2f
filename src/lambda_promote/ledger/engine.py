"""Turning the ``state`` setting of promote.yaml into one SQLAlchemy Engine for the ledger, and
the two kinds of transaction the ledger uses (read, write).

SQLite is used by several processes at once (a deploy and a ``status``, two CI jobs on one
runner), so every connection gets WAL (readers never block the writer), a busy timeout
(a writer waits instead of failing) and foreign keys. Write transactions start with
``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes can fail at once
with "database is locked" when another process wrote in between, without waiting. pysqlite
opens transactions on its own, so we switch that off and emit BEGIN ourselves — the recipe of
SQLAlchemy's SQLite dialect documentation.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from lambda_promote.errors import ConfigError

BUSY_TIMEOUT_SECONDS = 30
# Execution option read by the BEGIN listener: this transaction will write.
_WRITE = "lambda_promote_write"
_POSTGRES_NAMES = ("postgresql", "postgres")


def ledger_url(url: str, *, root: Path) -> URL:
    """The URL to connect to. A relative SQLite path is relative to ``root`` (the folder of
    promote.yaml); a bare ``postgresql://`` uses psycopg 3. Nothing is created here."""
    try:
        parsed = sa.make_url(url)
    except ArgumentError as error:
        raise ConfigError(
            f"state: {url!r} is not a database URL",
            hint="use e.g. sqlite:///.lambda-promote/state.db or postgresql+psycopg://user@host/db",
        ) from error
    if parsed.drivername in _POSTGRES_NAMES:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and _is_file(parsed.database):
        path = Path(str(parsed.database)).expanduser()
        if not path.is_absolute():
            path = root / path
        parsed = parsed.set(database=str(path))
    return parsed


def _is_file(database: str | None) -> bool:
    return bool(database) and database != ":memory:" and not str(database).startswith("file:")


def sqlite_file(parsed: URL) -> Path | None:
    """The file of a SQLite ledger (after ``ledger_url``); None for any other database."""
    if parsed.get_backend_name() == "sqlite" and _is_file(parsed.database):
        return Path(str(parsed.database))
    return None


def create_ledger_engine(url: str, *, root: Path) -> Engine:
    """An Engine that may write: a SQLite file's folder is created."""
    parsed = ledger_url(url, root=root)
    path = sqlite_file(parsed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return engine_for(parsed)


def engine_for(parsed: URL) -> Engine:
    """The Engine of the ledger at ``parsed`` (from ``ledger_url``); connects lazily."""
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = sa.create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})
            _configure_sqlite(engine)
            return engine
        return sa.create_engine(parsed, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as error:
        shown = parsed.render_as_string(hide_password=True)
        raise ConfigError(
            f"state: no database driver for {shown} ({error})",
            hint="for PostgreSQL install `lambda-promote[postgres]` and use postgresql+psycopg://…",
        ) from error


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # BEGIN is ours, see _on_begin
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def snapshot_engine(path: Path) -> Engine:
    """An Engine reading the SQLite file at ``path`` as it is on disk, opened ``immutable``:
    SQLite then needs no lock, no shared-memory file and no write access, so a ledger on a
    read-only or full disk can still be read. Only safe when nobody writes to it meanwhile —
    the case where the ordinary open failed — and it sees nothing of a left-over WAL file."""
    url = URL.create(
        "sqlite",
        database="file:" + urllib.parse.quote(str(path)),
        query={"mode": "ro", "immutable": "1", "uri": "true"},
    )
    return sa.create_engine(url)


def empty_engine() -> Engine:
    """An in-memory database with the ledger's tables and nothing in them: what reading a
    ledger that does not exist yet sees, without creating it."""
    from sqlalchemy.pool import StaticPool

    from lambda_promote.ledger.tables import metadata

    engine = sa.create_engine("sqlite://", poolclass=StaticPool)
    metadata.create_all(engine)
    return engine


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: committed on success, rolled back on any error."""
    with engine.connect() as connection:
        connection.execution_options(**{_WRITE: True})
        with connection.begin():
            yield connection


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction (one consistent snapshot); always rolled back."""
    with engine.connect() as connection:
        yield connection
