"""``lambda-promote state migrate --to URL`` (DESIGN §11.6): a whole ledger copied between
any two backends — SQLite, PostgreSQL, DynamoDB — with every id, time, insertion order,
audit hash and key id as it was.

    plan     read the source (``Records``), refuse when an environment is locked there (a
             deployment is in flight: copying its half would strand it)
    prepare  create the destination's schema or table when missing
    refuse   a destination that holds records — unless they are *our own* interrupted copy:
             SQL destinations are written in one transaction (an interrupted copy left
             nothing); a DynamoDB destination gets a marker item first, naming the source,
             and only a destination whose marker names this same source is resumed
    copy     everything, then mark the copy done
    verify   read the destination back: the counts must match and ``audit.verify`` must
             accept its chain (with LAMBDA_PROMOTE_AUDIT_KEY when the events are keyed)

The backends implement ``Store``: ``transfer_sql`` (SQLAlchemy) and ``dynamo_transfer``
(boto3). Neither is imported until a command needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lambda_promote.errors import LedgerError, UsageError
from lambda_promote.ledger.dynamo_url import is_dynamodb, scheme_of
from lambda_promote.ledger.records import Records
from lambda_promote.model import AuditEvent


class Store(Protocol):
    shown: str

    def read(self) -> Records: ...

    def prepare(self) -> bool:
        """Create the schema or table when missing; True when something was created."""
        ...

    def foreign_records(self, source: str) -> bool:
        """Whether the destination holds records that are not an interrupted copy of
        ``source`` (which a new run may complete)."""
        ...

    def write(self, records: Records, *, source: str) -> None: ...

    def close(self) -> None: ...


def open_store(url: str, *, root: Path) -> Store:
    scheme_of(url)
    if is_dynamodb(url):
        from lambda_promote.targets import require_boto3

        require_boto3(needed_for=f"state: {url}")
        from lambda_promote.ledger.dynamo_transfer import DynamoStore

        return DynamoStore(url)
    from lambda_promote.ledger.transfer_sql import SqlStore

    return SqlStore(url, root=root)


@dataclass(frozen=True)
class Migration:
    source: str
    destination: str
    counts: dict[str, int]
    created: bool
    audit_head: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "from": self.source,
            "to": self.destination,
            "counts": self.counts,
            "created": self.created,
            "audit_head": self.audit_head,
            "verified": True,
        }


def migrate(
    source: Store, destination: Store, *, verify: Callable[[list[AuditEvent]], str | None]
) -> Migration:
    """Copy ``source`` into ``destination`` (see the module doc); ``verify`` checks a chain
    and returns its head hash, raising when it is broken."""
    if source.shown == destination.shown:
        raise UsageError(
            f"--to names the ledger this project already uses ({source.shown})",
            hint="give another URL; the source is `state` (or LAMBDA_PROMOTE_STATE)",
        )
    records = source.read()
    if records.locks:
        raise LedgerError(
            f"the ledger at {source.shown} holds {records.locks} environment lock(s): a "
            "deployment is in flight",
            hint="let it finish (or resolve it with `lambda-promote status` / `unlock`), then "
            "migrate; nothing was copied",
            code="ledger_busy",
        )
    created = destination.prepare()
    if destination.foreign_records(source.shown):
        raise LedgerError(
            f"the destination {destination.shown} already holds a ledger; state migrate "
            "copies only into an empty one",
            hint="point --to at a new table, database or schema (nothing was copied)",
            code="destination_not_empty",
        )
    destination.write(records, source=source.shown)
    copied = destination.read()
    if copied.counts() != records.counts():
        raise LedgerError(
            f"the copy at {destination.shown} does not hold what {source.shown} holds: "
            f"{copied.counts()} instead of {records.counts()}",
            hint="run the same command again: an interrupted copy is completed",
        )
    head = verify(copied.audit)
    return Migration(
        source=source.shown,
        destination=destination.shown,
        counts=records.counts(),
        created=created,
        audit_head=head,
    )
