"""The first ledger: artifacts, deployments with their transitions and checks, and the
per-environment locks (DESIGN §5.5, §5.6).

Revision ID: 0001
Revises:
Create Date: 2024-06-01

A migration is history: it spells its columns out instead of importing ``tables.py``, so
later changes to the code's tables never rewrite what an old database went through.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = 128
NAME = 255


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("files", sa.Text, nullable=False),
        sa.Column("inputs_hash", sa.String(NAME), nullable=False),
        sa.Column("commit", sa.String(NAME)),
        sa.Column("branch", sa.String(NAME)),
        sa.Column("builder", sa.String(NAME), nullable=False),
        sa.Column("built_at", _utc()),
        sa.Column("runtime", sa.String(64), nullable=False),
        sa.Column("architecture", sa.String(32), nullable=False),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(ID), primary_key=True),
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
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
    )
    op.create_index("ix_deployments_env_created", "deployments", ["env", "created_at", "seq"])
    op.create_index("ix_deployments_digest", "deployments", ["digest"])
    op.create_table(
        "transitions",
        sa.Column(
            "deployment_id", sa.String(ID), sa.ForeignKey("deployments.id"), primary_key=True
        ),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_table(
        "check_results",
        sa.Column(
            "deployment_id", sa.String(ID), sa.ForeignKey("deployments.id"), primary_key=True
        ),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("logs", sa.Text, nullable=False),
        sa.Column("response", sa.Text),
    )
    op.create_table(
        "locks",
        sa.Column("env", sa.String(ID), primary_key=True),
        sa.Column("holder", sa.String(NAME), nullable=False),
        sa.Column("deployment_id", sa.String(ID), nullable=False),
        sa.Column("since", _utc(), nullable=False),
    )


def downgrade() -> None:
    for table in ("locks", "check_results", "transitions", "deployments", "artifacts"):
        op.drop_table(table)
