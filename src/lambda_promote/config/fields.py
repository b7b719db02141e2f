"""What the schema expects at a given place in promote.yaml, in words.

Pydantic says "Input should be a valid integer"; a user needs "expected a positive integer".
Walking ``Config``'s annotations along an error's location finds the field's type and its
constraints (``PositiveInt`` → ``Gt(0)``), which is enough to describe it, and the model that
holds it, which is what a "did you mean" needs.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeGuard, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel

from lambda_promote.config import schema
from lambda_promote.config.problems import FieldPath


@dataclass(frozen=True)
class Slot:
    """A place in the config: its annotation, constraints and the model it belongs to."""

    annotation: Any
    metadata: tuple[Any, ...] = ()
    owner: type[BaseModel] | None = None


# The singular noun for each model, as a list or a mapping of them is described.
_NOUNS: dict[type[BaseModel], str] = {
    schema.Config: "settings",
    schema.Function: "function settings",
    schema.Environment: "environment",
    schema.Approval: "approval settings",
    schema.Check: "check",
    schema.Expectation: "expectation (body:, status:)",
    schema.Trigger: "trigger",
    schema.Notifications: "notifiers (slack:, email:, webhook:)",
    schema.SlackNotifier: "Slack settings",
    schema.EmailNotifier: "email settings",
    schema.WebhookNotifier: "webhook settings",
}

_PLURALS = {"check": "checks", "trigger": "triggers", "environment": "environments"}


def slot_at(path: FieldPath) -> Slot | None:
    """The schema's slot at ``path`` (a pydantic ``loc``), or None when it leaves the schema."""
    slot = Slot(schema.Config)
    for part in path:
        found = _step(slot, part)
        if found is None:
            return None
        slot = found
    return slot


def model_at(path: FieldPath) -> type[BaseModel] | None:
    """The model whose fields are the keys of the mapping at ``path``."""
    slot = slot_at(path)
    ann = _unwrap_optional(slot.annotation) if slot else None
    return ann if _is_model(ann) else None


def keys_of(model: type[BaseModel]) -> list[str]:
    """The YAML keys a model accepts (aliases where set: ``from``, not ``from_``)."""
    return [info.alias or name for name, info in model.model_fields.items()]


def describe(slot: Slot) -> str:
    """``"a positive integer"``, ``"one of aws, local"``, ``"a list of strings"``, …"""
    ann = _unwrap_optional(slot.annotation)
    metadata = slot.metadata
    if get_origin(ann) is Annotated:  # ``PositiveInt | None``: the constraint sits inside
        ann, *inner = get_args(ann)
        metadata = (*metadata, *inner)
    if ann is bool:
        return "true or false"
    if ann is int:
        return _describe_int(metadata)
    if ann is str:
        return "a string"
    if ann is float:
        return "a number"
    if get_origin(ann) is Literal:
        return "one of " + ", ".join(str(arg) for arg in get_args(ann))
    if get_origin(ann) is list:
        return "a list of " + _plural(get_args(ann)[0])
    if get_origin(ann) is dict:
        value = get_args(ann)[1]
        if value is schema.Environment:
            return "a mapping of environment names to their settings"
        return "a mapping of names to " + _plural(value)
    if _is_model(ann):
        return f"a mapping ({_NOUNS.get(ann, 'settings')})"
    return "a value"


def _describe_int(metadata: tuple[Any, ...]) -> str:
    for item in metadata:
        if isinstance(item, annotated_types.Gt) and item.gt == 0:
            return "a positive integer"
        if isinstance(item, annotated_types.Ge) and item.ge == 0:
            return "a whole number, 0 or more"
    return "an integer"


def _plural(ann: Any) -> str:
    ann = _unwrap_optional(ann)
    if ann is str:
        return "strings"
    if _is_model(ann):
        noun = _NOUNS.get(ann, "settings")
        return _PLURALS.get(noun, noun)
    return "values"


def _step(slot: Slot, part: str | int) -> Slot | None:
    ann = _unwrap_optional(slot.annotation)
    if _is_model(ann):
        for name, info in ann.model_fields.items():
            if part in (name, info.alias):
                return Slot(info.annotation, tuple(info.metadata), owner=ann)
        return None
    origin = get_origin(ann)
    if origin is list and isinstance(part, int):
        return Slot(get_args(ann)[0])
    if origin is dict:
        key, value = get_args(ann)
        return Slot(key) if part == "[key]" else Slot(value)
    return None


def _unwrap_optional(ann: Any) -> Any:
    if get_origin(ann) in (Union, types.UnionType):
        arms = [arg for arg in get_args(ann) if arg is not type(None)]
        if len(arms) == 1:
            return arms[0]
    return ann


def _is_model(ann: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(ann, type) and issubclass(ann, BaseModel)
