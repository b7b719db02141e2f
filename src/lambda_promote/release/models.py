"""The words of the release layer: the facts ``gather`` reads once, and the plans that
``plan``/``rollback`` make from them. Frozen dataclasses, no I/O.

    facts (gather.py) ──► plan (plan.py, rollback.py) ──► execute.py  or  display.py

A plan says everything a command will do before it does any of it: the gate's verdict, the
approval it will consume, the interrupted work it resolves first, the steps in order, and
where a failure would roll back to. The same plan is printed by ``--dry-run`` and carried out
by the executor, so what a person reads is what runs.

Room for what comes next (DESIGN §11.3–§11.5) without reshaping: a step names the
``function`` of the release it concerns (several functions each get their publish and shift
steps), and a shift step carries a ``percent`` (a canary or linear shift is several).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_promote.errors import EnvironmentLocked, GateBlocked
from lambda_promote.model import (
    AliasState,
    ApprovalDecision,
    ApprovalRequest,
    Artifact,
    Deployment,
    FunctionRef,
    PublishedVersion,
)

if TYPE_CHECKING:
    from lambda_promote.config.schema import Approval, Environment
    from lambda_promote.configuring import Configured
    from lambda_promote.drift import Drift
    from lambda_promote.ledger.base import LockInfo


class PlanKind(enum.StrEnum):
    DEPLOY = "deploy"  # make a release live (a promotion included)
    ROLLBACK = "rollback"  # move the alias back by hand (DESIGN §5.4)
    RESOLVE = "resolve"  # only resolve what an interrupted deployment left (§5.5)


class StepAction(enum.StrEnum):
    """The actions a plan may list, in the order a deployment takes them."""

    RECOVER = "recover"  # resolve an interrupted deployment first
    BUILD = "build"  # the sources changed since the last build (dry run only)
    CONSUME_APPROVAL = "consume_approval"
    CONFIGURE = "configure"  # apply the release's configuration with the code (§11.3)
    PUBLISH = "publish"
    SHIFT = "shift"
    CHECK = "check"
    ALARM_WATCH = "alarm_watch"
    BAKE = "bake"
    REMOVE_ALIAS = "remove_alias"  # undo of a first deployment
    FINISH_ROLLBACK = "finish_rollback"


class RecoveryAction(enum.Enum):
    """What resolves a deployment a crashed process left unfinished (see rollback.py)."""

    MARK_FAILED = "mark_failed"  # traffic never moved: nothing to undo
    ROLL_BACK = "roll_back"  # the alias points at the interrupted version: move it back
    VERIFY_PREVIOUS = "verify_previous"  # a rollback moved the alias but was not verified
    VERIFY_TARGET = "verify_target"  # a manual rollback moved the alias but was not verified
    NEEDS_PERSON = "needs_person"  # the alias points somewhere we did not put it


@dataclass(frozen=True)
class Recovery:
    """One interrupted deployment and what resolves it."""

    deployment: Deployment
    action: RecoveryAction
    why: str


# --- facts -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class EnvFacts:
    """One environment as the command found it: read once, before any decision."""

    env: str
    spec: Environment
    fn: FunctionRef  # addressed for this command (its session names the deployment)
    deployment_id: str  # the id the deployment will get
    alias: AliasState
    lock: LockInfo | None
    lock_stale: bool  # held by a process of this host that is gone: will be broken
    unfinished: tuple[Deployment, ...]
    # The alias is not where the ledger left it (DESIGN §11.3); a failure goes back there.
    drift: Drift | None = None
    # A many-function release (DESIGN §11.4): each function, addressed, and where its alias
    # points; empty for a single function (``fn`` and ``alias`` say it all).
    functions: tuple[tuple[str, FunctionRef, AliasState], ...] = ()

    @property
    def locked(self) -> bool:
        """Held by someone alive: the command would stop with exit 6."""
        return self.lock is not None and not self.lock_stale


@dataclass(frozen=True)
class ApprovalFacts:
    """What an approval provider read for (env, digest). ``refused``: the provider could not
    admit anything at all (e.g. the github provider outside a workflow run)."""

    provider: str  # builtin | github
    rule: Approval
    now: datetime
    requests: tuple[ApprovalRequest, ...] = ()  # for this env and digest, newest first
    newest_in_env: ApprovalRequest | None = None  # read only when ``requests`` is empty
    decisions: tuple[ApprovalDecision, ...] = ()  # github: who approved this run
    run_id: str | None = None
    refused: GateDecision | None = None
    # Requests among those read that the keyed audit trail does not back: id → refusal.
    unattested: dict[str, GateDecision] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ReleaseFacts:
    """The release a deploy would make live, and what its gate needs to know."""

    artifact: Artifact | None  # None: the sources changed and it is built first
    zip_path: Path | None
    branch: str | None  # the artifact's branch (or, unbuilt, the checkout's)
    source_env: str | None = None  # promote_from
    succeeded_in_source: tuple[str, ...] = ()  # digests verified there, newest first
    bytes_problem: str | None = None  # the stored bytes no longer hash to the digest
    approval: ApprovalFacts | None = None
    # With an audit key, what the keyed trail does not back (attested.py), as the refusal:
    provenance_problem: GateDecision | None = None  # the build record (or manifest vs ledger)
    success_problem: GateDecision | None = None  # the upstream success
    # DESIGN §11.3: the configuration it runs with here, and what that changes against what
    # the ledger left live (None: the ledger cannot say; empty: nothing).
    configured: Configured | None = None
    configuration_changes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RollbackFacts:
    """What a manual rollback chooses from. ``good_on_target`` is read only when the ledger
    has no history here; ``versions`` only when ``--to`` names one."""

    history: tuple[Deployment, ...]  # oldest first
    good_on_target: tuple[tuple[str, str], ...] = ()
    versions: tuple[PublishedVersion, ...] = ()


# --- the plan --------------------------------------------------------------------------------
@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict for this command, asked once: ``ok`` or the reason it blocks
    (``code``/``message``/``hint`` as the ``GateBlocked`` the real run raises)."""

    ok: bool
    code: str = ""
    message: str = ""
    hint: str = ""
    payload: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def open(cls, message: str = "nothing holds this release back") -> GateDecision:
        return cls(ok=True, code="ok", message=message)

    @classmethod
    def blocked(cls, error: GateBlocked) -> GateDecision:
        return cls(
            ok=False,
            code=error.code,
            message=error.message,
            hint=error.hint,
            payload=dict(error.payload),
        )

    def error(self) -> GateBlocked:
        return GateBlocked(self.message, hint=self.hint, code=self.code, payload=self.payload)


@dataclass(frozen=True)
class ApprovalGrant:
    """The approval a deployment consumes under the environment lock (DESIGN §5.2)."""

    provider: str
    env: str
    digest: str
    request: ApprovalRequest | None  # builtin: the granted request
    approvers: tuple[str, ...]
    decisions: tuple[ApprovalDecision, ...] = ()  # github: recorded when consumed
    run_id: str | None = None

    @property
    def summary(self) -> str:
        who = ", ".join(self.approvers) or "nobody"
        if self.request is not None:
            return f"request {self.request.id} (approved by {who})"
        return f"GitHub run {self.run_id} (approved by {who})"


@dataclass(frozen=True)
class RollbackTarget:
    """Where the alias goes: after a failed deployment, or for a manual rollback.
    ``version`` None: there was nothing before, so the alias is removed."""

    version: str | None
    digest: str | None
    why: str


@dataclass(frozen=True)
class Step:
    action: StepAction
    detail: str
    function: str | None = None  # the release's function it concerns
    percent: int | None = None  # shift: the traffic the new version gets after the step


@dataclass(frozen=True)
class Plan:
    kind: PlanKind
    env: EnvFacts
    gate: GateDecision
    steps: tuple[Step, ...]
    release: Artifact | None = None  # what goes live (unknown until built: see BUILD)
    to: str | None = None  # the version that will be live (a deploy's is known once published)
    rollback_target: RollbackTarget | None = None
    approval: ApprovalGrant | None = None
    recoveries: tuple[Recovery, ...] = ()
    reason: str = ""
    notes: tuple[str, ...] = ()  # warnings the real run would print too

    @property
    def from_version(self) -> str | None:
        return self.env.alias.version

    @property
    def proceeds(self) -> bool:
        return self.gate.ok and not self.env.locked

    def stopping_error(self) -> GateBlocked | EnvironmentLocked | None:
        """What the real run would stop with before changing anything (exit 5 or 6)."""
        if not self.gate.ok:
            return self.gate.error()
        if self.env.locked and self.env.lock is not None:
            from lambda_promote.ledger.rules import locked

            return locked(self.env.lock)
        return None
