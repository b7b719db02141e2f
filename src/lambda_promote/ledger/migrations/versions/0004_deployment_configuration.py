"""The configuration each deployment carries (DESIGN §11.3): the effective configuration as
JSON, its digest, and the release's own part (what a promotion carries on). Deployments
recorded before keep NULL: they are shown as "not recorded" and never count as drift.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

A migration is history: it spells its columns out instead of importing ``tables.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("configuration", sa.Text))
        batch.add_column(sa.Column("configuration_digest", sa.String(64)))
        batch.add_column(sa.Column("release_configuration", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("release_configuration")
        batch.drop_column("configuration_digest")
        batch.drop_column("configuration")
