"""The audit trail over SQL (DESIGN §5.7), for ``sql.SqlLedger``: read the last event, insert
the next, read the trail back. Each function runs inside the caller's transaction.

The trail is append-only: there is no update or delete here. Events are read back exactly as
stored — an edited row must reach ``audit.verify`` as it is, to be named there.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lambda_promote.ledger import rows
from lambda_promote.ledger.tables import audit_events
from lambda_promote.model import AuditEvent


def serialise_appenders(connection: Connection) -> None:
    """On PostgreSQL, make concurrent appenders take turns (readers are not blocked), so they
    do not all read the same last event and fight over its successor's seq. SQLite's write
    transactions (BEGIN IMMEDIATE) take turns already; the seq primary key backs both."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE")


def last_event(connection: Connection) -> AuditEvent | None:
    row = connection.execute(
        sa.select(audit_events).order_by(audit_events.c.seq.desc()).limit(1)
    ).first()
    return None if row is None else rows.audit_event(row)


def seq_taken(connection: Connection, seq: int) -> bool:
    found = connection.execute(sa.select(audit_events.c.seq).where(audit_events.c.seq == seq))
    return found.first() is not None


def insert_event(connection: Connection, row: dict[str, Any]) -> None:
    connection.execute(sa.insert(audit_events).values(row))


def events(connection: Connection, *, env: str | None, since_seq: int | None) -> list[AuditEvent]:
    query = sa.select(audit_events).order_by(audit_events.c.seq)
    if env is not None:
        query = query.where(audit_events.c.env == env)
    if since_seq is not None:
        query = query.where(audit_events.c.seq > since_seq)
    return [rows.audit_event(row) for row in connection.execute(query)]
