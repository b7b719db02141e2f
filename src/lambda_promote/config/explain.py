"""Step 2 of loading promote.yaml: pydantic's validation errors → problems a person can act on.

Each pydantic error has a ``type``, a ``loc`` and the offending ``input``. The ``loc`` gives the
line (through the document's line map) and, walked through the schema, the words for what was
expected; the ``type`` picks the sentence and the hint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_origin

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from lambda_promote.config.fields import Slot, describe, keys_of, model_at, slot_at
from lambda_promote.config.problems import (
    REFERENCE_HINT,
    FieldPath,
    Problem,
    did_you_mean,
    dotted,
    shown,
)
from lambda_promote.config.yamlsource import LocatedDocument

Explanation = tuple[str, str]  # (what was expected, got what), hint

# Pydantic error types that all mean "this is not the kind of value that goes here".
_WRONG_KIND = frozenset(
    {
        "int_type",
        "int_parsing",
        "int_from_float",
        "int_parsing_size",
        "bool_type",
        "bool_parsing",
        "string_type",
        "string_sub_type",
        "float_type",
        "float_parsing",
        "list_type",
        "dict_type",
        "model_type",
        "model_attributes_type",
        "literal_error",
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
    }
)

# Fields constrained by a regular expression, in words, with an example.
_PATTERNS: dict[str, Explanation] = {
    "handler": (
        "expected module.function, e.g. app.handler",
        "app.handler means `def handler(event, context)` in app.py inside function.source",
    ),
    "alias": (
        "expected an alias name of letters, digits, '-' or '_' (not only digits)",
        "e.g. alias: live",
    ),
    "role_arn": (
        "expected an IAM role ARN",
        "e.g. role_arn: arn:aws:iam::111111111111:role/deploy-staging",
    ),
}

_NULL_HINT = "the key is there but has no value: give it one, or delete the line to use the default"


def problems_from(error: ValidationError, doc: LocatedDocument) -> list[Problem]:
    """One problem per pydantic error, placed at the line of the offending value.

    A value the YAML step could not read already has its problem, and a field reported
    missing because its key is misspelt (``form:`` for ``from:``) is explained by the
    "did you mean" of the misspelling; neither is reported twice.
    """
    items = error.errors(include_url=False)
    reported = {problem.path for problem in doc.problems}
    misspelt = {loc for item in items if (loc := _meant(item)) is not None}
    return [
        _problem(item, doc)
        for item in items
        if tuple(item["loc"]) not in reported
        and not (item["type"] == "missing" and tuple(item["loc"]) in misspelt)
    ]


def _meant(item: ErrorDetails) -> FieldPath | None:
    """For an unknown key close to a field of its model, the location of that field."""
    if item["type"] != "extra_forbidden":
        return None
    loc: FieldPath = tuple(item["loc"])
    model = model_at(loc[:-1])
    guess = did_you_mean(str(loc[-1]), keys_of(model)) if model else None
    return (*loc[:-1], guess) if guess else None


def _problem(item: ErrorDetails, doc: LocatedDocument) -> Problem:
    loc: FieldPath = tuple(item["loc"])
    explain = _EXPLAINERS.get(item["type"])
    if explain is None:
        explain = _wrong_kind if item["type"] in _WRONG_KIND else _other
    text, hint = explain(item, loc)
    path = tuple(part for part in loc if part != "[key]")
    return Problem(line=doc.line_for(path), path=path, text=text, hint=hint)


def _missing(item: ErrorDetails, loc: FieldPath) -> Explanation:
    where = f"under {dotted(loc[:-1])}:" if loc[:-1] else "at the top level"
    return "missing required field", f"add `{loc[-1]}:` {where}"


def _unknown(item: ErrorDetails, loc: FieldPath) -> Explanation:
    model = model_at(loc[:-1])
    choices = keys_of(model) if model else []
    guess = did_you_mean(str(loc[-1]), choices)
    valid = f"valid keys here: {', '.join(choices)}" if choices else "remove it"
    if guess:
        return f"unknown field, did you mean '{guess}'?", f"did you mean '{guess}'? {valid}"
    return "unknown field", valid


def _wrong_kind(item: ErrorDetails, loc: FieldPath) -> Explanation:
    slot = slot_at(loc)
    value = item["input"]
    if slot is None:
        return _other(item, loc)
    expected = describe(slot)
    return f"expected {expected}, got {shown(value)}", _kind_hint(slot, expected, value)


def _kind_hint(slot: Slot, expected: str, value: Any) -> str:
    if value is None and expected.startswith("a mapping"):
        return "the key has no value: write its settings as indented `key: value` lines under it"
    if value is None:
        return _NULL_HINT
    if expected == "a string" and isinstance(value, bool):
        return 'YAML reads yes/no/on/off/true/false as true or false: quote it, e.g. "on"'
    if expected == "a string" and isinstance(value, int | float):
        return 'quote it so YAML reads it as text, e.g. "1.10"'
    if isinstance(value, str) and ("integer" in expected or "whole number" in expected):
        return "write a number without quotes or words, e.g. 2"
    if isinstance(value, str) and expected == "true or false":
        return "write true or false"
    if expected.startswith("one of"):
        return "use one of the values listed"
    if get_origin(slot.annotation) is list or expected.startswith("a list"):
        return "write a list: [a, b] on one line, or one '- item' per line"
    if expected.startswith("a mapping"):
        return "write a mapping: indented `key: value` lines under this key"
    return REFERENCE_HINT


def _too_short(item: ErrorDetails, loc: FieldPath) -> Explanation:
    if loc == ("environments",):
        return "expected at least one environment", "add e.g. `staging:` with a function_name"
    minimum = (item.get("ctx") or {}).get("min_length", 1)
    plural = "item" if minimum == 1 else "items"
    return (
        f"expected at least {minimum} {plural}, got an empty list",
        "add an item, or delete the line if the field is optional",
    )


def _string_too_short(item: ErrorDetails, loc: FieldPath) -> Explanation:
    return f"expected a non-empty string, got {shown(item['input'])}", REFERENCE_HINT


def _too_long(item: ErrorDetails, loc: FieldPath) -> Explanation:
    limit = (item.get("ctx") or {}).get("max_length")
    return f"expected at most {limit} characters, got {len(str(item['input']))}", REFERENCE_HINT


def _pattern(item: ErrorDetails, loc: FieldPath) -> Explanation:
    known = _PATTERNS.get(str(loc[-1]))
    if known is None:
        pattern = (item.get("ctx") or {}).get("pattern", "")
        return f"expected text matching {pattern}, got {shown(item['input'])}", REFERENCE_HINT
    return f"{known[0]}, got {shown(item['input'])}", known[1]


def _other(item: ErrorDetails, loc: FieldPath) -> Explanation:
    msg = item["msg"]
    return f"{msg[:1].lower()}{msg[1:]}, got {shown(item['input'])}", REFERENCE_HINT


_EXPLAINERS: dict[str, Callable[[ErrorDetails, FieldPath], Explanation]] = {
    "missing": _missing,
    "extra_forbidden": _unknown,
    "too_short": _too_short,
    "string_too_short": _string_too_short,
    "too_long": _too_long,
    "string_too_long": _too_long,
    "string_pattern_mismatch": _pattern,
}
