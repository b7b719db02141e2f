"""Alembic's entry point for the ledger's migrations, run only from
``lambda_promote.ledger.migrate``: it hands over an open connection inside a transaction
(``config.attributes["connection"]``), so the whole upgrade commits or rolls back as one.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "the ledger's migrations run through lambda_promote.ledger.migrate, "
            "not the alembic command line"
        )
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
