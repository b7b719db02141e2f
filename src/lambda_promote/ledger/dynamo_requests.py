"""Approval requests and their decisions in the DynamoDB ledger (DESIGN §5.2–5.3), for
``dynamo.DynamoLedger``.

A request is one item holding its decisions (a list, in the order they were made) and the
set of its ``reviewers``. Both guarantees are single conditional updates, decided by
DynamoDB itself: a reviewer decides once (the update appends only while the reviewer is not
in the set and the request is open), and a request admits one deployment (consuming it is
``SET state = consumed`` on the condition ``state = open``: of twenty deployments racing
for it, exactly one changes the item and the others are told who won).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from lambda_promote.ledger import dynamo_codec as codec
from lambda_promote.ledger import dynamo_items as items
from lambda_promote.ledger import rules
from lambda_promote.ledger.dynamo_codec import REQUEST
from lambda_promote.ledger.dynamo_table import DynamoTable, conditional_failure
from lambda_promote.model import ApprovalDecision, ApprovalRequest, RequestState

_OPEN = RequestState.OPEN.value
_NAMES = {"#state": "state", "#reviewers": "reviewers", "#decisions": "decisions"}


def create(table: DynamoTable, request: ApprovalRequest) -> ApprovalRequest:
    item = items.request_item(request, seq=items.insertion_seq())
    try:
        table.put(item, ConditionExpression="attribute_not_exists(pk)")
    except ClientError as error:
        if not conditional_failure(error):
            raise
        raise rules.duplicate_request(request.id) from None
    return items.request(item)


def listed(
    table: DynamoTable,
    *,
    env: str | None,
    digest: str | None,
    states: Sequence[RequestState] | None,
    limit: int | None,
) -> list[ApprovalRequest]:
    """Newest first: pending ones from the sparse ``live`` index, else by env or all."""
    wanted = None if states is None else {RequestState(s).value for s in states}
    if wanted == {_OPEN}:
        name, value = "lpk", items.OPEN_REQUESTS
        index = "live"
    elif env is not None:
        name, value, index = "epk", f"{REQUEST}#{env}", "by_env"
    else:
        name, value, index = "kpk", REQUEST, "by_kind"
    chosen: list[ApprovalRequest] = []
    for item in table.query(
        index=index,
        limit=100 if limit is None else max(10, min(limit + 10, 500)),
        ScanIndexForward=False,
        KeyConditionExpression=f"{name} = :p",
        ExpressionAttributeValues={":p": value},
    ):
        if _matches(item, env=env, digest=digest, wanted=wanted):
            chosen.append(items.request(item))
            if limit is not None and len(chosen) >= limit:
                break
    return chosen


def _matches(
    item: dict[str, Any], *, env: str | None, digest: str | None, wanted: set[str] | None
) -> bool:
    return (
        (env is None or item["env"] == env)
        and (digest is None or item["digest"] == digest)
        and (wanted is None or item["state"] in wanted)
    )


def decide(table: DynamoTable, request_id: str, decision: ApprovalDecision) -> ApprovalRequest:
    """Append ``decision``: refused unless the request is open and the reviewer new to it."""
    stored = ApprovalDecision(
        reviewer=decision.reviewer,
        approve=bool(decision.approve),
        at=rules.utc(decision.at),
        comment=decision.comment,
        source=decision.source,
    )
    try:
        answer = table.update(
            codec.key(REQUEST, request_id),
            UpdateExpression="SET #decisions = list_append(#decisions, :d) ADD #reviewers :r",
            ConditionExpression="attribute_exists(pk) AND #state = :open AND "
            "NOT contains(#reviewers, :who)",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={
                ":d": [codec.dumps(stored, what="the decision")],
                ":r": {stored.reviewer},
                ":who": stored.reviewer,
                ":open": _OPEN,
            },
            ReturnValues="ALL_NEW",
        )
    except ClientError as error:
        if not conditional_failure(error):
            raise
        raise _refused_decision(table, request_id, stored.reviewer) from None
    return items.request(answer)


def _refused_decision(table: DynamoTable, request_id: str, reviewer: str) -> Exception:
    current = table.get(codec.key(REQUEST, request_id))
    if current is None:
        return rules.unknown_request(request_id)
    if current["state"] != _OPEN:
        return rules.closed_request(request_id, RequestState(current["state"]))
    return rules.already_decided(reviewer, request_id)


def move(
    table: DynamoTable, request_id: str, wanted: RequestState, *, consumed_by: str | None
) -> ApprovalRequest:
    """``open → wanted`` in one conditional update; when it did not happen, why."""
    values: dict[str, Any] = {":open": _OPEN, ":s": wanted.value}
    update = "SET #state = :s REMOVE lpk, lsk"
    if consumed_by is not None:
        update = "SET #state = :s, consumed_by = :c REMOVE lpk, lsk"
        values[":c"] = consumed_by
    try:
        answer = table.update(
            codec.key(REQUEST, request_id),
            UpdateExpression=update,
            ConditionExpression="attribute_exists(pk) AND #state = :open",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    except ClientError as error:
        if not conditional_failure(error):
            raise
        current = table.get(codec.key(REQUEST, request_id))
        if current is None:
            raise rules.unknown_request(request_id) from None
        raise rules.refused_move(
            request_id,
            RequestState(current["state"]),
            wanted,
            consumed_by=current.get("consumed_by"),
        ) from None
    return items.request(answer)
