"""The functions of a many-function release each deployment moves (DESIGN §11.4): per function
its digest, the version published, the version before and whether its alias moved — what a
rollback and the recovery of an interrupted deployment need. Single-function deployments keep
NULL (``version``/``previous_version`` say it all). The release itself (release digest →
function digests) is an artifact row whose ``files`` are its ``NAME DIGEST`` lines.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

A migration is history: it spells its columns out instead of importing ``tables.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("functions", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("functions")
