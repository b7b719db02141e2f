"""Which ledger a command opens for its ``state`` URL: the standard-library one (``lite.py``)
for a SQLite file already at the migrations' head — every command but a project's first —
and the SQLAlchemy one (``sql.py``) for everything else: PostgreSQL, SQLite URLs with
options, and a new or older file, which ``migrate.py`` creates or upgrades first (after that
the file is reopened with the standard library). A file that cannot be written here is left
to the SQLAlchemy ledger too, which reads it as a snapshot and words the refusal to write.

A ``dynamodb://TABLE?region=REGION`` URL is served by the DynamoDB ledger (``dynamo.py``,
boto3 imported only then); a URL of any other scheme is refused with the nearest spelling
(``dynamo_url.scheme_of``).

All implement the same ``Ledger`` protocol and pass the same contract suite; a command
cannot tell them apart except by what it imports.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lambda_promote.ledger import rules
from lambda_promote.ledger.dynamo_url import is_dynamodb, scheme_of
from lambda_promote.ledger.lite import LiteLedger, open_current
from lambda_promote.ledger.lite_db import sqlite_file

if TYPE_CHECKING:
    from lambda_promote.ledger.dynamo import DynamoLedger
    from lambda_promote.ledger.sql import SqlLedger
    from lambda_promote.notify.redact import Redactor


def open_ledger(
    url: str,
    *,
    root: Path,
    clock: Callable[[], datetime] = rules.now_utc,
    redactor: Redactor | None = None,
    lazy: bool = False,
    warn: Callable[[str], None] | None = None,
) -> LiteLedger | SqlLedger | DynamoLedger:
    """The ledger at ``url`` (relative SQLite paths are relative to ``root``); the options are
    those of ``sql.open_ledger``. ``lazy``: a ledger that does not exist yet is not created
    until the first write — the SQLAlchemy ledger serves that process."""
    scheme_of(url)
    if is_dynamodb(url):
        return open_dynamodb(url, clock=clock, redactor=redactor)
    path = sqlite_file(url, root=root)
    ledger = None if path is None else open_current(path, clock=clock, redactor=redactor)
    if ledger is not None:
        return ledger
    # Only now SQLAlchemy: the hot path above never imports it.
    from lambda_promote.ledger.sql import open_ledger as open_sql

    sql = open_sql(url, root=root, clock=clock, redactor=redactor, lazy=lazy, warn=warn)
    if path is None or lazy:
        return sql
    # The file now exists at the head (created or migrated): reopen it without SQLAlchemy.
    ledger = open_current(path, clock=clock, redactor=redactor)
    if ledger is None:
        return sql  # read-only here, say: access.py knows how to serve it
    sql.close()
    return ledger


def open_dynamodb(
    url: str, *, clock: Callable[[], datetime] = rules.now_utc, redactor: Redactor | None = None
) -> DynamoLedger:
    """The DynamoDB ledger; a clear error on an install without boto3."""
    from lambda_promote.targets import require_boto3

    require_boto3(needed_for=f"state: {url}")
    from lambda_promote.ledger.dynamo import open_ledger as open_dynamo

    return open_dynamo(url, clock=clock, redactor=redactor)
