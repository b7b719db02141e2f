"""The ledger's tables as SQLAlchemy Core objects: what ``sql.SqlLedger`` queries.

The schema itself is created and changed only by the Alembic migrations in ``migrations/``;
these objects must describe the schema at the head revision (a test compares the two).
Times are stored in UTC and read back timezone-aware on every database; JSON values are
stored as text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from lambda_promote.ledger.rules import utc


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware datetime in, a timezone-aware UTC datetime out. SQLite keeps no zone,
    so values go in as UTC and come back marked as UTC; PostgreSQL's ``timestamptz`` comes
    back in the session's zone and is converted."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = sa.MetaData()

ID = 128  # deployment ids and environment names
NAME = 255  # people, hosts, branches, versions

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("files", sa.Text, nullable=False),
    sa.Column("inputs_hash", sa.String(NAME), nullable=False),
    sa.Column("commit", sa.String(NAME)),
    sa.Column("branch", sa.String(NAME)),
    sa.Column("builder", sa.String(NAME), nullable=False),
    sa.Column("built_at", UtcDateTime),
    sa.Column("runtime", sa.String(64), nullable=False),
    sa.Column("architecture", sa.String(32), nullable=False),
    # Migration 0008: NULL for artifacts recorded before, or built outside git.
    sa.Column("committed_at", UtcDateTime),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    # Insertion order: keeps "newest first" stable when two deployments share a timestamp.
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("env", sa.String(ID), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(NAME), nullable=False),
    sa.Column("version", sa.String(NAME)),
    sa.Column("previous_version", sa.String(NAME)),
    sa.Column("previous_digest", sa.String(64)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("rollback", sa.Text),
    # DESIGN §11.3 (migration 0004): NULL for deployments recorded before.
    sa.Column("configuration", sa.Text),
    sa.Column("configuration_digest", sa.String(64)),
    sa.Column("release_configuration", sa.Text),
    # A many-function release (0005): {NAME: {"digest", "version", "previous_version", …}}.
    sa.Column("functions", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_deployments_env_created", "env", "created_at", "seq"),
    sa.Index("ix_deployments_digest", "digest"),
)

transitions = sa.Table(
    "transitions",
    metadata,
    sa.Column("deployment_id", sa.String(ID), sa.ForeignKey("deployments.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
)

check_results = sa.Table(
    "check_results",
    metadata,
    sa.Column("deployment_id", sa.String(ID), sa.ForeignKey("deployments.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("phase", sa.String(32), nullable=False),
    sa.Column("name", sa.String(NAME), nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("logs", sa.Text, nullable=False),
    sa.Column("response", sa.Text),
)

locks = sa.Table(
    "locks",
    metadata,
    sa.Column("env", sa.String(ID), primary_key=True),
    sa.Column("holder", sa.String(NAME), nullable=False),
    sa.Column("deployment_id", sa.String(ID), nullable=False),
    sa.Column("since", UtcDateTime, nullable=False),
)

# --- approvals (DESIGN §5.2–5.3) ------------------------------------------------------------
approval_requests = sa.Table(
    "approval_requests",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    # Insertion order: keeps "newest first" stable when two requests share a timestamp.
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("env", sa.String(ID), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("requested_by", sa.String(NAME), nullable=False),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("built_by", sa.String(NAME), nullable=False),
    sa.Column("branch", sa.String(NAME)),
    sa.Column("evidence", sa.Text, nullable=False),
    sa.Column("consumed_by", sa.String(ID)),
    sa.Index("ix_approval_requests_env_digest", "env", "digest"),
)

approval_decisions = sa.Table(
    "approval_decisions",
    metadata,
    sa.Column("request_id", sa.String(ID), sa.ForeignKey("approval_requests.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("reviewer", sa.String(NAME), nullable=False),
    sa.Column("approve", sa.Boolean, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    # One decision per person per request, whatever the code above the database does.
    sa.UniqueConstraint("request_id", "reviewer", name="uq_approval_decisions_reviewer"),
)

# --- the audit trail (DESIGN §5.7) ----------------------------------------------------------
audit_events = sa.Table(
    "audit_events",
    metadata,
    # The primary key: two appenders that read the same last event cannot both insert.
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(NAME), nullable=False),
    sa.Column("action", sa.String(NAME), nullable=False),
    sa.Column("env", sa.String(ID)),
    sa.Column("digest", sa.String(64)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(128), nullable=False),
    sa.Column("hash", sa.String(128), nullable=False),
    # Which key signed the event (audit.key_id); NULL without a key or before revision 0003.
    sa.Column("key_id", sa.String(32)),
)
