"""An in-memory ``Target`` for unit tests: Lambda's version/alias/revision semantics, with
switches to make versions unhealthy or calls fail. Implements targets.base.Target."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_promote.errors import ConflictError, TargetError
from lambda_promote.function_config import FunctionConfiguration
from lambda_promote.model import AliasState, Artifact, FunctionRef, InvokeResult, PublishedVersion


@dataclass
class FakeTarget:
    versions: list[PublishedVersion] = field(default_factory=list)
    alias: dict[str, tuple[str, str]] = field(default_factory=dict)  # name → (version, rev)
    unhealthy_digests: set[str] = field(default_factory=set)
    unhealthy_versions: set[str] = field(default_factory=set)
    fail_next: dict[str, Exception] = field(default_factory=dict)  # method name → error
    firing_alarms: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    good: list[tuple[str, str]] = field(default_factory=list)
    configurations: dict[str, dict[str, Any]] = field(default_factory=dict)  # version → JSON
    weights: dict[str, dict[str, float]] = field(default_factory=dict)  # alias → shift weights
    _revisions: Any = field(default_factory=lambda: itertools.count(1))

    # -- Target protocol ---------------------------------------------------------------
    def alias_state(self, fn: FunctionRef, *, changing: bool = False) -> AliasState:
        self._call("alias_state")
        if fn.alias not in self.alias:
            return AliasState(version=None)
        version, rev = self.alias[fn.alias]
        weights = dict(self.weights.get(fn.alias, {}))
        return AliasState(version, rev, self._digest(version), weights=weights)

    def publish(self, fn: FunctionRef, artifact: Artifact, zip_path: Path) -> PublishedVersion:
        self._call("publish")
        wanted = fn.configuration.to_json()
        last = self.versions[-1] if self.versions else None
        if (
            last
            and last.digest == artifact.digest
            and self.configurations.get(last.version, {}) == wanted
        ):
            return last
        published = PublishedVersion(version=str(len(self.versions) + 1), digest=artifact.digest)
        self.versions.append(published)
        self.configurations[published.version] = wanted
        return published

    def configuration(self, fn: FunctionRef, version: str) -> FunctionConfiguration:
        self._call("configuration")
        return FunctionConfiguration.from_json(self.configurations.get(version, {}))

    def point_alias(
        self, fn: FunctionRef, version: str, *, expected_revision: str | None
    ) -> AliasState:
        self._call("point_alias")
        current = self.alias.get(fn.alias)
        if (current[1] if current else None) != expected_revision:
            raise ConflictError(f"alias {fn.alias} changed (expected {expected_revision})")
        rev = f"rev-{next(self._revisions)}"
        self.alias[fn.alias] = (version, rev)
        self.weights.pop(fn.alias, None)
        return AliasState(version=version, revision_id=rev, digest=self._digest(version))

    def weigh_alias(
        self, fn: FunctionRef, version: str, weights: dict[str, float], *, expected_revision: str
    ) -> AliasState:
        self._call("weigh_alias")
        current = self.alias.get(fn.alias)
        if (current[1] if current else None) != expected_revision:
            raise ConflictError(f"alias {fn.alias} changed (expected {expected_revision})")
        rev = f"rev-{next(self._revisions)}"
        self.alias[fn.alias] = (version, rev)
        self.weights[fn.alias] = dict(weights)
        return AliasState(version, rev, self._digest(version), weights=dict(weights))

    def remove_alias(self, fn: FunctionRef, *, expected_revision: str) -> None:
        self._call("remove_alias")
        current = self.alias.get(fn.alias)
        if current is None or current[1] != expected_revision:
            raise ConflictError(f"alias {fn.alias} changed")
        del self.alias[fn.alias]

    def invoke(
        self, fn: FunctionRef, payload: Any, *, qualifier: str | None = None
    ) -> InvokeResult:
        self._call("invoke")
        version = self.alias[fn.alias][0] if qualifier in (None, fn.alias) else str(qualifier)
        if version in self.unhealthy_versions or self._digest(version) in self.unhealthy_digests:
            return InvokeResult(
                payload={"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []},
                function_error="Unhandled",
                latency_ms=3.0,
                version=version,
            )
        return InvokeResult(
            payload={"ok": True, "version": version}, latency_ms=2.0, version=version
        )

    def list_versions(self, fn: FunctionRef) -> list[PublishedVersion]:
        self._call("list_versions")
        return list(self.versions)

    def alarms_firing(self, fn: FunctionRef, alarm_names: list[str]) -> list[str]:
        return [name for name in alarm_names if name in self.firing_alarms]

    def record_good(
        self, fn: FunctionRef, version: str, digest: str, *, abandoned: str | None = None
    ) -> None:
        kept = [(v, d) for v, d in self.good if v not in (version, abandoned)]
        self.good = [(version, digest), *kept][:2]

    def good_versions(self, fn: FunctionRef) -> list[tuple[str, str]]:
        return list(self.good)

    # -- helpers -----------------------------------------------------------------------
    def live(self, alias: str = "live") -> str | None:
        return self.alias[alias][0] if alias in self.alias else None

    def _digest(self, version: str) -> str | None:
        return next((v.digest for v in self.versions if v.version == version), None)

    def _call(self, name: str) -> None:
        self.calls.append(name)
        error = self.fail_next.pop(name, None)
        if error is not None:
            raise error


def target_error(message: str = "the target refused") -> TargetError:
    return TargetError(message)


class QuietProgress:
    """A ``deploy.Progress`` that keeps what it was told instead of printing it."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def step(self, message: str) -> None:
        self.lines.append(message)

    ok = warn = step

    @contextlib.contextmanager
    def task(self, title: str) -> Iterator[None]:
        self.lines.append(title)
        yield
