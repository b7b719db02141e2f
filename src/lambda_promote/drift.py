"""Drift (DESIGN §11.3): the alias points at a version the ledger did not put there — someone
used the console or another tool. Pure: the callers read the history and the alias.

    history (ledger, newest first) ──► ledger_live()  the version the ledger left live
    alias (target)                  ──┐
    live version's configuration    ──┴► drift_of()   None, or what differs

``status`` reports it as ``environments.ENV.drift``; ``deploy`` says so before it acts, and
a deployment into a drifted environment rolls back to the version the ledger left live, never
to the unknown one. Nothing is judged while a deployment is in flight (recovery's business),
after a rollback that failed (a person's), or when the ledger knows nothing of the
environment (a fresh machine: its ledger is not the memory of this function).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lambda_promote.function_config import FunctionConfiguration, differences
from lambda_promote.model import DIGEST_PREFIX_LEN, AliasState, Deployment, DeploymentState

S = DeploymentState


@dataclass(frozen=True)
class LedgerLive:
    """What the ledger's last finished deployment of an environment left live."""

    version: str | None  # None: the alias was removed (a first deployment undone)
    digest: str | None
    configuration: dict[str, Any] | None  # as recorded; None: not recorded
    deployment: Deployment


@dataclass(frozen=True)
class Drift:
    expected_version: str | None
    live_version: str | None
    detail: str
    differs: tuple[str, ...] = ()  # "code", "configuration"
    expected_digest: str | None = None  # the code of the version the ledger left live

    def to_json(self) -> dict[str, Any]:
        return {
            "expected_version": self.expected_version,
            "live_version": self.live_version,
            "detail": self.detail,
            "differs": list(self.differs),
        }


def ledger_live(history: Sequence[Deployment]) -> LedgerLive | None:
    """The version the ledger left live, from ``history`` newest first; None when the ledger
    cannot say (no history, a deployment in flight, a rollback that failed)."""
    for dep in history:
        if not dep.state.terminal or dep.state is S.ROLLBACK_FAILED:
            return None
        if dep.state is S.SUCCEEDED:
            return LedgerLive(dep.version, dep.digest, dep.configuration, dep)
        if dep.state is S.ROLLED_BACK:
            version = dep.previous_version
            recorded = recorded_configuration(history, version)
            return LedgerLive(version, dep.previous_digest, recorded, dep)
        # failed: nothing moved; look further back
    return None


def recorded_configuration(
    history: Sequence[Deployment], version: str | None
) -> dict[str, Any] | None:
    """The configuration recorded for ``version`` by the deployment that published it."""
    return recorded_fields(history, version).get("configuration")


def recorded_fields(history: Sequence[Deployment], version: str | None) -> dict[str, Any]:
    """The configuration fields of the newest deployment that recorded ``version``'s (a
    rollback to it records what it brings back); empty when none did."""
    for dep in history:
        if dep.version == version and dep.configuration_digest is not None:
            return {
                "configuration": dep.configuration,
                "configuration_digest": dep.configuration_digest,
                "release_configuration": dep.release_configuration,
            }
    return {}


def drift_of(
    expected: LedgerLive | None,
    alias: AliasState,
    *,
    live_configuration: FunctionConfiguration | None = None,
) -> Drift | None:
    """What is live when it is not what the ledger left; ``live_configuration`` is the live
    version's (compared on the keys the ledger recorded as managed)."""
    if expected is None or alias.version == expected.version:
        return None
    differs: list[str] = []
    notes: list[str] = []
    if alias.version is None:
        notes.append("the alias was deleted")
    elif alias.digest and expected.digest and alias.digest != expected.digest:
        differs.append("code")
        notes.append(f"code {_short(expected.digest)} → {_short(alias.digest)}")
    elif alias.digest and expected.digest:
        notes.append("same code")
    changed = _configuration_changes(expected.configuration, live_configuration)
    if changed:
        differs.append("configuration")
        notes.append("configuration: " + "; ".join(changed))
    elif changed is not None:
        notes.append("same configuration")
    detail = (
        f"the alias points at version {alias.version or 'none'}, which no deployment in the "
        f"ledger put there (it left version {expected.version or 'none'}, "
        f"deployment {expected.deployment.id})"
    )
    return Drift(
        expected_version=expected.version,
        live_version=alias.version,
        detail=detail + (": " + ", ".join(notes) if notes else ""),
        differs=tuple(differs),
        expected_digest=expected.digest,
    )


def environment_drift(
    history: Sequence[Deployment],
    alias: AliasState,
    *,
    read_configuration: Callable[[str], FunctionConfiguration | None],
) -> tuple[Drift | None, LedgerLive | None]:
    """``drift_of`` over ``history`` (newest first), reading the live version's configuration
    (``read_configuration(version)``) only when the alias is not where the ledger left it.
    Also returns what the ledger left live (None when it cannot say)."""
    expected = ledger_live(history)
    if expected is None or expected.version == alias.version:
        return None, expected
    live = read_configuration(alias.version) if alias.version is not None else None
    return drift_of(expected, alias, live_configuration=live), expected


def _configuration_changes(
    recorded: dict[str, Any] | None, live: FunctionConfiguration | None
) -> list[str] | None:
    """The differences on the recorded keys; None when either side is unknown."""
    if recorded is None or live is None:
        return None
    managed = FunctionConfiguration.from_json(recorded).managed
    return differences(recorded, live.only(managed).to_json())


def _short(digest: str) -> str:
    return digest[:DIGEST_PREFIX_LEN]


def as_function(dep: Deployment, name: str) -> Deployment:
    """``dep`` as function ``name`` of a many-function release saw it: that function's
    version, digest and configuration (DESIGN §11.4). A single-function deployment is its own
    view. Drift is told per function over these views."""
    entry = (dep.functions or {}).get(name)
    if entry is None:
        return dep
    return replace(
        dep,
        digest=entry.get("digest") or dep.digest,
        version=entry.get("version"),
        previous_version=entry.get("previous_version"),
        previous_digest=entry.get("previous_digest"),
        configuration=entry.get("configuration"),
        configuration_digest=entry.get("configuration_digest"),
    )


def function_history(history: Sequence[Deployment], name: str | None) -> list[Deployment]:
    """``history`` as function ``name`` saw it (unchanged without a name)."""
    return [as_function(dep, name) for dep in history] if name else list(history)
