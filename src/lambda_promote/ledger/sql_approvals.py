"""Approval requests and their decisions over SQL (DESIGN §5.2–5.3), for ``sql.SqlLedger``.
Each function runs inside the caller's transaction.

Two guarantees live in the database itself, not only in the code: a reviewer decides once per
request (a unique constraint), and a request admits one deployment — consuming it is a
conditional ``UPDATE … WHERE state = 'open'``, so of two deployments racing for it exactly one
changes the row and the other is told who won.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lambda_promote.ledger import queries, rows, rules
from lambda_promote.ledger.tables import approval_decisions, approval_requests
from lambda_promote.model import ApprovalDecision, ApprovalRequest, RequestState

_OPEN = RequestState.OPEN.value


def insert_request(
    connection: Connection, row: dict[str, Any], decisions: list[dict[str, Any]]
) -> None:
    if queries.exists(connection, approval_requests.c.id, row["id"]):
        raise rules.duplicate_request(row["id"])
    seq = queries.insertion_seq(approval_requests)
    connection.execute(sa.insert(approval_requests).values({**row, "seq": seq}))
    if decisions:
        connection.execute(sa.insert(approval_decisions), decisions)


def request_exists(connection: Connection, request_id: str) -> bool:
    return queries.exists(connection, approval_requests.c.id, request_id)


def find_request(connection: Connection, key: str) -> ApprovalRequest | None:
    found = queries.resolve(connection, approval_requests.c.id, key, noun="approval request")
    return None if found is None else load_request(connection, found)


def load_request(connection: Connection, request_id: str) -> ApprovalRequest:
    row = connection.execute(
        sa.select(approval_requests).where(approval_requests.c.id == request_id)
    ).one()
    decisions = connection.execute(
        sa.select(approval_decisions)
        .where(approval_decisions.c.request_id == request_id)
        .order_by(approval_decisions.c.seq)
    )
    return rows.request(row, [rows.decision(d) for d in decisions])


def list_requests(
    connection: Connection,
    *,
    env: str | None,
    digest: str | None,
    states: Sequence[RequestState] | None,
    limit: int | None,
) -> list[ApprovalRequest]:
    """Two queries however many requests: the requests, then all their decisions."""
    chosen = sa.select(approval_requests)
    if env is not None:
        chosen = chosen.where(approval_requests.c.env == env)
    if digest is not None:
        chosen = chosen.where(approval_requests.c.digest == digest)
    if states is not None:
        chosen = chosen.where(
            approval_requests.c.state.in_([RequestState(s).value for s in states])
        )
    chosen = chosen.order_by(
        approval_requests.c.requested_at.desc(),
        approval_requests.c.seq.desc(),
        approval_requests.c.id.desc(),
    )
    if limit is not None:
        chosen = chosen.limit(limit)
    found = list(connection.execute(chosen))
    if not found:
        return []
    ids = sa.select(chosen.subquery().c.id)
    decided: dict[str, list[ApprovalDecision]] = {row.id: [] for row in found}
    for row in connection.execute(
        sa.select(approval_decisions)
        .where(approval_decisions.c.request_id.in_(ids))
        .order_by(approval_decisions.c.request_id, approval_decisions.c.seq)
    ):
        if row.request_id in decided:  # a request inserted since the first query is not ours
            decided[row.request_id].append(rows.decision(row))
    return [rows.request(row, decided[row.id]) for row in found]


def append_decision(connection: Connection, request_id: str, decision: ApprovalDecision) -> None:
    """Refused unless the request is open and this reviewer has not decided on it yet."""
    # FOR UPDATE (PostgreSQL) serialises deciders and consumers of this request.
    state = connection.execute(
        sa.select(approval_requests.c.state)
        .where(approval_requests.c.id == request_id)
        .with_for_update()
    ).scalar()
    if state is None:
        raise rules.unknown_request(request_id)
    if state != _OPEN:
        raise rules.closed_request(request_id, RequestState(state))
    if has_decided(connection, request_id, decision.reviewer):
        raise rules.already_decided(decision.reviewer, request_id)
    seq = queries.next_seq(connection, approval_decisions.c.request_id, request_id)
    connection.execute(
        sa.insert(approval_decisions).values(
            rows.decision_row(decision, request_id=request_id, seq=seq)
        )
    )


def has_decided(connection: Connection, request_id: str, reviewer: str) -> bool:
    found = connection.execute(
        sa.select(approval_decisions.c.seq).where(
            approval_decisions.c.request_id == request_id,
            approval_decisions.c.reviewer == reviewer,
        )
    ).first()
    return found is not None


def move_request(
    connection: Connection, request_id: str, wanted: RequestState, *, consumed_by: str | None
) -> None:
    """``open → wanted`` in one conditional UPDATE; when no row moved, the reason why."""
    moved = connection.execute(
        sa.update(approval_requests)
        .where(approval_requests.c.id == request_id, approval_requests.c.state == _OPEN)
        .values(state=wanted.value, consumed_by=consumed_by)
    )
    if moved.rowcount == 1:
        return
    current = connection.execute(
        sa.select(approval_requests.c.state, approval_requests.c.consumed_by).where(
            approval_requests.c.id == request_id
        )
    ).first()
    if current is None:
        raise rules.unknown_request(request_id)
    raise rules.refused_move(
        request_id, RequestState(current.state), wanted, consumed_by=current.consumed_by
    )
