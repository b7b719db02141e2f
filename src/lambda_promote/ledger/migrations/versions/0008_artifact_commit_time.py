"""The committer time of each artifact's commit (DESIGN §11.8: DORA lead time runs from the
release's commit to its success). NULL for artifacts recorded before this revision, and for
builds made outside a git repository; ``metrics`` then falls back to the build time.

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-01

Numbered 0008 so that it can follow 0006/0007 once those land: only ``down_revision`` (and
``Revises``) need changing to re-chain it. A migration is history: it spells its columns out
instead of importing ``tables.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("artifacts") as batch:
        batch.add_column(sa.Column("committed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("artifacts") as batch:
        batch.drop_column("committed_at")
