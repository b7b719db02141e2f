"""The embedded local Lambda emulator (DESIGN §6): the target of ``demo`` and of laptops.

It implements ``targets.base.Target`` on plain files, with Lambda's model::

    <root>/<function_name>/.lock                      flock'ed around publish and alias writes
    <root>/<function_name>/versions/<n>/code.zip      the artifact's bytes (sha256 = digest)
    <root>/<function_name>/versions/<n>/code/         unpacked once at publish, then read-only
    <root>/<function_name>/versions/<n>/meta.json     digest, description, created_at,
                                                      configuration (memory, timeout, variables…)
    <root>/<function_name>/aliases/<alias>.json       version, revision_id, updated_at,
                                                      weights (a shift: other version → share)

A version directory appears whole (built aside, then renamed) and is never written again.
Every alias write gets a fresh ``revision_id`` and is conditional on the one the caller read,
like Lambda's ``RevisionId``, so two deployments cannot silently overwrite each other.

During a progressive shift (DESIGN §11.5) the alias carries ``weights`` as Lambda's
``RoutingConfig`` does, and an invoke of the alias picks a version by them: a random draw from
a ``random.Random`` seeded with ``routing_seed`` (else ``LAMBDA_PROMOTE_LOCAL_ROUTING_SEED``,
else the OS), so a test that sets the seed sees the same sequence of versions every run.

Each invoke runs the handler in a child Python (``local_runtime.py``) of the function's runtime,
under a supervisor (``local_sandbox.py``) started with Lambda's environment only: it fences the
handler in with Landlock where Linux has it, kills every process the handler started (daemons
included) at the timeout and after each invoke, and Lambda-shaped results and logs come back.
Unix only (flock, process groups); docs/local-target.md says what is isolated.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lambda_promote.errors import ConflictError, TargetError
from lambda_promote.function_config import FunctionConfiguration
from lambda_promote.model import AliasState, Artifact, FunctionRef, InvokeResult, PublishedVersion
from lambda_promote.targets import local_runtime
from lambda_promote.targets.local_process import (
    RunSettings,
    _read_json,
    _Request,
    _run_child,
    _write_json,
    interpreter_for,
)

GOOD_KEEP = 2  # as many good versions as the AWS target keeps in its tag
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,140}$")
ROUTING_SEED_ENV = "LAMBDA_PROMOTE_LOCAL_ROUTING_SEED"

_log = logging.getLogger(__name__)


class LocalTarget:
    """Lambda on the local disk. Safe to share between threads and between processes."""

    def __init__(
        self,
        root: Path,
        *,
        warn: Callable[[str], None] | None = None,
        python_for: Callable[[str], str] | None = None,
        routing_seed: int | None = None,
    ) -> None:
        self.root = Path(root)
        if routing_seed is None and os.environ.get(ROUTING_SEED_ENV, "").strip().isdigit():
            routing_seed = int(os.environ[ROUTING_SEED_ENV])
        self._routing = random.Random(routing_seed)
        self._routing_lock = threading.Lock()
        self._warn = warn or _log.warning
        self._python_for = python_for
        self._interpreters: dict[str, str] = {}
        self._interpreters_lock = threading.Lock()
        self._isolation_warned = False
        self._warned: set[str] = set()

    # --- versions and aliases -------------------------------------------------------------

    def alias_state(self, fn: FunctionRef, *, changing: bool = False) -> AliasState:
        alias = _read_json(self._alias_path(fn, fn.alias))
        if alias is None:
            return AliasState(version=None)
        version = str(alias["version"])
        meta = _read_json(self._version_dir(fn, version) / "meta.json")
        digest = meta["digest"] if meta else None
        weights = {str(k): float(v) for k, v in (alias.get("weights") or {}).items()}
        return AliasState(version, revision_id=alias["revision_id"], digest=digest, weights=weights)

    def publish(self, fn: FunctionRef, artifact: Artifact, zip_path: Path) -> PublishedVersion:
        versions = self._function_dir(fn) / "versions"
        versions.mkdir(parents=True, exist_ok=True)
        staging = versions / f".staging-{uuid.uuid4().hex}"
        try:
            # Built aside without the lock (copy and unzip may be slow), checked, then renamed.
            _stage_version(staging, fn, artifact, Path(zip_path))
            with _exclusive(self._function_dir(fn)):
                latest = self._latest_meta(fn)
                if latest is not None and _unchanged(latest, artifact, fn):
                    # Lambda's publish_version returns the existing version when neither code
                    # nor configuration changed since it.
                    return _published(latest)
                number = int(latest["version"]) + 1 if latest else 1
                _write_json(staging / "meta.json", {**_read_meta(staging), "version": number})
                os.rename(staging, versions / str(number))
            return _published(_read_meta(versions / str(number)))
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def point_alias(
        self, fn: FunctionRef, version: str, *, expected_revision: str | None
    ) -> AliasState:
        meta = _read_json(self._version_dir(fn, version) / "meta.json")
        if meta is None:
            raise TargetError(
                f"version {version} of {fn.function_name} does not exist on the local target",
                hint="publish the artifact first; `lambda-promote history` lists known versions",
            )
        written = {"version": version, "revision_id": str(uuid.uuid4()), "updated_at": _now()}
        self._swap_alias(fn, expected_revision, written)
        return AliasState(version, revision_id=written["revision_id"], digest=meta["digest"])

    def weigh_alias(
        self, fn: FunctionRef, version: str, weights: dict[str, float], *, expected_revision: str
    ) -> AliasState:
        metas = {v: _read_json(self._version_dir(fn, v) / "meta.json") for v in [version, *weights]}
        missing = sorted(v for v, meta in metas.items() if meta is None)
        if missing:
            raise TargetError(
                f"version {', '.join(missing)} of {fn.function_name} does not exist on the "
                "local target",
                hint="publish the artifact first; `lambda-promote history` lists known versions",
            )
        if any(not 0 < w < 1 for w in weights.values()) or sum(weights.values()) >= 1:
            raise TargetError(f"weights must be between 0 and 1 (exclusive), got {weights}")
        shares = {v: float(w) for v, w in weights.items()}
        revision = str(uuid.uuid4())
        written = {"version": version, "revision_id": revision, "updated_at": _now()}
        self._swap_alias(fn, expected_revision, {**written, "weights": shares})
        digest = metas[version]["digest"]  # type: ignore[index]
        return AliasState(version, revision, digest, weights=shares)

    def remove_alias(self, fn: FunctionRef, *, expected_revision: str) -> None:
        self._swap_alias(fn, expected_revision, None)

    def _swap_alias(
        self, fn: FunctionRef, expected_revision: str | None, written: dict[str, Any] | None
    ) -> None:
        """Write (or with None delete) the alias only if its revision is still the expected
        one, under the function's lock: Lambda's RevisionId guard."""
        path = self._alias_path(fn, fn.alias)
        with _exclusive(self._function_dir(fn)):
            current = _read_json(path)
            revision = current["revision_id"] if current else None
            if revision != expected_revision:
                raise ConflictError(
                    f"the alias {fn.alias} of {fn.function_name} was changed by someone else "
                    f"(revision {revision or 'none'}, expected {expected_revision or 'none'})",
                    hint="another deployment may be running; check `lambda-promote status` "
                    "and run the command again",
                )
            if written is None:
                path.unlink()
            else:
                _write_json(path, written)

    def list_versions(self, fn: FunctionRef) -> list[PublishedVersion]:
        return [_published(_read_meta(self._version_dir(fn, str(n)))) for n in self._numbers(fn)]

    def alarms_firing(self, fn: FunctionRef, alarm_names: list[str]) -> list[str]:
        return []  # the local target has no CloudWatch: nothing is ever in ALARM

    def record_good(
        self, fn: FunctionRef, version: str, digest: str, *, abandoned: str | None = None
    ) -> None:
        # Like the AWS target's tag: the last few good versions, kept with the function.
        path = self._function_dir(fn) / "aliases" / f"{_checked_name(fn.alias, 'alias')}.good"
        with _exclusive(self._function_dir(fn)):
            kept = [
                e
                for e in (_read_json(path) or {}).get("good", [])
                if e["version"] not in (version, abandoned)
            ]
            good = [{"version": version, "digest": digest}, *kept][:GOOD_KEEP]
            _write_json(path, {"good": good})

    def good_versions(self, fn: FunctionRef) -> list[tuple[str, str]]:
        path = self._function_dir(fn) / "aliases" / f"{_checked_name(fn.alias, 'alias')}.good"
        known = {v.version: v.digest for v in self.list_versions(fn)}
        entries = (_read_json(path) or {}).get("good", [])
        return [
            (e["version"], e["digest"]) for e in entries if known.get(e["version"]) == e["digest"]
        ]

    # --- invocation -----------------------------------------------------------------------

    def invoke(
        self, fn: FunctionRef, payload: Any, *, qualifier: str | None = None
    ) -> InvokeResult:
        started = time.monotonic()
        qualifier = qualifier or fn.alias
        version = self._resolve(fn, qualifier)
        try:
            event = json.loads(json.dumps(payload))
        except (TypeError, ValueError) as exc:
            raise TargetError(f"the payload is not JSON: {exc}", hint="use plain JSON") from None
        settings = RunSettings.of(self.configuration(fn, version))
        request = _Request(
            fn=fn,
            version=version,
            qualifier=qualifier,
            code_dir=self._version_dir(fn, version) / "code",
            interpreter=self._interpreter(fn.runtime),
            request_id=str(uuid.uuid4()),
            settings=settings,
        )
        with tempfile.TemporaryDirectory(prefix="lambda-promote-invoke-") as workdir:
            run = _run_child(request, event, Path(workdir))
        self._warn_once_about_isolation(run["isolation"])
        answer, function_error, logs = local_runtime.lambda_answer(
            run,
            request_id=request.request_id,
            version=version,
            timeout_seconds=settings.timeout_seconds,
            memory_mb=settings.memory_mb,
        )
        latency_ms = (time.monotonic() - started) * 1000
        return InvokeResult(answer, function_error, logs, latency_ms=latency_ms, version=version)

    def configuration(self, fn: FunctionRef, version: str) -> FunctionConfiguration:
        """The configuration ``version`` was published with: a version keeps its own, as on
        Lambda, so a rollback brings the old memory back with the old code. A version
        published before configurations were recorded runs with ``fn``'s."""
        meta = _read_meta(self._version_dir(fn, version))
        if "configuration" not in meta:
            return fn.configuration
        stored = FunctionConfiguration.from_json(meta["configuration"])
        if any(layer.startswith("arn:") for layer in stored.layers or ()):
            self._warn_once(
                "layers",
                f"{fn.env}: the local target cannot download layer ARNs; the handler runs "
                "without them (a layer that is a local folder is put on sys.path)",
            )
        return stored

    def _warn_once(self, key: str, message: str) -> None:
        with self._interpreters_lock:
            if key in self._warned:
                return
            self._warned.add(key)
        self._warn(message)

    def _warn_once_about_isolation(self, isolation: dict[str, Any]) -> None:
        """Say once per target when the handler is not fenced off by Landlock. (What Landlock
        lacks before Linux 6.12, signal scoping, is documented instead of warned about on
        every run: docs/local-target.md.)"""
        with self._interpreters_lock:  # concurrent checks: one warning, not one per thread
            if isolation.get("landlock") or self._isolation_warned:
                return
            self._isolation_warned = True
        missing = ", ".join(isolation.get("missing") or ["Landlock"])
        self._warn(
            f"the local target cannot fence handlers off here (missing: {missing}): a handler "
            "can read the environment of lambda-promote and of the processes that started it, "
            "and write wherever you can; do not deploy untrusted code with secrets in the "
            "environment (docs/local-target.md)"
        )

    def _resolve(self, fn: FunctionRef, qualifier: str) -> str:
        """The version number an alias name, version number or ``$LATEST`` stands for."""
        numbers = self._numbers(fn)
        if not numbers:
            raise TargetError(
                f"{fn.function_name} has no published version on the local target ({self.root})",
                hint=f"deploy to {fn.env} first",
            )
        if qualifier == "$LATEST":
            return str(numbers[-1])
        if qualifier.isdigit():
            if int(qualifier) not in numbers:
                raise TargetError(
                    f"version {qualifier} of {fn.function_name} does not exist",
                    hint=f"known versions: {', '.join(map(str, numbers))}",
                )
            return str(int(qualifier))
        alias = _read_json(self._alias_path(fn, qualifier))
        if alias is None:
            raise TargetError(
                f"the alias {qualifier} of {fn.function_name} does not exist on the local target",
                hint=f"deploy to {fn.env} first",
            )
        return self._routed(str(alias["version"]), alias.get("weights") or {})

    def _routed(self, version: str, weights: dict[str, float]) -> str:
        """The version an alias invoke lands on: each weighted version with its share, the
        alias's own version with the rest (Lambda's AdditionalVersionWeights)."""
        if not weights:
            return version
        with self._routing_lock:
            draw = self._routing.random()
        for other, weight in sorted(weights.items()):
            if draw < weight:
                return str(other)
            draw -= weight
        return version

    def _interpreter(self, runtime: str) -> str:
        with self._interpreters_lock:  # one probe and at most one warning per runtime
            if runtime not in self._interpreters:
                self._interpreters[runtime] = self._choose_interpreter(runtime)
            return self._interpreters[runtime]

    def _choose_interpreter(self, runtime: str) -> str:
        if self._python_for is not None:
            return self._python_for(runtime)
        ours = f"{sys.version_info.major}.{sys.version_info.minor}"
        if runtime == f"python{ours}":
            return sys.executable
        found = interpreter_for(runtime, os.environ.get("PATH", os.defpath))
        if found is None:
            self._warn(
                f"{runtime} not found on PATH; running the handler with Python {ours} "
                f"({sys.executable}), so it may behave differently than on Lambda"
            )
        return found or sys.executable

    # --- layout ---------------------------------------------------------------------------

    def _function_dir(self, fn: FunctionRef) -> Path:
        return self.root / _checked_name(fn.function_name, "function name")

    def _version_dir(self, fn: FunctionRef, version: str) -> Path:
        if not version.isdigit():
            raise TargetError(f"{version!r} is not a version number", hint="use 1, 2, 3, …")
        return self._function_dir(fn) / "versions" / str(int(version))

    def _alias_path(self, fn: FunctionRef, alias: str) -> Path:
        return self._function_dir(fn) / "aliases" / f"{_checked_name(alias, 'alias')}.json"

    def _numbers(self, fn: FunctionRef) -> list[int]:
        versions = self._function_dir(fn) / "versions"
        if not versions.is_dir():
            return []
        return sorted(int(p.name) for p in versions.iterdir() if p.name.isdigit())

    def _latest_meta(self, fn: FunctionRef) -> dict[str, Any] | None:
        numbers = self._numbers(fn)
        return _read_meta(self._version_dir(fn, str(numbers[-1]))) if numbers else None


def _stage_version(staging: Path, fn: FunctionRef, artifact: Artifact, zip_path: Path) -> None:
    """Copy, verify and unpack the artifact into ``staging``, ready to be renamed into place."""
    staging.mkdir()
    stored = staging / "code.zip"
    try:
        shutil.copyfile(zip_path, stored)
    except OSError as exc:
        raise TargetError(
            f"cannot read the artifact {zip_path}: {exc.strerror}",
            hint="build it again with `lambda-promote build`",
        ) from None
    # Hash the copy we keep, not the source, so a file changing under us cannot slip through.
    actual = _sha256(stored)
    if actual != artifact.digest.lower():
        raise TargetError(
            f"the artifact {zip_path} hashes to {actual[:12]}, not {artifact.short}: "
            "refusing to publish bytes that are not the release",
            hint="the file changed after it was built; fetch it again or rebuild it",
        )
    try:
        with zipfile.ZipFile(stored) as archive:
            archive.extractall(staging / "code")  # member paths are sanitised by zipfile
    except (zipfile.BadZipFile, OSError) as exc:
        raise TargetError(
            f"the artifact {artifact.short} is not a readable zip: {exc}",
            hint="rebuild it with `lambda-promote build`",
        ) from None
    _make_read_only(staging / "code")
    meta = {
        "digest": artifact.digest.lower(),
        "description": " ".join(filter(None, ["lambda-promote", artifact.digest, artifact.commit])),
        "created_at": _now(),
        "size": stored.stat().st_size,
        "handler": fn.handler,
        "runtime": fn.runtime,
        "configuration": fn.configuration.to_json(),
    }
    _write_json(staging / "meta.json", meta)


def _unchanged(latest: dict[str, Any], artifact: Artifact, fn: FunctionRef) -> bool:
    """Whether the latest version already holds this code with this configuration."""
    same_configuration = latest.get("configuration", {}) == fn.configuration.to_json()
    return bool(latest["digest"] == artifact.digest.lower() and same_configuration)


def _make_read_only(tree: Path) -> None:
    # Files only: read-only directories would stop a user from deleting .lambda-promote/.
    for path in tree.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o222)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _published(meta: dict[str, Any]) -> PublishedVersion:
    return PublishedVersion(
        version=str(meta["version"]),
        digest=meta["digest"],
        description=meta.get("description", ""),
        created_at=datetime.fromisoformat(meta["created_at"]) if meta.get("created_at") else None,
    )


@contextlib.contextmanager
def _exclusive(function_dir: Path) -> Iterator[None]:
    """Hold the function's lock: other threads and processes wait (flock per open file)."""
    function_dir.mkdir(parents=True, exist_ok=True)
    with (function_dir / ".lock").open("a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _checked_name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise TargetError(
            f"{name!r} is not a valid {what} for the local target",
            hint="use letters, digits, '-' and '_' only",
        )
    return name


def _read_meta(version_dir: Path) -> dict[str, Any]:
    meta = _read_json(version_dir / "meta.json")
    if meta is None:
        raise TargetError(f"{version_dir} has no meta.json", hint="the version is damaged")
    return {**meta, "version": meta.get("version", version_dir.name)}


def _now() -> str:
    return datetime.now(UTC).isoformat()
