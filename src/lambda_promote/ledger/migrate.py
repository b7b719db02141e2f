"""Bringing a ledger's schema to the revision this code queries, before the first write to it
(reading never migrates: ``readable_revision`` only checks).

Cheap on the common path: read ``alembic_version`` and compare it with ``HEAD``; Alembic is
imported and run only when the database is empty or behind. The upgrade runs in one write
transaction (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL) that re-reads
the revision first, so two processes opening a new ledger at once migrate it once. Should a
database without either guarantee race anyway, the loser re-checks and carries on.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from lambda_promote.errors import LedgerError
from lambda_promote.ledger.engine import reading, writing

# Every revision in migrations/versions, oldest first. Adding a migration means adding its id
# here too (a test checks this list against Alembic's own view of the scripts).
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0008")
HEAD = REVISIONS[-1]
MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key serialising migrations of all ledgers in one database ("lpmg").
_PG_MIGRATION_LOCK = 0x6C706D67


def schema_revision(connection: Connection) -> str | None:
    """The revision recorded in the database; None for an empty one."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return None if version is None else str(version)


def readable_revision(connection: Connection, *, shown_url: str) -> str | None:
    """The revision of a ledger about to be read; None when nothing was created yet. A ledger
    this code cannot read as it is, is refused, never upgraded: reading writes nothing."""
    current = schema_revision(connection)
    if current is None or current == HEAD:
        return current
    _refuse_unknown(current, shown_url=shown_url)
    raise LedgerError(
        f"the ledger in {shown_url} has schema revision {current}; this lambda-promote reads "
        f"revision {HEAD} and upgrades a ledger only where it may write to it",
        hint="run any lambda-promote command once where the ledger is writable (that records "
        "the upgrade), or read it with the lambda-promote that wrote it",
        code="ledger_schema",
    )


def ensure_schema(engine: Engine, *, shown_url: str) -> bool:
    """Upgrade the ledger to ``HEAD`` if needed; True when migrations ran."""
    with reading(engine) as connection:
        current = schema_revision(connection)
    if current == HEAD:
        return False
    _refuse_unknown(current, shown_url=shown_url)
    try:
        return _upgrade_once(engine, shown_url=shown_url)
    except sa.exc.DBAPIError as error:
        # Another process created the tables between our check and our CREATE TABLE.
        with reading(engine) as connection:
            if schema_revision(connection) == HEAD:
                return False
        raise LedgerError(
            f"could not create the ledger's tables in {shown_url}: {error.orig}",
            hint="point `state` at an empty database or one made by lambda-promote",
        ) from error


def _upgrade_once(engine: Engine, *, shown_url: str) -> bool:
    with writing(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        current = schema_revision(connection)
        if current == HEAD:
            return False
        _refuse_unknown(current, shown_url=shown_url)
        if current is None:
            _create_current(connection)
        else:
            _run_alembic(connection)
    return True


def _create_current(connection: Connection) -> None:
    """An empty database gets today's tables directly and is stamped at ``HEAD``: the same
    schema the migrations build (a test compares them), without loading Alembic and replaying
    history — the first command of a new project, or of every CI job, is that much faster."""
    from lambda_promote.ledger.tables import metadata

    metadata.create_all(connection)
    version = sa.Table(
        "alembic_version",
        sa.MetaData(),
        sa.Column("version_num", sa.String(32), primary_key=True),
    )
    version.create(connection)
    connection.execute(version.insert().values(version_num=HEAD))


def _refuse_unknown(current: str | None, *, shown_url: str) -> None:
    if current is not None and current not in REVISIONS:
        raise LedgerError(
            f"the ledger in {shown_url} has schema revision {current}, "
            "which this lambda-promote does not know",
            hint="a newer lambda-promote wrote it: upgrade lambda-promote",
        )


def _run_alembic(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    # Config values go through configparser interpolation, where % is special.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    command.upgrade(config, HEAD)
