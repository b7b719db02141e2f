"""Ledgers for tests: the in-memory fake, SQLite files in tmp_path and PostgreSQL schemas.

Test modules wrap ``ledger_opener`` in their fixtures. PostgreSQL is the
server on 127.0.0.1 (``LAMBDA_PROMOTE_TEST_POSTGRES`` overrides the URL); each test gets a
fresh schema, dropped afterwards, and a session time zone other than UTC so that reading
times back in UTC is actually exercised. Without a server those tests are skipped, saying so.
"""

from __future__ import annotations

import functools
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

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
DYNAMO_REGION = "us-east-1"
_MOTO_ITEM_CALLS = ("put_item", "update_item", "delete_item", "transact_write_items", "get_item")
_moto_guard = threading.RLock()


def atomic_moto_dynamodb() -> None:
    """Real DynamoDB applies each conditional write (and each transaction) atomically; moto's
    backend checks the condition and then writes, so two threads of its threaded server (or
    of one test process) can both pass one condition. Each item call is serialised here, in
    the process that runs moto, so the races the ledger relies on DynamoDB to decide are
    decided as AWS decides them. Applied once; harmless for code that does not race."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in _MOTO_ITEM_CALLS:
        method = getattr(DynamoDBBackend, name)
        if getattr(method, "_serialised", False):
            continue

        def serialised(self: object, *args: object, _method: Any = method, **kw: object) -> Any:
            with _moto_guard:
                return _method(self, *args, **kw)

        serialised._serialised = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, serialised)


@contextmanager
def aws_environment(root: Path, *, endpoint: str | None) -> Iterator[None]:
    """Fake credentials, no way to a real account (as ``aws_fixtures.isolate_aws_env``),
    for code outside a test function; the environment is restored afterwards."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    for name in saved:
        del os.environ[name]
    absent = str(root / "no-aws-config")
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION=DYNAMO_REGION,
        AWS_CONFIG_FILE=absent,
        AWS_SHARED_CREDENTIALS_FILE=absent,
        AWS_EC2_METADATA_DISABLED="true",
    )
    if endpoint is not None:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
    try:
        yield
    finally:
        for name in [k for k in os.environ if k.startswith("AWS_")]:
            del os.environ[name]
        os.environ.update(saved)


@contextmanager
def dynamodb_table(*, server: bool, root: Path, create: bool = True) -> Iterator[str]:
    """A ``dynamodb://`` state URL on a fresh table: in moto in-process, or in moto's server
    on 127.0.0.1 (``AWS_ENDPOINT_URL``); ``create=False`` leaves the table to be made."""
    from moto import mock_aws

    from aws_fixtures import shared_server_url
    from lambda_promote.ledger.dynamo_table import DynamoTable
    from lambda_promote.ledger.dynamo_url import parse_dynamodb

    atomic_moto_dynamodb()
    url = f"dynamodb://lp-test-{uuid.uuid4().hex[:12]}?region={DYNAMO_REGION}"
    endpoint = shared_server_url() if server else None
    with aws_environment(root, endpoint=endpoint), ExitStack() as stack:
        if not server:
            stack.enter_context(mock_aws())
        table = DynamoTable(parse_dynamodb(url))
        if create:
            table.create(tags={"purpose": "test"})
        try:
            yield url
        finally:
            if table.exists():
                table.client.delete_table(TableName=table.name)


@contextmanager
def ledger_opener(kind: str, root: Path) -> Iterator[tuple[str | None, OpenLedger]]:
    """``(url, open)`` for one kind of ledger; ``open(clock=…)`` opens it (again: SQL ledgers
    reopen the same database, the memory one starts empty). Everything opened is closed."""
    opened: list[Ledger] = []

    def opener(url: str | None, *, lite: bool = False, dynamo: bool = False) -> OpenLedger:
        def open_(**options: object) -> Ledger:
            ledger: Ledger
            if dynamo:
                from lambda_promote.ledger.dynamo import open_ledger as open_dynamo

                ledger = open_dynamo(url, **options)  # type: ignore[arg-type]
            elif url is None:
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
        elif kind.startswith("dynamodb"):
            with dynamodb_table(server=kind == "dynamodb-server", root=root) as url:
                yield url, opener(url, dynamo=True)
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
    "dynamodb",
    "dynamodb-server",
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
