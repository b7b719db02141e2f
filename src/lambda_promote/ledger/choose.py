"""Which ledger a command opens for its ``state`` URL: the standard-library one (``lite.py``)
for a SQLite file already at the migrations' head — every command but a project's first —
and the SQLAlchemy one (``sql.py``) for everything else: PostgreSQL, SQLite URLs with
options, and a new or older file, which ``migrate.py`` creates or upgrades first (after that
the file is reopened with the standard library).

Both implement the same ``Ledger`` protocol and pass the same contract suite; a command
cannot tell them apart except by what it imports.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lambda_promote.ledger import records
from lambda_promote.ledger.lite import LiteLedger, open_current
from lambda_promote.ledger.lite_db import sqlite_file

if TYPE_CHECKING:
    from lambda_promote.ledger.sql import SqlLedger


def open_ledger(
    url: str, *, root: Path, clock: Callable[[], datetime] = records.now_utc
) -> LiteLedger | SqlLedger:
    """The ledger at ``url`` (relative SQLite paths are relative to ``root``), its schema at
    the head."""
    path = sqlite_file(url, root=root)
    ledger = None if path is None else open_current(path, clock=clock)
    if ledger is not None:
        return ledger
    # Only now SQLAlchemy: the hot path above never imports it.
    from lambda_promote.ledger.sql import open_ledger as open_sql

    sql = open_sql(url, root=root, clock=clock)  # for SQLite: creates or migrates the file
    if path is None:
        return sql
    ledger = open_current(path, clock=clock)
    if ledger is None:
        return sql  # e.g. a revision the migrations name differently: SQLAlchemy serves it
    sql.close()
    return ledger
