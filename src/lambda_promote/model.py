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
    # The committer time of ``commit`` (UTC): where DORA lead time starts (DESIGN §11.8). None
    # when built outside git, or recorded before the ledger kept it (migration 0008).
    committed_at: datetime | None = None

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
    rollback: dict[str, Any] | None = None  # RollbackRecord.to_json(), as the ledger keeps it
    # DESIGN §11.3: the effective configuration the version carries (``FunctionConfiguration
    # .to_json``) and its digest; ``release_configuration`` is the part that came from
    # ``function:`` (what a promotion carries on). None: recorded before configurations were.
    configuration: dict[str, Any] | None = None
    configuration_digest: str | None = None
    release_configuration: dict[str, Any] | None = None
    # A many-function release (DESIGN §11.4): per function of the release, its ``digest``,
    # ``version``, ``previous_version``, ``previous_digest``, ``function_name`` and whether
    # its alias ``moved``. None for a single-function release (``version`` says it all).
    functions: dict[str, Any] | None = None

    @property
    def short_digest(self) -> str:
        return self.digest[:DIGEST_PREFIX_LEN]

    @property
    def rollback_record(self) -> RollbackRecord | None:
        return RollbackRecord.from_json(self.rollback)


@dataclass(frozen=True)
class RollbackRecord:
    """What a deployment's rollback did: why, from where to where, and whether the version
    it went to passed its checks. Stored as JSON (``Deployment.rollback``); read back
    leniently, because a ledger row may have been written by an older version or by hand."""

    reason: str
    from_version: str | None
    to_version: str | None
    to_digest: str | None
    verified: bool | None = None
    checks: tuple[dict[str, Any], ...] = ()
    note: str = ""
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "reason": self.reason,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "to_digest": self.to_digest,
        }
        if self.verified is not None:
            body["verified"] = self.verified
            body["checks"] = [dict(c) for c in self.checks]
        if self.note:
            body["note"] = self.note
        if self.error:
            body["error"] = self.error
        return body

    @classmethod
    def from_json(cls, data: Any) -> RollbackRecord | None:
        if not isinstance(data, dict) or not data:
            return None
        verified = data.get("verified")
        checks = data.get("checks")
        return cls(
            reason=str(data.get("reason") or ""),
            from_version=_text_or_none(data.get("from_version")),
            to_version=_text_or_none(data.get("to_version")),
            to_digest=_text_or_none(data.get("to_digest")),
            verified=verified if isinstance(verified, bool) else None,
            checks=tuple(c for c in checks if isinstance(c, dict))
            if isinstance(checks, list)
            else (),
            note=str(data.get("note") or ""),
            error=str(data.get("error") or ""),
        )


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


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
    evidence: dict[str, Any] = field(default_factory=dict)  # Evidence.to_json()
    consumed_by: str | None = None

    @property
    def short_digest(self) -> str:
        return self.digest[:DIGEST_PREFIX_LEN]

    @property
    def evidence_record(self) -> Evidence:
        return Evidence.from_json(self.evidence)


@dataclass(frozen=True)
class SourceEvidence:
    """How the release fared in the environment it is promoted from."""

    env: str
    deployment: str
    checks: tuple[dict[str, Any], ...] = ()  # CheckResult.to_json() each

    @property
    def passed(self) -> int:
        return sum(1 for c in self.checks if c.get("ok"))


@dataclass(frozen=True)
class ConfigurationEvidence:
    """DESIGN §11.3: the configuration the release would run with in the environment, and
    what changes against what the ledger left live there (None: the ledger cannot say)."""

    digest: str
    settings: tuple[str, ...] = ()  # "memory 1024 MB", "variables A=1, SECRET=***", …
    changes: tuple[str, ...] | None = None  # "memory_mb: 512 → 1024", …

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "settings": list(self.settings),
            "changes": None if self.changes is None else list(self.changes),
        }

    @classmethod
    def from_json(cls, data: Any) -> ConfigurationEvidence | None:
        if not isinstance(data, dict) or not isinstance(data.get("digest"), str):
            return None
        settings, changes = data.get("settings"), data.get("changes")
        return cls(
            digest=data["digest"],
            settings=tuple(str(s) for s in settings) if isinstance(settings, list) else (),
            changes=tuple(str(c) for c in changes) if isinstance(changes, list) else None,
        )


@dataclass(frozen=True)
class Evidence:
    """What a reviewer needs before deciding: what changes, how it fared upstream, what a
    rollback restores. Stored as JSON (``ApprovalRequest.evidence``), read back leniently."""

    live_version: str | None = None
    live_digest: str | None = None
    rollback_restores: str | None = None
    commit: str | None = None
    branch: str | None = None
    built_by: str | None = None
    commits: tuple[str, ...] = ()
    source: SourceEvidence | None = None
    configuration: ConfigurationEvidence | None = None
    # A many-function release (DESIGN §11.4): per function its ``digest``, ``commit``,
    # ``live_version`` and ``configuration`` (ConfigurationEvidence.to_json()).
    functions: dict[str, dict[str, Any]] | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "live_version": self.live_version,
            "live_digest": self.live_digest,
            "rollback_restores": self.rollback_restores,
            "commit": self.commit,
            "branch": self.branch,
            "built_by": self.built_by,
            "commits": list(self.commits),
        }
        if self.source is not None:
            body["source"] = {
                "env": self.source.env,
                "deployment": self.source.deployment,
                "checks": [dict(c) for c in self.source.checks],
            }
        if self.configuration is not None:
            body["configuration"] = self.configuration.to_json()
        if self.functions is not None:
            body["functions"] = {name: dict(entry) for name, entry in self.functions.items()}
        return body

    @classmethod
    def from_json(cls, data: Any) -> Evidence:
        if not isinstance(data, dict):
            return cls()
        source = data.get("source")
        commits = data.get("commits")
        checks = source.get("checks") if isinstance(source, dict) else None
        return cls(
            live_version=_text_or_none(data.get("live_version")),
            live_digest=_text_or_none(data.get("live_digest")),
            rollback_restores=_text_or_none(data.get("rollback_restores")),
            commit=_text_or_none(data.get("commit")),
            branch=_text_or_none(data.get("branch")),
            built_by=_text_or_none(data.get("built_by")),
            commits=tuple(str(c) for c in commits) if isinstance(commits, list) else (),
            source=SourceEvidence(
                env=str(source.get("env")),
                deployment=str(source.get("deployment")),
                checks=tuple(c for c in checks if isinstance(c, dict))
                if isinstance(checks, list)
                else (),
            )
            if isinstance(source, dict)
            else None,
            configuration=ConfigurationEvidence.from_json(data.get("configuration")),
            functions=_functions_or_none(data.get("functions")),
        )


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


def _functions_or_none(data: Any) -> dict[str, dict[str, Any]] | None:
    if not isinstance(data, dict):
        return None
    return {str(k): dict(v) for k, v in data.items() if isinstance(v, dict)}
