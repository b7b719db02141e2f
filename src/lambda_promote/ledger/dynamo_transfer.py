"""The DynamoDB side of ``state migrate`` (``transfer.py``): the table read whole (one
paginated scan), or written with batch puts under a **migration marker**.

The marker item (``META``/``MIGRATION``) is written first, naming the source and the state
``copying``; the records follow (idempotent puts of the same keys); the chain head comes
last, and then the marker says ``done``. So a destination holding records is either our own
interrupted copy — a ``copying`` marker naming this same source, completed by running the
command again — or a ledger of its own, which is refused.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from lambda_promote.ledger import dynamo_codec as codec
from lambda_promote.ledger import dynamo_items as items
from lambda_promote.ledger import rules
from lambda_promote.ledger.dynamo_table import DynamoTable
from lambda_promote.ledger.dynamo_url import parse_dynamodb
from lambda_promote.ledger.records import Records, audit_row

_COPYING, _DONE = "copying", "done"


class DynamoStore:
    def __init__(self, url: str, *, client: Any = None) -> None:
        self.table = DynamoTable(parse_dynamodb(url), client=client)
        self.shown = self.table.shown

    def close(self) -> None:
        """Nothing to release."""

    def prepare(self) -> bool:
        if self.table.exists():
            return False
        self.table.create(tags={"app": "lambda-promote"})
        return True

    def foreign_records(self, source: str) -> bool:
        marker = self.table.get(codec.marker_key())
        if marker is not None:
            return not (marker.get("state") == _COPYING and marker.get("source") == source)
        return any(item["pk"] != codec.META_PK for item in self.table.scan())

    def read(self) -> Records:
        if not self.table.exists():
            return Records()
        return _records(list(self.table.scan()))

    def write(self, records: Records, *, source: str) -> None:
        marker = {**codec.marker_key(), "source": source, "started_at": _now()}
        self.table.put({**marker, "state": _COPYING})
        self.table.put_many(_items(records))
        if records.audit:
            self.table.put(items.head_item(records.audit[-1]))
        self.table.put({**marker, "state": _DONE, "finished_at": _now()})


def _now() -> str:
    return rules.now_utc().isoformat()


def _items(records: Records) -> list[dict[str, Any]]:
    made = [items.artifact_item(a) for a in records.artifacts]
    for found in records.deployments:
        made.append(
            items.deployment_item(
                found,
                seq=items.insertion_seq(),
                transitions=len(found.transitions),
                checks=len(found.checks),
            )
        )
        made += [items.transition_item(found.id, n, t) for n, t in enumerate(found.transitions, 1)]
        made += [items.check_item(found.id, n, c) for n, c in enumerate(found.checks, 1)]
    made += [items.request_item(r, seq=items.insertion_seq()) for r in records.requests]
    made += [items.audit_item(audit_row(e)) for e in records.audit]
    return made


def _records(scanned: list[dict[str, Any]]) -> Records:
    parts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    records = Records()
    mains: list[dict[str, Any]] = []
    for item in scanned:
        pk, sk = str(item["pk"]), str(item["sk"])
        if sk == "ARTIFACT":
            records.artifacts.append(items.artifact(item))
        elif pk.startswith("D#"):
            parts[pk].append(item)
            if sk == "DEPLOYMENT":
                mains.append(item)
        elif sk == "REQUEST":
            records.requests.append(items.request(item))
            parts["requests"].append(item)
        elif pk == codec.AUDIT_PK and sk.startswith("E#"):
            records.audit.append(items.audit_event(item))
        elif sk == "LOCK":
            records.locks += 1
    records.artifacts.sort(key=lambda a: a.digest)
    order = {str(i["id"]): int(i["seq"]) for i in mains + parts["requests"]}
    found = [items.full_deployment(parts[str(m["pk"])]) for m in mains]
    records.deployments = sorted((d for d in found if d), key=lambda d: order[d.id])
    records.requests.sort(key=lambda r: order[r.id])
    records.audit.sort(key=lambda e: e.seq)
    return records
