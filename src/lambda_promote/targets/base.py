"""The small protocol every target implements; the deployment state machine speaks only this.

It mirrors Lambda's own model so the AWS target is a thin translation: immutable numbered
versions, one alias per environment that points at a version, and a ``revision_id`` that makes
every alias write conditional on what we last read (another writer → ``ConflictError``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from lambda_promote.function_config import FunctionConfiguration
from lambda_promote.model import AliasState, Artifact, FunctionRef, InvokeResult, PublishedVersion


class Target(Protocol):
    def alias_state(self, fn: FunctionRef, *, changing: bool = False) -> AliasState:
        """Where ``fn.alias`` points now (``version=None`` when the alias does not exist).
        ``changing``: the caller is about to move it (a target may read more at once)."""
        ...

    def publish(self, fn: FunctionRef, artifact: Artifact, zip_path: Path) -> PublishedVersion:
        """Upload the artifact's bytes as the function's code, apply ``fn.configuration`` (its
        managed keys), and publish an immutable version holding both. Must not touch the
        alias. An existing version with this code and configuration may be returned.
        Raises ``TargetError``/``ConflictError``."""
        ...

    def configuration(self, fn: FunctionRef, version: str) -> FunctionConfiguration:
        """The configuration ``version`` runs with (for drift and the approvers' evidence)."""
        ...

    def point_alias(
        self, fn: FunctionRef, version: str, *, expected_revision: str | None
    ) -> AliasState:
        """Move (or create) the alias to ``version`` only if its revision is still
        ``expected_revision`` (None: the alias must not exist yet); else ``ConflictError``.
        Any weights of a shift are cleared: ``version`` serves all the traffic."""
        ...

    def weigh_alias(
        self, fn: FunctionRef, version: str, weights: dict[str, float], *, expected_revision: str
    ) -> AliasState:
        """Keep the alias on ``version`` and send each other version in ``weights`` its share
        (a fraction, 0 < w < 1; ``{}`` ends a shift), only if the alias's revision is still
        ``expected_revision`` (else ``ConflictError``)."""
        ...

    def remove_alias(self, fn: FunctionRef, *, expected_revision: str) -> None:
        """Delete the alias if its revision is still ``expected_revision`` (else
        ``ConflictError``). Undoes a first deployment, which had no earlier version."""
        ...

    def invoke(
        self, fn: FunctionRef, payload: Any, *, qualifier: str | None = None
    ) -> InvokeResult:
        """Invoke ``qualifier`` (default: the alias). A handler error is a result with
        ``function_error`` set, not an exception; ``TargetError`` only when it could not run."""
        ...

    def list_versions(self, fn: FunctionRef) -> list[PublishedVersion]:
        """Every published version, oldest first (all pages)."""
        ...

    def record_good(
        self, fn: FunctionRef, version: str, digest: str, *, abandoned: str | None = None
    ) -> None:
        """Remember on the function itself that ``version`` passed its checks (newest first,
        a few kept), dropping ``abandoned`` (a version rolled back away from by hand), so a
        rollback works from a machine with an empty ledger."""
        ...

    def good_versions(self, fn: FunctionRef) -> list[tuple[str, str]]:
        """``(version, digest)`` recorded by ``record_good``, newest first, each confirmed
        to still hold that code."""
        ...

    def alarms_firing(self, fn: FunctionRef, alarm_names: list[str]) -> list[str]:
        """Names among ``alarm_names`` that are in ALARM now (the local target has none)."""
        ...
