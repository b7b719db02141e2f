"""Approval requests and their decisions (DESIGN §5.2–5.3) for ``lite.LiteLedger``: the
statements of ``sql_approvals.py`` over the standard library's ``sqlite3``. Each function runs
inside the caller's transaction.

The two guarantees live in the database here too: a reviewer decides once per request (the
unique constraint the migrations made), and consuming a request is a conditional
``UPDATE … WHERE state = 'open'``, so of two deployments racing for it exactly one changes
the row and the other is told who won.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lambda_promote.ledger import rows, rules
from lambda_promote.ledger.lite_db import Transaction, listing
from lambda_promote.model import ApprovalDecision, ApprovalRequest, RequestState

_OPEN = RequestState.OPEN.value
_REQUEST_SEQ = "seq:SELECT coalesce(max(seq), 0) + 1 FROM approval_requests"


def insert_request(tx: Transaction, row: dict[str, Any], decisions: list[dict[str, Any]]) -> None:
    if tx.one("SELECT 1 FROM approval_requests WHERE id = ?", [row["id"]]) is not None:
        raise rules.duplicate_request(row["id"])
    tx.insert("approval_requests", row, extra=_REQUEST_SEQ)
    for decision in decisions:
        tx.insert("approval_decisions", decision)


def load_request(tx: Transaction, request_id: str) -> ApprovalRequest:
    row = tx.row("approval_requests", "WHERE id = ?", [request_id])
    decisions = tx.rows("approval_decisions", "WHERE request_id = ? ORDER BY seq", [request_id])
    return rows.request(row, [rows.decision(d) for d in decisions])


def list_requests(
    tx: Transaction,
    *,
    env: str | None,
    digest: str | None,
    states: Sequence[RequestState] | None,
    limit: int | None,
) -> list[ApprovalRequest]:
    """Two queries however many requests: the requests, then all their decisions."""
    chosen, params = listing(
        equal=[("env", env), ("digest", digest)],
        state_in=None if states is None else [RequestState(s).value for s in states],
        newest_by="requested_at",
        limit=limit,
    )
    found = tx.rows("approval_requests", chosen, params)
    if not found:
        return []
    decided: dict[str, list[ApprovalDecision]] = {row.id: [] for row in found}
    for row in tx.rows(
        "approval_decisions",
        f"WHERE request_id IN (SELECT id FROM approval_requests {chosen}) ORDER BY request_id, seq",
        params,
    ):
        if row.request_id in decided:
            decided[row.request_id].append(rows.decision(row))
    return [rows.request(row, decided[row.id]) for row in found]


def append_decision(tx: Transaction, request_id: str, decision: ApprovalDecision) -> None:
    """Refused unless the request is open and this reviewer has not decided on it yet."""
    found = tx.one("SELECT state FROM approval_requests WHERE id = ?", [request_id])
    if found is None:
        raise rules.unknown_request(request_id)
    if found[0] != _OPEN:
        raise rules.closed_request(request_id, RequestState(found[0]))
    if has_decided(tx, request_id, decision.reviewer):
        raise rules.already_decided(decision.reviewer, request_id)
    highest = tx.one(
        "SELECT coalesce(max(seq), 0) FROM approval_decisions WHERE request_id = ?", [request_id]
    )
    seq = int(highest[0] if highest else 0) + 1
    tx.insert("approval_decisions", rows.decision_row(decision, request_id=request_id, seq=seq))


def has_decided(tx: Transaction, request_id: str, reviewer: str) -> bool:
    found = tx.one(
        "SELECT seq FROM approval_decisions WHERE request_id = ? AND reviewer = ?",
        [request_id, reviewer],
    )
    return found is not None


def move_request(
    tx: Transaction, request_id: str, wanted: RequestState, *, consumed_by: str | None
) -> None:
    """``open → wanted`` in one conditional UPDATE; when no row moved, the reason why."""
    moved = tx.run(
        "UPDATE approval_requests SET state = ?, consumed_by = ? WHERE id = ? AND state = ?",
        [wanted.value, consumed_by, request_id, _OPEN],
    )
    if moved == 1:
        return
    current = tx.one("SELECT state, consumed_by FROM approval_requests WHERE id = ?", [request_id])
    if current is None:
        raise rules.unknown_request(request_id)
    raise rules.refused_move(request_id, RequestState(current[0]), wanted, consumed_by=current[1])
