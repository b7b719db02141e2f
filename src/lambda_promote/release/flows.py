"""Each command that changes an environment, as its three stages wired together:

    gather (gather.py) → plan (plan.py, rollback.py) → execute (execute.py) | show (display.py)

``deploy``, ``rollback``, ``run`` and the rollback jobs' ``github resolve`` start here. A dry
run stops after the plan and reads through a ledger it never creates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lambda_promote.errors import EnvironmentLocked, GateBlocked, PromoteError, UsageError
from lambda_promote.model import ApprovalRequest, Deployment, DeploymentState
from lambda_promote.release import gather
from lambda_promote.release.execute import deployer, execute_deploy, execute_rollback
from lambda_promote.release.models import Plan, PlanKind, ReleaseFacts
from lambda_promote.release.rollback import needs_person, plan_resolution, plan_rollback

if TYPE_CHECKING:
    # Imported where used: a rollback needs neither approvals (and the promotion rules they
    # load) nor the triggers' planning — tens of ms of a rollback's start-up.
    from lambda_promote.release.approvals import ApprovalProvider
    from lambda_promote.release.plan import RunPlan
    from lambda_promote.triggers import Event
    from lambda_promote.workspace import Workspace


# --- deploy ----------------------------------------------------------------------------------
def deploy_plan(ws: Workspace, env: str, *, artifact: str | None) -> Plan:
    """The plan of ``deploy ENV``, read without writing anything (a dry run)."""
    plan, _, _ = _plan_deploy(ws, env, artifact=artifact, dry_run=True)
    return plan


def deploy(ws: Workspace, env: str, *, artifact: str | None) -> Deployment:
    """Deploy; verify; roll back automatically on failure (DESIGN §6)."""
    plan, release, provider = _plan_deploy(ws, env, artifact=artifact, dry_run=False)
    if not plan.gate.ok:
        _announce_expiry(ws, plan)
        raise plan.gate.error()
    return execute_deploy(ws, plan, release, provider=provider)


def _plan_deploy(
    ws: Workspace, env: str, *, artifact: str | None, dry_run: bool
) -> tuple[Plan, ReleaseFacts, ApprovalProvider | None]:
    from lambda_promote.release.approvals import provider_for
    from lambda_promote.release.plan import plan_deploy

    ledger = ws.ledger_for_reading() if dry_run else ws.ledger
    facts = gather.gather_env(ws, env, ledger=ledger)
    provider = provider_for(ws, facts.spec.approval, ledger=ledger)
    release = gather.gather_release(
        ws, facts, artifact, ledger=ledger, provider=provider, build=not dry_run
    )
    return plan_deploy(facts, release), release, provider


def _announce_expiry(ws: Workspace, plan: Plan) -> None:
    from lambda_promote.promotion import announce

    request = plan.gate.payload.get("approval_request")
    if plan.gate.code == "approval_expired" and isinstance(request, ApprovalRequest):
        announce(ws, "approval.expired", request)


# --- rollback --------------------------------------------------------------------------------
def rollback_plan(ws: Workspace, env: str, *, to: str | None, reason: str) -> Plan:
    ledger = ws.ledger_for_reading()
    facts = gather.gather_env(ws, env, ledger=ledger)
    if facts.functions:
        from lambda_promote.release.together import plan_release_rollback

        newest_first = ledger.deployments(env, limit=None)
        return plan_release_rollback(facts, newest_first, to=to, reason=reason)
    history = gather.gather_rollback(ws, facts, ledger=ledger, to=to)
    return plan_rollback(facts, history, to=to, reason=reason)


def rollback(ws: Workspace, env: str, *, to: str | None, reason: str) -> Deployment:
    """Manual/emergency rollback (DESIGN §5.4), verified; see rollback.py for the rules."""
    if ws.config.many:
        from lambda_promote.release.together import rollback_release

        return rollback_release(ws, env, to=to, reason=reason, runner=deployer(ws))
    for _attempt in range(2):
        facts = gather.gather_env(ws, env, ledger=ws.ledger, changing=True)
        history = gather.gather_rollback(ws, facts, ledger=ws.ledger, to=to)
        done = execute_rollback(ws, plan_rollback(facts, history, to=to, reason=reason))
        if done is not None:
            return done
    raise PromoteError(
        f"{env}: its state kept changing while the rollback was planned; nothing was moved",
        hint="see `lambda-promote status " + env + "`, then run the rollback again",
        code="state_changed",
    )


# --- run -------------------------------------------------------------------------------------
@dataclass
class RunResult:
    plan: RunPlan
    deployments: list[Deployment] = field(default_factory=list)


def resolve_event(name: str | None, branch: str | None, env: str | None) -> Event:
    from lambda_promote.triggers import Event, event_from_github

    if name:
        return Event(name, branch, env)
    from_github = event_from_github(os.environ)
    if from_github is None:
        raise UsageError(
            "no event given and none in the environment",
            hint="`lambda-promote run --event push --branch main` (in GitHub Actions the "
            "event is read from GITHUB_EVENT_NAME and GITHUB_REF_NAME/GITHUB_BASE_REF)",
        )
    return Event(from_github.name, branch or from_github.branch, env)


def run_plan(ws: Workspace, event: Event, *, dry_run: bool = True) -> RunPlan:
    """What the triggers say for ``event``; the first environment planned in full."""
    from lambda_promote.config.lookup import require_env
    from lambda_promote.release.plan import plan_run
    from lambda_promote.triggers import plan, promotion_order

    sources = {name: spec.promote_from for name, spec in ws.config.environments.items()}
    if event.env:
        require_env(ws.config, event.env)
    trigger = plan(ws.config.triggers, event, known_envs=promotion_order(sources))
    first = None
    if dry_run and trigger.environments:
        first = deploy_plan(ws, trigger.environments[0], artifact=None)
    return plan_run(trigger, first, sources=sources)


def run(ws: Workspace, event: Event) -> RunResult:
    """Carry out the triggers' plan in promotion order. ``push main`` deploys staging, then
    opens (or uses) the production approval request: a granted request continues to
    production, anything else stops with exit 5 "awaiting approval"."""
    result = RunResult(run_plan(ws, event, dry_run=False))
    ws.ui.step(result.plan.trigger.why)
    for env in result.plan.trigger.environments:
        # The gate is asked once, by the deploy's own plan; what it lacks decides the rest.
        plan, release, provider = _plan_deploy(ws, env, artifact=None, dry_run=False)
        if not plan.gate.ok:
            raise _awaiting_approval(ws, env, plan, release, result) or plan.gate.error()
        result.deployments.append(execute_deploy(ws, plan, release, provider=provider))
    return result


def _awaiting_approval(
    ws: Workspace, env: str, plan: Plan, release: ReleaseFacts, result: RunResult
) -> GateBlocked | None:
    """When only the built-in approval holds the release back: the request reviewers
    decide on (the open one, or a new one with its evidence), as the "awaiting" refusal."""
    from lambda_promote import promotion

    spec = ws.config.environments[env]
    waiting = plan.gate.code.startswith("approval_")  # missing, open, rejected, expired, …
    builtin = spec.approval is not None and spec.approval.provider == "builtin"
    if not (waiting and builtin) or release.artifact is None:
        return None
    request = promotion.request_approval(ws, env, release.artifact.digest)
    return GateBlocked(
        f"awaiting approval {request.id} for {env} ({request.short_digest})",
        hint=f"a reviewer runs `lambda-promote approve {request.id} --as REVIEWER`; "
        "then run this again",
        code="awaiting_approval",
        payload={"approval_request": request, "deployments": result.deployments},
    )


# --- the rollback jobs -----------------------------------------------------------------------
@dataclass
class Resolution:
    env: str
    live_version: str | None = None
    recovered: list[Deployment] = field(default_factory=list)
    finished: Deployment | None = None
    broke_lock: str | None = None
    held_by: str | None = None  # a newer run's live deploy holds the environment

    @property
    def summary(self) -> str:
        if self.held_by is not None:
            return (
                f"{self.env}: {self.held_by} holds it now and resolves what was left before it "
                f"starts; nothing to do here (version {self.live_version or '-'} is live)"
            )
        if self.recovered:
            states = ", ".join(f"{d.id} → {d.state.value}" for d in self.recovered)
            return f"{self.env}: resolved interrupted work ({states})"
        if self.finished is not None:
            return f"{self.env}: finished the rollback to version {self.finished.version}, verified"
        return f"{self.env}: nothing left to resolve; version {self.live_version or '-'} is live"


def resolve_leftovers(
    ws: Workspace, env: str, *, reason: str, dead_host: str | None = None
) -> Resolution:
    """What the generated workflow's ``rollback-<env>`` jobs do (DESIGN §10, §5.5): resolve
    whatever a failed, dead or cancelled deploy job left — and nothing more (the rules:
    ``rollback.plan_resolution``). The dead job ran on another runner, so its lock cannot be
    recognised as stale from here; ``dead_host`` names that runner and its locks are broken.
    ``RollbackFailed`` when a person is needed."""
    from lambda_promote.outcome import raise_for_outcome

    result = Resolution(env)
    result.broke_lock = _break_dead_lock(ws, env, dead_host)
    facts = gather.gather_env(ws, env, ledger=ws.ledger)
    latest = next(iter(ws.ledger.deployments(env, limit=1)), None)
    plan = plan_resolution(facts, latest)
    runner = deployer(ws, deployment_id=facts.deployment_id)
    try:
        result.recovered = runner.recover(facts.fn, facts.spec)
    except EnvironmentLocked:
        from lambda_promote.workspace import parse_lock_holder

        info = ws.ledger.lock_info(env)
        if not dead_host or info is None or parse_lock_holder(info.holder).host == dead_host:
            raise
        # The dead job's runner is known and this lock is not its own (that one was broken
        # above): a newer run's deploy took the environment, and a deploy resolves
        # interrupted work first (DESIGN §5.5). Failing here would be a red mark where
        # nothing is wrong; without the runner's name nothing can be told apart: exit 6.
        result.held_by = info.holder
        result.live_version = ws.target.alias_state(facts.fn).version
        return result
    for dep in result.recovered:
        if dep.state is DeploymentState.ROLLBACK_FAILED:
            raise needs_person(dep, "its interrupted work could not be undone")
    target = plan.rollback_target
    if ws.config.many and latest is not None and not result.recovered and target is not None:
        # Finishing a release's rollback function by function is not automated yet.
        raise needs_person(latest, "the rollback of its release did not complete")
    if not result.recovered and plan.kind is PlanKind.ROLLBACK and target is not None:
        for note in plan.notes:
            ws.ui.warn(note)
        dep = runner.rollback_to(
            facts.fn,
            facts.spec,
            version=str(target.version),
            digest=str(target.digest),
            reason=reason or target.why,
            alias=facts.alias,
        )
        result.finished = raise_for_outcome(ws.ledger.get_deployment(dep.id) or dep)
    result.live_version = ws.target.alias_state(facts.fn).version
    return result


def _break_dead_lock(ws: Workspace, env: str, dead_host: str | None) -> str | None:
    from lambda_promote.status import unlock
    from lambda_promote.workspace import parse_lock_holder

    info = ws.ledger.lock_info(env)
    if not dead_host or info is None or parse_lock_holder(info.holder).host != dead_host:
        return None
    unlock(ws, env, info.deployment_id)
    return info.holder
