"""The audit trail in the DynamoDB ledger (DESIGN §5.7), for ``dynamo.DynamoLedger``.

Events live in one partition (``AUDIT``), sorted by seq; beside them the chain head item
names the seq and hash of the last event. An event is appended in one transaction with the
head, on the condition that the head is still the event the new one was made from (or
absent, for the first): two writers that read the same head cannot both append, so the chain
never forks. The loser reads the new head and makes its event again, as ``sql.py`` does.

Append-only: nothing here updates or deletes an event. Events are read back exactly as
stored, so an edited item reaches ``audit.verify`` as it is, to be named there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from lambda_promote.errors import LedgerError
from lambda_promote.ledger import dynamo_codec as codec
from lambda_promote.ledger import dynamo_items as items
from lambda_promote.ledger import rules
from lambda_promote.ledger.dynamo_table import DynamoTable, cancel_reasons
from lambda_promote.model import AuditEvent

# An append that loses its place to concurrent appenders re-reads and re-makes this often;
# twenty runners appending at once each win within twenty rounds.
_ATTEMPTS = 40
_LAST = codec.child_sk("E", 10**codec.SEQ_WIDTH - 1)


def append(table: DynamoTable, make: Callable[[AuditEvent | None], AuditEvent]) -> AuditEvent:
    for _ in range(_ATTEMPTS):
        last = last_event(table)
        event = make(last)
        row = rules.audit_event(event, last)
        if _appended(table, row, event, last):
            return event
    raise LedgerError(
        f"could not append to the audit trail: {_ATTEMPTS} attempts in a row lost their place "
        "to other writers",
        hint="many processes are writing to this ledger at once; try again",
    )


def _appended(
    table: DynamoTable, row: dict[str, Any], event: AuditEvent, last: AuditEvent | None
) -> bool:
    if last is None:
        head_condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
    else:
        head_condition = {
            "ConditionExpression": "#seq = :seq AND #hash = :hash",
            "ExpressionAttributeNames": {"#seq": "seq", "#hash": "hash"},
            "ExpressionAttributeValues": {":seq": last.seq, ":hash": last.hash},
        }
    try:
        table.transact(
            [
                {"Put": {"Item": items.head_item(event), **head_condition}},
                {
                    "Put": {
                        "Item": items.audit_item(row),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    except ClientError as error:
        reasons = cancel_reasons(error)
        if not any(r in ("ConditionalCheckFailed", "TransactionConflict") for r in reasons):
            raise
        return False
    return True


def last_event(table: DynamoTable) -> AuditEvent | None:
    for item in table.query(
        limit=1,
        ScanIndexForward=False,
        KeyConditionExpression="pk = :p AND begins_with(sk, :e)",
        ExpressionAttributeValues={":p": codec.AUDIT_PK, ":e": "E#"},
    ):
        return items.audit_event(item)
    return None


def events(table: DynamoTable, *, env: str | None, since_seq: int | None) -> list[AuditEvent]:
    first = codec.child_sk("E", (since_seq or 0) + 1)
    options: dict[str, Any] = {
        "KeyConditionExpression": "pk = :p AND sk BETWEEN :first AND :last",
        "ExpressionAttributeValues": {":p": codec.AUDIT_PK, ":first": first, ":last": _LAST},
    }
    if env is not None:
        options["FilterExpression"] = "#env = :env"
        options["ExpressionAttributeNames"] = {"#env": "env"}
        options["ExpressionAttributeValues"][":env"] = env
    return [items.audit_event(item) for item in table.query(**options)]
