"""The words of DESIGN §2 as plain data. No I/O here: every other layer passes these around."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from lambda_promote.function_config import FunctionConfiguration

DIGEST_PREFIX_LEN = 12


class DeploymentState(enum.StrEnum):
    """DESIGN §6. ``pending → publishing → shifting → verifying → succeeded``; a failure after
    ``shifting`` began goes ``rolling_back → rolled_back | rollback_failed``; a failure before
    traffic moved is ``failed`` (nothing changed)."""

    PENDING = "pending"
    PUBLISHING = "publishing"
    SHIFTING = "shifting"
    VERIFYING = "verifying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {
        DeploymentState.SUCCEEDED,
        DeploymentState.FAILED,
        DeploymentState.ROLLED_BACK,
        DeploymentState.ROLLBACK_FAILED,
    }
)


class DeploymentKind(enum.StrEnum):
    DEPLOY = "deploy"  # a release made live (including a promotion)
    ROLLBACK = "rollback"  # a manual/emergency move of the alias to an earlier version


@dataclass(frozen=True)
class Artifact:
    """A built zip, named by the sha256 of its bytes, plus the provenance of the build."""

    digest: str
    size: int
    path: str
    files: tuple[str, ...] = ()
    inputs_hash: str = ""
    commit: str | None = None
    branch: str | None = None
    builder: str = ""
    built_at: datetime | None = None
    runtime: str = ""
    architecture: str = ""

    @property
    def short(self) -> str:
        return self.digest[:DIGEST_PREFIX_LEN]


@dataclass(frozen=True)
class FunctionRef:
    """One concrete function in one environment, as a target needs to address it."""

    env: str
    function_name: str
    alias: str
    region: str = "us-east-1"
    handler: str = "app.handler"
    runtime: str = "python3.12"
    profile: str | None = None
    role_arn: str | None = None
    # The effective configuration (DESIGN §11.3): None leaves the key as the function has it.
    variables: Mapping[str, str] | None = None
    timeout_seconds: int | None = None
    memory_mb: int | None = None
    ephemeral_storage_mb: int | None = None
    layers: tuple[str, ...] | None = None
    # Names the deployment in e.g. the STS session, so CloudTrail says who did what.
    session_name: str = "lambda-promote"

    @property
    def configuration(self) -> FunctionConfiguration:
        """What a publish applies with the code (the managed keys only)."""
        return FunctionConfiguration(
            memory_mb=self.memory_mb,
            timeout_seconds=self.timeout_seconds,
            ephemeral_storage_mb=self.ephemeral_storage_mb,
            layers=tuple(self.layers) if self.layers is not None else None,
            variables=dict(self.variables) if self.variables is not None else None,
        )

    def configured(self, configuration: FunctionConfiguration) -> FunctionRef:
        """This function with ``configuration`` as the one to apply."""
        return replace(
            self,
            memory_mb=configuration.memory_mb,
            timeout_seconds=configuration.timeout_seconds,
            ephemeral_storage_mb=configuration.ephemeral_storage_mb,
            layers=configuration.layers,
            variables=configuration.variables,
        )


@dataclass(frozen=True)
class AliasState:
    """Where the alias points now. ``version`` is None when the alias does not exist yet.
    ``revision_id`` guards the next write (Lambda's RevisionId; the local target mimics it)."""

    version: str | None
    revision_id: str | None = None
    digest: str | None = None


@dataclass(frozen=True)
class PublishedVersion:
    """An immutable function version holding an artifact's code."""

    version: str
    digest: str
    description: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True)
class InvokeResult:
    """One invocation, Lambda-shaped: ``function_error`` is e.g. ``"Unhandled"`` and then
    ``payload`` holds ``errorMessage``/``errorType``/``stackTrace``."""

    payload: Any
    function_error: str | None = None
    logs: str = ""
    latency_ms: float = 0.0
    version: str | None = None


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    latency_ms: float
    detail: str
    logs: str = ""
    response: Any = None
    phase: str = "verify"  # verify | bake | rollback_verify

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "latency_ms": round(self.latency_ms, 1),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Transition:
    state: DeploymentState
    at: datetime
    note: str = ""


@dataclass
class Deployment:
    """One attempt to make a release live in one environment (or to roll it back by hand)."""

    id: str
    env: str
    digest: str
    state: DeploymentState
    kind: DeploymentKind = DeploymentKind.DEPLOY
    actor: str = ""
    version: str | None = None
    previous_version: str | None = None
    previous_digest: str | None = None
    reason: str = ""
    error: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    transitions: list[Transition] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    rollback: dict[str, Any] | None = None
    # DESIGN §11.3: the effective configuration the version carries (``FunctionConfiguration
    # .to_json``) and its digest; ``release_configuration`` is the part that came from
    # ``function:`` (what a promotion carries on). None: recorded before configurations were.
    configuration: dict[str, Any] | None = None
    configuration_digest: str | None = None
    release_configuration: dict[str, Any] | None = None

    @property
    def short_digest(self) -> str:
        return self.digest[:DIGEST_PREFIX_LEN]


class RequestState(enum.StrEnum):
    """An approval request's stored state. ``granted`` is not stored: it is computed by
    ``gate.evaluate`` from the decisions, the rules and the clock."""

    OPEN = "open"
    REJECTED = "rejected"
    CONSUMED = "consumed"  # admitted one deployment; never admits another (DESIGN §5.2)


@dataclass(frozen=True)
class ApprovalDecision:
    reviewer: str
    approve: bool
    at: datetime
    comment: str = ""
    source: str = "builtin"  # builtin | github


@dataclass
class ApprovalRequest:
    id: str
    env: str
    digest: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    state: RequestState = RequestState.OPEN
    built_by: str = ""
    branch: str | None = None
    decisions: list[ApprovalDecision] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    consumed_by: str | None = None

    @property
    def short_digest(self) -> str:
        return self.digest[:DIGEST_PREFIX_LEN]


@dataclass(frozen=True)
class AuditEvent:
    """One action, hash-chained to the one before (DESIGN §5.7)."""

    seq: int
    at: datetime
    actor: str
    action: str
    env: str | None = None
    digest: str | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = ""
    hash: str = ""
    # Which key signed it (``audit.key_id``, never the key); None: no key, or written before
    # key ids were recorded.
    key_id: str | None = None
