"""The key id of each audit event (DESIGN §5.7): which audit key signed it, so a verifier can
tell a key change from an edit. Existing events keep NULL — they were hashed without a key id
and still verify exactly as before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

A migration is history: it spells its columns out instead of importing ``tables.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("key_id", sa.String(32)))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("key_id")
