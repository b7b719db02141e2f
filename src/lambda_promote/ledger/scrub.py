"""Nothing secret is stored (DESIGN §5.8): the one step where a record's free text passes
through the ``Redactor`` (notify/redact.py) on its way into the ledger.

The ledger outlives the machine that wrote it — a SQLite file travels as a CI artifact, a
PostgreSQL ledger is read by the whole team — so the secrets must go while the writer still
knows them: redacting only when printing would use the reading machine's variables, and one
without them would print everything. ``sql.SqlLedger`` passes every record here before it
builds rows; the audit trail's reason and details are scrubbed by the caller before hashing
(``workspace.Workspace.audit``), because a stored event must be exactly what was hashed.

Only free text is scrubbed — what a handler printed or answered, an error, a reason, a
comment, evidence, a rollback record. Ids, digests, names and versions are keys the ledger
is queried by and are left exactly as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import is_dataclass, replace
from typing import Any, TypeVar

from lambda_promote.model import (
    ApprovalDecision,
    ApprovalRequest,
    CheckResult,
    Deployment,
    Transition,
)
from lambda_promote.notify.redact import Redactor

Record = TypeVar("Record")

# The fields of each record that hold free text (or JSON holding free text, or records).
FREE_TEXT: Mapping[type, tuple[str, ...]] = {
    Deployment: ("reason", "error", "rollback", "transitions", "checks"),
    Transition: ("note",),
    CheckResult: ("detail", "logs", "response"),
    ApprovalRequest: ("evidence", "decisions"),
    ApprovalDecision: ("comment",),
}
# ``transition(**fields)`` may change these deployment fields; these ones are free text.
TRANSITION_TEXT = frozenset({"error", "reason", "rollback"})


def scrubbed(record: Record, redactor: Redactor) -> Record:
    """``record`` with the free text of it (and of the records it holds) redacted."""
    names = FREE_TEXT.get(type(record))
    if names is None:
        raise TypeError(f"the ledger does not know which fields of {type(record)} are text")
    changes = {name: _value(getattr(record, name), redactor) for name in names}
    return replace(record, **changes)  # type: ignore[type-var]


def scrubbed_fields(changes: Mapping[str, Any], redactor: Redactor) -> dict[str, Any]:
    """The fields of one ``transition``, their free text redacted."""
    return {
        name: _value(value, redactor) if name in TRANSITION_TEXT else value
        for name, value in changes.items()
    }


def _value(value: Any, redactor: Redactor) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return scrubbed(value, redactor)
    if isinstance(value, list) and any(is_dataclass(item) for item in value):
        return [_value(item, redactor) for item in value]
    return redactor.deep(value)
