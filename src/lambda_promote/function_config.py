"""A release's configuration (DESIGN §11.3): memory, timeout, ephemeral storage, layers and
variables, as one value with one digest. Pure: no I/O, no pydantic at import.

Where it sits in the flow::

    promote.yaml  function: {memory_mb, …}     ──► release_settings()   the release's own part
                  environments.ENV: {memory_mb, …} ──► overrides()      the environment's part
                  effective(release, overrides) ──► FunctionConfiguration  applied before publish,
                                                     recorded with its digest on the deployment

A key left unset everywhere is **not managed**: the target leaves it as the function has it
(on AWS, whatever the console or another tool set; the local emulator uses Lambda's defaults).
So a configuration holds only the keys promote.yaml names, and its digest covers exactly those.

Promotion (§5.1 extended): production receives the *release* part that the source environment's
succeeded deployment recorded — not whatever ``function:`` says today — plus production's own
overrides. ``effective`` is the one place that merges them: ``variables`` merge (the
environment winning), every other key the environment sets replaces the release's.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_promote.config.schema import Environment, Function, FunctionOverrides

KEYS = ("memory_mb", "timeout_seconds", "ephemeral_storage_mb", "layers", "variables")

# Lambda's limits (CreateFunction/UpdateFunctionConfiguration).
MEMORY_MB = (128, 10_240)
TIMEOUT_SECONDS = (1, 900)
EPHEMERAL_STORAGE_MB = (512, 10_240)
MAX_LAYERS = 5
VARIABLES_MAX_BYTES = 4 * 1024
LAYER_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):\d{12}:layer:[A-Za-z0-9_-]{1,140}:\d+$"
)
VARIABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Lambda sets these itself and refuses them in a function's configuration.
RESERVED_VARIABLES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
    }
)
_SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN")
MASK = "***"

# What the local emulator uses for a key nobody set (Lambda's defaults, but a 30 s timeout:
# the emulator's historical one, kinder to a laptop's cold start than Lambda's 3 s).
LOCAL_DEFAULTS = {"memory_mb": 128, "timeout_seconds": 30, "ephemeral_storage_mb": 512}


@dataclass(frozen=True)
class FunctionConfiguration:
    """The managed part of a function's configuration; ``None``: not managed (left alone)."""

    memory_mb: int | None = None
    timeout_seconds: int | None = None
    ephemeral_storage_mb: int | None = None
    layers: tuple[str, ...] | None = None
    variables: Mapping[str, str] | None = None

    @property
    def managed(self) -> tuple[str, ...]:
        """The keys this configuration sets, in ``KEYS`` order."""
        return tuple(key for key in KEYS if getattr(self, key) is not None)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON of the managed keys (variables sorted): what is recorded and hashed."""
        out: dict[str, Any] = {}
        for key in self.managed:
            value = getattr(self, key)
            if key == "layers":
                value = list(value)
            elif key == "variables":
                value = {name: value[name] for name in sorted(value)}
            out[key] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> FunctionConfiguration:
        """The inverse of ``to_json``; unknown keys are ignored (a newer writer's)."""
        if not data:
            return cls()
        layers = data.get("layers")
        variables = data.get("variables")
        return cls(
            memory_mb=_int_or_none(data.get("memory_mb")),
            timeout_seconds=_int_or_none(data.get("timeout_seconds")),
            ephemeral_storage_mb=_int_or_none(data.get("ephemeral_storage_mb")),
            layers=tuple(str(arn) for arn in layers) if isinstance(layers, list) else None,
            variables=(
                {str(k): str(v) for k, v in variables.items()}
                if isinstance(variables, Mapping)
                else None
            ),
        )

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON of the managed keys: equal digests, equal settings."""
        return configuration_digest(self.to_json())

    def only(self, keys: Iterable[str]) -> FunctionConfiguration:
        """This configuration restricted to ``keys`` (the others unmanaged)."""
        wanted = set(keys)
        return replace(self, **{key: None for key in KEYS if key not in wanted})

    def satisfied_by(self, actual: FunctionConfiguration) -> bool:
        """Whether ``actual`` (a function's full configuration) already has every managed key
        of this one: then there is nothing to apply."""
        return self.to_json() == actual.only(self.managed).to_json()


def configuration_digest(data: Mapping[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def settings_of(spec: Function | Environment | FunctionOverrides) -> FunctionConfiguration:
    """The configuration keys one section of promote.yaml sets (``function:`` or an
    environment), as written there."""
    return FunctionConfiguration(
        memory_mb=spec.memory_mb,
        timeout_seconds=spec.timeout_seconds,
        ephemeral_storage_mb=spec.ephemeral_storage_mb,
        layers=tuple(spec.layers) if spec.layers is not None else None,
        variables=dict(spec.variables) if spec.variables is not None else None,
    )


def effective(
    release: FunctionConfiguration, overrides: FunctionConfiguration
) -> FunctionConfiguration:
    """The release's configuration with an environment's overrides: each key the environment
    sets wins; ``variables`` merge, the environment's value winning for a name in both."""
    merged: dict[str, Any] = {}
    for item in fields(FunctionConfiguration):
        key = item.name
        mine, theirs = getattr(overrides, key), getattr(release, key)
        if key == "variables" and mine is not None and theirs is not None:
            merged[key] = {**theirs, **mine}
        else:
            merged[key] = mine if mine is not None else theirs
    return FunctionConfiguration(**merged)


def looks_secret(name: str) -> bool:
    """``*PASSWORD*``, ``*SECRET*``, ``*TOKEN*``, ``*_KEY`` (any case): likely a secret."""
    upper = name.upper()
    return any(word in upper for word in _SECRET_WORDS) or upper.endswith("_KEY")


def variables_size(variables: Mapping[str, str]) -> int:
    """Bytes Lambda counts against its 4 KB: the variables as compact JSON, UTF-8."""
    return len(json.dumps(dict(variables), separators=(",", ":"), ensure_ascii=False).encode())


def shown(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """A recorded configuration for people: the values of secret-looking variables masked
    (they should not be in promote.yaml, and reports travel further than the repository)."""
    if not data:
        return {}
    out = dict(data)
    variables = out.get("variables")
    if isinstance(variables, Mapping):
        out["variables"] = {
            name: MASK if looks_secret(name) else value for name, value in variables.items()
        }
    return out


def described(data: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """A recorded configuration as (label, text) rows for reports and ``show``; secret-looking
    values masked, unmanaged keys left out."""
    data = shown(data)
    rows: list[tuple[str, str]] = []
    units = {
        "memory_mb": ("memory", " MB"),
        "timeout_seconds": ("timeout", " s"),
        "ephemeral_storage_mb": ("ephemeral storage", " MB"),
    }
    for key, (label, unit) in units.items():
        if data.get(key) is not None:
            rows.append((label, f"{data[key]}{unit}"))
    if data.get("layers") is not None:
        rows.append(("layers", ", ".join(data["layers"]) or "none"))
    if data.get("variables") is not None:
        pairs = [f"{name}={value}" for name, value in sorted(data["variables"].items())]
        rows.append(("variables", ", ".join(pairs) or "none"))
    return rows


def differences(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    """What changes from ``before`` to ``after`` (both ``to_json`` forms), one line each,
    secret-looking values masked: ``memory_mb: 128 → 1024``, ``variables.NEW: added``."""
    old, new = dict(before or {}), dict(after or {})
    lines: list[str] = []
    for key in KEYS:
        if key == "variables":
            lines += _variable_changes(old.get(key), new.get(key))
        elif old.get(key) != new.get(key):
            lines.append(f"{key}: {_text(old.get(key))} → {_text(new.get(key))}")
    return lines


def _variable_changes(old: Any, new: Any) -> list[str]:
    if old is None and new is None:
        return []
    if old is None or new is None:
        return [f"variables: {_count(old)} → {_count(new)}"]
    lines = []
    for name in sorted({*old, *new}):
        secret = looks_secret(name)
        if name not in old:
            lines.append(f"variables.{name}: added ({MASK if secret else _text(new[name])})")
        elif name not in new:
            lines.append(f"variables.{name}: removed")
        elif old[name] != new[name] and secret:
            lines.append(f"variables.{name}: changed (value not shown)")
        elif old[name] != new[name]:
            lines.append(f"variables.{name}: {_text(old[name])} → {_text(new[name])}")
    return lines


def _count(variables: Any) -> str:
    return "not managed" if variables is None else f"{len(variables)} set"


def _text(value: Any) -> str:
    if value is None:
        return "not managed"
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None
