"""The DynamoDB ledger's items as plain data (no boto3): which keys each record is stored
under, and how a model dataclass becomes the JSON an item carries and back.

Records travel *generically*: an item's ``data`` attribute is the dataclass's fields as JSON
(times as ISO text in UTC, enums as their values, tuples as lists, nested dataclasses as
objects), read back by the field types of the dataclass. A field added to ``Deployment`` or
``Artifact`` therefore costs nothing here; a field this version does not know is ignored on
reading, and one missing from an old item takes its default.

The keys of the single-table design (see ``dynamo.py`` for the access patterns):

    record            pk                 sk              indexes
    artifact          A#<digest>         ARTIFACT        by_prefix
    deployment        D#<id>             DEPLOYMENT      by_prefix, by_env, by_kind, live
    its transitions   D#<id>             T#<seq>
    its checks        D#<id>             C#<seq>
    lock              L#<env>            LOCK
    approval request  R#<id>             REQUEST         by_prefix, by_env, by_kind, live
    audit event       AUDIT              E#<seq>
    audit chain head  AUDIT              HEAD
    migration marker  META               MIGRATION
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

from lambda_promote.ledger import rules

T = TypeVar("T")

SEQ_WIDTH = 12  # zero-padded, so a sort key orders numbers as numbers
PREFIX_LEN = rules.MIN_PREFIX  # a by_prefix partition holds the ids sharing this many chars

ARTIFACT, DEPLOYMENT, REQUEST = "artifact", "deployment", "request"
_PK_LETTER = {ARTIFACT: "A", DEPLOYMENT: "D", REQUEST: "R"}
_SK_NAME = {ARTIFACT: "ARTIFACT", DEPLOYMENT: "DEPLOYMENT", REQUEST: "REQUEST"}
AUDIT_PK = "AUDIT"
AUDIT_HEAD_SK = "HEAD"
META_PK = "META"
MIGRATION_SK = "MIGRATION"


# --- keys --------------------------------------------------------------------------------
def key(kind: str, record_id: str) -> dict[str, str]:
    return {"pk": f"{_PK_LETTER[kind]}#{record_id}", "sk": _SK_NAME[kind]}


def lock_key(env: str) -> dict[str, str]:
    return {"pk": f"L#{env}", "sk": "LOCK"}


def child_sk(letter: str, seq: int) -> str:
    return f"{letter}#{seq:0{SEQ_WIDTH}d}"


def audit_key(seq: int) -> dict[str, str]:
    return {"pk": AUDIT_PK, "sk": child_sk("E", seq)}


def head_key() -> dict[str, str]:
    return {"pk": AUDIT_PK, "sk": AUDIT_HEAD_SK}


def marker_key() -> dict[str, str]:
    return {"pk": META_PK, "sk": MIGRATION_SK}


def prefix_partition(kind: str, text: str) -> str:
    """The by_prefix partition of an id, or of a lookup key of at least ``PREFIX_LEN``
    characters: ids are spread over partitions by their first characters, and a prefix
    query reads exactly one of them."""
    return f"{kind}#{text[:PREFIX_LEN]}"


def order_key(moment: datetime, seq: int, record_id: str) -> str:
    """Sorts as "newest first" does on SQL: by time, then insertion, then id."""
    return f"{stamp(moment)}#{seq:0{SEQ_WIDTH}d}#{record_id}"


def stamp(moment: datetime) -> str:
    """Fixed-width UTC text, so comparing strings compares times."""
    return rules.utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- records as JSON ---------------------------------------------------------------------
def to_json(record: Any, *, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """``record``'s fields as plain JSON values (``leave_out``: fields stored elsewhere)."""
    return {
        f.name: _plain(getattr(record, f.name))
        for f in dataclasses.fields(record)
        if f.name not in leave_out
    }


def dumps(record: Any, *, what: str, leave_out: tuple[str, ...] = ()) -> str:
    text = rules.dump_json(to_json(record, leave_out=leave_out), what=what)
    assert text is not None
    return text


def from_json(cls: type[T], data: dict[str, Any], **extra: Any) -> T:
    """A ``cls`` from ``data`` (and ``extra`` fields given as they are)."""
    hints = _hints(cls)  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in extra:
            values[f.name] = extra[f.name]
        elif f.name in data:
            values[f.name] = _typed(hints[f.name], data[f.name])
    return cls(**values)


def loads(cls: type[T], text: str, **extra: Any) -> T:
    return from_json(cls, json.loads(text), **extra)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return rules.utc(value).isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)  # resolved in the module that defines ``cls``


def _typed(hint: Any, value: Any) -> Any:
    """``value`` (plain JSON) as the type ``hint`` names; anything else as it is."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _typed(options[0], value) if len(options) == 1 else value
    if origin is tuple and isinstance(value, list):
        inner = typing.get_args(hint)[0] if typing.get_args(hint) else Any
        return tuple(_typed(inner, item) for item in value)
    if origin is list and isinstance(value, list):
        inner = typing.get_args(hint)[0] if typing.get_args(hint) else Any
        return [_typed(inner, item) for item in value]
    if origin is dict and isinstance(value, dict) and len(typing.get_args(hint)) == 2:
        inner = typing.get_args(hint)[1]
        return {k: _typed(inner, item) for k, item in value.items()}
    if hint is datetime and isinstance(value, str):
        return datetime.fromisoformat(value).astimezone(UTC)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return from_json(hint, value)
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value
