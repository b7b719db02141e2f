"""Decisions made in ``serve`` (DESIGN §11.7) name the OpenID Connect issuer and the subject
that proved the reviewer's identity. Decisions recorded before (or by the CLI) keep NULL.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

A migration is history: it spells its columns out instead of importing ``tables.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("approval_decisions") as batch:
        batch.add_column(sa.Column("issuer", sa.String(512)))
        batch.add_column(sa.Column("subject", sa.String(512)))


def downgrade() -> None:
    with op.batch_alter_table("approval_decisions") as batch:
        batch.drop_column("subject")
        batch.drop_column("issuer")
