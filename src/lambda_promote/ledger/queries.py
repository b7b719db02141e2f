"""SQL lookups shared by the parts of the SQL ledger (``sql.py``, ``sql_approvals.py``,
``sql_audit.py``): whether a key exists, which full key a prefix names, the next number in a
per-parent sequence. Each runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lambda_promote.ledger import rules


def exists(connection: Connection, column: sa.Column[str], key: str) -> bool:
    return connection.execute(sa.select(column).where(column == key)).first() is not None


def resolve(connection: Connection, column: sa.Column[str], key: str, *, noun: str) -> str | None:
    """The full key named by ``key``: itself when it exists, else the one it prefixes."""
    if exists(connection, column, key):
        return key
    if not rules.usable_prefix(key):
        return None
    # substr, not LIKE: LIKE is case-insensitive on SQLite and would treat _ and % as wildcards.
    matches = connection.execute(
        sa.select(column)
        .where(sa.func.substr(column, 1, len(key)) == key)
        .order_by(column)
        .limit(rules.SHOWN_CANDIDATES + 1)
    ).scalars()
    return rules.pick_unique(key, list(matches), noun=noun)


def next_seq(connection: Connection, parent: sa.Column[str], key: str) -> int:
    """One more than the highest ``seq`` of the rows whose ``parent`` column is ``key``."""
    table = parent.table
    highest = connection.execute(
        sa.select(sa.func.coalesce(sa.func.max(table.c.seq), 0)).where(parent == key)
    ).scalar_one()
    return int(highest) + 1


def insertion_seq(table: sa.Table) -> sa.ScalarSelect[int]:
    """The next insertion number of ``table``, drawn inside the INSERT. Two concurrent inserts
    on PostgreSQL may draw the same number; the id then decides the order."""
    return sa.select(sa.func.coalesce(sa.func.max(table.c.seq), 0) + 1).scalar_subquery()
