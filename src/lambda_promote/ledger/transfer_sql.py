"""The SQL side of ``state migrate`` (``transfer.py``): a SQLite file or PostgreSQL database
read whole, or written whole in **one transaction** — so an interrupted copy into SQL leaves
nothing behind, and running the command again starts from an empty destination.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from lambda_promote.ledger import migrate, rows
from lambda_promote.ledger.engine import create_ledger_engine, ledger_url, reading, writing
from lambda_promote.ledger.records import Records, audit_row
from lambda_promote.ledger.tables import (
    approval_decisions,
    approval_requests,
    artifacts,
    audit_events,
    check_results,
    deployments,
    locks,
    transitions,
)
from lambda_promote.model import DeploymentState, Transition

_RECORD_TABLES = (artifacts, deployments, approval_requests, audit_events)


class SqlStore:
    def __init__(self, url: str, *, root: Path) -> None:
        self.shown = ledger_url(url, root=root).render_as_string(hide_password=True)
        self._engine = create_ledger_engine(url, root=root)

    def close(self) -> None:
        self._engine.dispose()

    def prepare(self) -> bool:
        with reading(self._engine) as connection:
            before = migrate.schema_revision(connection)
        migrate.ensure_schema(self._engine, shown_url=self.shown)
        return before is None

    def foreign_records(self, source: str) -> bool:
        # One transaction per copy: any record here was put by someone else.
        with reading(self._engine) as connection:
            return any(
                connection.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in _RECORD_TABLES
            )

    def read(self) -> Records:
        with reading(self._engine) as connection:
            if migrate.schema_revision(connection) is None:
                return Records()
            return _read(connection)

    def write(self, records: Records, *, source: str) -> None:
        with writing(self._engine) as connection:
            if records.artifacts:
                connection.execute(
                    sa.insert(artifacts), [rows.artifact_row(a) for a in records.artifacts]
                )
            for seq, found in enumerate(records.deployments, start=1):
                _write_deployment(connection, found, seq)
            for seq, request in enumerate(records.requests, start=1):
                connection.execute(
                    sa.insert(approval_requests).values({**rows.request_row(request), "seq": seq})
                )
                if request.decisions:
                    connection.execute(
                        sa.insert(approval_decisions),
                        [
                            rows.decision_row(d, request_id=request.id, seq=n)
                            for n, d in enumerate(request.decisions, start=1)
                        ],
                    )
            if records.audit:
                connection.execute(sa.insert(audit_events), [audit_row(e) for e in records.audit])


def _write_deployment(connection: sa.Connection, found: Any, seq: int) -> None:
    assert found.created_at is not None
    assert found.updated_at is not None
    row = rows.deployment_row(found, created=found.created_at, updated=found.updated_at)
    connection.execute(sa.insert(deployments).values({**row, "seq": seq}))
    if found.transitions:
        connection.execute(
            sa.insert(transitions),
            [
                {
                    "deployment_id": found.id,
                    "seq": n,
                    "state": t.state.value,
                    "at": t.at,
                    "note": t.note,
                }
                for n, t in enumerate(found.transitions, start=1)
            ],
        )
    checks = rows.check_rows(found.checks, first_seq=1)
    if checks:
        connection.execute(
            sa.insert(check_results), [{**c, "deployment_id": found.id} for c in checks]
        )


def _read(connection: sa.Connection) -> Records:
    moves: dict[str, list[Transition]] = defaultdict(list)
    for t in connection.execute(sa.select(transitions).order_by(transitions.c.seq)):
        moves[t.deployment_id].append(Transition(DeploymentState(t.state), t.at, t.note))
    checked: dict[str, list[Any]] = defaultdict(list)
    for c in connection.execute(sa.select(check_results).order_by(check_results.c.seq)):
        checked[c.deployment_id].append(rows.check(c))
    found = []
    for row in connection.execute(
        sa.select(deployments).order_by(deployments.c.seq, deployments.c.created_at)
    ):
        deployment = rows.deployment(row)
        deployment.transitions, deployment.checks = moves[row.id], checked[row.id]
        found.append(deployment)
    decided: dict[str, list[Any]] = defaultdict(list)
    for d in connection.execute(sa.select(approval_decisions).order_by(approval_decisions.c.seq)):
        decided[d.request_id].append(rows.decision(d))
    requests = [
        rows.request(r, decided[r.id])
        for r in connection.execute(
            sa.select(approval_requests).order_by(
                approval_requests.c.seq, approval_requests.c.requested_at
            )
        )
    ]
    return Records(
        artifacts=[
            rows.artifact(a)
            for a in connection.execute(sa.select(artifacts).order_by(artifacts.c.digest))
        ],
        deployments=found,
        requests=requests,
        audit=[
            rows.audit_event(e)
            for e in connection.execute(sa.select(audit_events).order_by(audit_events.c.seq))
        ],
        locks=connection.execute(sa.select(sa.func.count()).select_from(locks)).scalar_one(),
    )
