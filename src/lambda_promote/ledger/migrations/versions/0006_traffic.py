"""The steps of a progressive traffic shift each deployment walks (DESIGN §11.5): a JSON list
of ``{"percent", "at", "ok"}``, each step written before the alias weight moves, so the
recovery of an interrupted shift knows how far it got. Deployments that moved their traffic
all at once keep NULL. Abort and finish requests need no table: they are audit events
(``traffic.abort`` / ``traffic.finish``) that the running deploy reads.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

A migration is history: it spells its columns out instead of importing ``tables.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("traffic", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("traffic")
