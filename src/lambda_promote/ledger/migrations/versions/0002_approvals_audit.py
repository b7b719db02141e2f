"""Approval requests with their decisions (DESIGN §5.2–5.3) and the hash-chained audit trail
(DESIGN §5.7). An existing ledger at 0001 is upgraded in place when it is opened.

Revision ID: 0002
Revises: 0001
Create Date: 2024-06-15

A migration is history: it spells its columns out instead of importing ``tables.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = 128
NAME = 255


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("env", sa.String(ID), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(NAME), nullable=False),
        sa.Column("requested_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("built_by", sa.String(NAME), nullable=False),
        sa.Column("branch", sa.String(NAME)),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("consumed_by", sa.String(ID)),
    )
    op.create_index("ix_approval_requests_env_digest", "approval_requests", ["env", "digest"])
    op.create_table(
        "approval_decisions",
        sa.Column(
            "request_id",
            sa.String(ID),
            sa.ForeignKey("approval_requests.id"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("reviewer", sa.String(NAME), nullable=False),
        sa.Column("approve", sa.Boolean, nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.UniqueConstraint("request_id", "reviewer", name="uq_approval_decisions_reviewer"),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("actor", sa.String(NAME), nullable=False),
        sa.Column("action", sa.String(NAME), nullable=False),
        sa.Column("env", sa.String(ID)),
        sa.Column("digest", sa.String(64)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(128), nullable=False),
        sa.Column("hash", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    for table in ("audit_events", "approval_decisions", "approval_requests"):
        op.drop_table(table)
