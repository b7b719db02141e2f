"""A validated promote.yaml, remembered, so the hot path (status, rollback, deploy of a built
artifact) gets its ``Config`` without the YAML parser and pydantic — most of its start-up.

Like the build stamp (``build/stamp.py``): after a full load, the settings the schema
produced are written as plain JSON, keyed by the sha256 of the exact bytes that were
validated and by lambda-promote's version. The next load reads promote.yaml's bytes first;
only when they hash the same (and the version, the format and the file's path are the same)
does the snapshot stand in, rebuilt as read-only attribute objects (``Settings``) with the
same fields as the schema's models. Anything else — one changed byte, another version, a
missing, damaged or unreadable snapshot — takes the full path, so a problem in promote.yaml is
always reported. Only loads without the source check use it: that check reads other files.

The snapshot also records the shape of the schema (which fields hold models, lists or
mappings of models), taken from the models when it is written, so this module never repeats
the schema and follows it when it changes. A setting that plain JSON cannot carry exactly
(a YAML date in a check's payload, say) means no snapshot is written.

Trust: with LAMBDA_PROMOTE_AUDIT_KEY set, a snapshot is believed only when signed with that
key. Without a key, the snapshot is believed as promote.yaml would be, so it lives in
``.lambda-promote/config/`` beside the SQLite ledger and the artifact store — whoever can
write there can already change what a command does — and not in ``cache/``, which a CI job
may restore from a shared cache (docs/operations.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lambda_promote import __version__
from lambda_promote.audit_trail import KEY_VARIABLE

if TYPE_CHECKING:
    from pydantic import BaseModel

    from lambda_promote.config.schema import Config, Environment, Function

# Bump when the snapshot's layout changes.
SNAPSHOT_FORMAT = 1
Shape = dict[str, Any]  # field → None (a value) | {"model"|"list"|"dict": Shape}


def load(path: Path, *, check_source: bool = True) -> Config:
    """``config.load_config``, answered from the snapshot when promote.yaml is byte for byte
    the file that was last validated; a full load (which writes the snapshot) otherwise."""
    if not check_source:
        recalled = recall(path)
        if recalled is not None:
            return recalled
    from lambda_promote.config.loader import load_config

    config = load_config(path, check_source=check_source)
    remember(config)
    return config


def snapshot_path(config_path: Path) -> Path:
    """One snapshot per promote.yaml (a project may have several, chosen with --config)."""
    key = hashlib.sha256(str(config_path).encode()).hexdigest()[:16]
    return config_path.parent / ".lambda-promote" / "config" / f"{key}.json"


def recall(path: Path) -> Config | None:
    """The config validated from these exact bytes, or None."""
    path = path.absolute()
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        document = json.loads(snapshot_path(path).read_bytes())
        key = (document["format"], document["version"], document["sha256"], document["path"])
        if key != (SNAPSHOT_FORMAT, __version__, digest, str(path)):
            return None
        if document.get("mac") != _mac(document):
            return None  # edited, or signed under another key (or none): not believed
        settings = build(document["data"], document["shape"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # the full path reads the file and reports whatever is wrong
    snapshot = ConfigSnapshot(settings.values, path=path, file_sha256=digest)
    # Structurally a Config (every field, the same methods); the tests compare the two.
    return cast("Config", snapshot)


def remember(config: Config) -> None:
    """Write the snapshot of a config the loader validated from a file, in a project that
    has its ``.lambda-promote/`` folder already; a config built in code, or one JSON cannot
    carry exactly, leaves none. Failing to write is not an error."""
    if config.file_sha256 is None:
        return
    if not (config.path.parent / ".lambda-promote").is_dir():
        return  # a fresh checkout: a reading command creates nothing (see ledger/access.py)
    data = config.model_dump(mode="python")
    try:
        # Key order is kept: environments are listed in the order the file gives them.
        text = json.dumps(data, allow_nan=False)
        if json.loads(text) != data:
            return  # e.g. a non-string mapping key: JSON would change it
    except (TypeError, ValueError):
        return
    document = {
        "format": SNAPSHOT_FORMAT,
        "version": __version__,
        "sha256": config.file_sha256,
        "path": str(config.path),
        "shape": shape_of(type(config)),
        "data": json.loads(text),
    }
    document["mac"] = _mac(document)
    try:
        _write_atomically(snapshot_path(config.path), json.dumps(document))
    except OSError:
        return


def _mac(document: dict[str, Any]) -> str | None:
    """With an audit key, the snapshot is signed with it: someone who can write
    ``.lambda-promote/`` but does not hold the key cannot change what the gate believes
    promote.yaml says (a removed ``approval:``), which the keyed trail otherwise prevents.
    Without a key it is believed as the ledger beside it is (docs/operations.md)."""
    key = os.environ.get(KEY_VARIABLE)
    if not key:
        return None
    body = {name: value for name, value in document.items() if name != "mac"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key.encode(), b"lambda-promote config snapshot\n" + text, "sha256").hexdigest()


def shape_of(model: type[BaseModel]) -> Shape:
    """Which fields of ``model`` hold models, lists of models or mappings to models."""
    import types
    import typing

    from pydantic import BaseModel

    def inner(annotation: Any) -> Any:
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            arms = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = arms[0] if len(arms) == 1 else annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return {"model": shape_of(annotation)}
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        last = args[-1] if args else None
        if origin in (list, dict) and isinstance(last, type) and issubclass(last, BaseModel):
            return {origin.__name__: shape_of(last)}
        return None

    return {name: inner(info.annotation) for name, info in model.model_fields.items()}


def build(data: dict[str, Any], shape: Shape) -> Settings:
    """``data`` as ``Settings``, following ``shape`` into nested models."""
    values: dict[str, Any] = {}
    for name, kind in shape.items():
        value = data[name]
        if kind is None or value is None:
            values[name] = value
        elif "model" in kind:
            values[name] = build(value, kind["model"])
        elif "list" in kind:
            values[name] = [build(item, kind["list"]) for item in value]
        else:
            values[name] = {key: build(item, kind["dict"]) for key, item in value.items()}
    return Settings(values)


class Settings:
    """One model's settings from a snapshot: read-only attributes named as the schema's
    fields (``from_``, not ``from``)."""

    __slots__ = ("values",)

    def __init__(self, values: dict[str, Any]) -> None:
        object.__setattr__(self, "values", values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "values":
            raise AttributeError(name)  # not set yet (copy, pickle): never recurse
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"settings from promote.yaml are read-only ({name})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and other.values == self.values

    def __hash__(self) -> int:
        return hash(json.dumps(_plain(self)))

    def __repr__(self) -> str:
        return f"Settings({self.values!r})"


class ConfigSnapshot(Settings):
    """The top level: also where the file was read from, as ``Config`` carries it."""

    __slots__ = ("_location",)

    def __init__(self, values: dict[str, Any], *, path: Path, file_sha256: str | None) -> None:
        super().__init__(values)
        object.__setattr__(self, "_location", (path, file_sha256))

    @property
    def path(self) -> Path:
        return cast(Path, self._location[0])

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def file_sha256(self) -> str | None:
        return cast("str | None", self._location[1])

    def located_at(self, path: Path, *, file_sha256: str | None = None) -> ConfigSnapshot:
        object.__setattr__(self, "_location", (path, file_sha256))
        return self

    def environment(self, name: str) -> Environment:
        return cast("Environment", self.values["environments"][name])

    @property
    def release_functions(self) -> dict[str, Function]:
        from lambda_promote.config import names

        return names.release_functions(self)

    @property
    def many(self) -> bool:
        return len(self.release_functions) > 1

    def lambda_name(self, env: str, function: str = "") -> str:
        from lambda_promote.config import names

        return names.lambda_name(self, env, function)


def _plain(value: Any) -> Any:
    if isinstance(value, Settings):
        return {k: _plain(v) for k, v in value.values.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _write_atomically(path: Path, text: str) -> None:
    import tempfile  # only a miss writes: a hit does not pay for the import

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".snapshot-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
