"""What the generated workflow's ``rollback-<env>`` jobs do (DESIGN §10, §5.5): resolve
whatever a failed, dead or cancelled deploy job left in an environment — and nothing more.

They are the second line: ``deploy`` already rolls back by itself. A plain
``lambda-promote rollback ENV`` would be wrong here, because after a deploy that rolled itself
back (exit 3), or one that failed before touching anything, it would move the environment one
*further* good version back. So:

    a deployment left in flight      → recover it: roll back, verify, or mark it failed
    a rollback that did not complete → when the alias still serves the failed version,
                                       finish it: back to the previous version, verified;
                                       otherwise a person is needed (exit 4)
    anything else                    → say what is live, change nothing
    a live deploy on another runner  → say so and leave it to that one (it resolves first)
    holds it (the dead runner known)

The dead job ran on another runner, so its environment lock cannot be recognised as stale
from here; ``dead_host`` names that runner (the deploy job records it) and locks held there
are broken — recorded in the ledger and the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lambda_promote import service
from lambda_promote.config.loader import require_env
from lambda_promote.errors import EnvironmentLocked, RollbackFailed
from lambda_promote.model import Deployment, DeploymentState
from lambda_promote.workspace import Workspace


@dataclass
class Resolution:
    env: str
    live_version: str | None = None
    recovered: list[Deployment] = field(default_factory=list)
    finished: Deployment | None = None
    broke_lock: str | None = None
    held_by: str | None = None  # another live deployment holds the environment

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
    """Resolve what a deploy job of ``env`` left; ``RollbackFailed`` when a person is needed."""
    spec = require_env(ws.config, env)
    fn = ws.function_ref(env)
    result = Resolution(env)
    result.broke_lock = _break_dead_lock(ws, env, dead_host)
    runner = service.deployer(ws)
    try:
        result.recovered = runner.recover(fn, spec)
    except EnvironmentLocked:
        info = ws.ledger.lock_info(env)
        if not dead_host or info is None or _host(info.holder) == dead_host:
            raise
        # The dead job's runner is known and this lock is not its own (that one was broken
        # above): a newer run's deploy took the environment, and a deploy resolves
        # interrupted work first (DESIGN §5.5). Failing here would be a red mark where
        # nothing is wrong; without the runner's name nothing can be told apart: exit 6.
        result.held_by = info.holder
        result.live_version = ws.target.alias_state(fn).version
        return result
    for dep in result.recovered:
        if dep.state is DeploymentState.ROLLBACK_FAILED:
            raise _needs_person(dep, "its interrupted work could not be undone")
    if not result.recovered:
        latest = next(iter(ws.ledger.deployments(env, limit=1)), None)
        if latest is not None and latest.state is DeploymentState.ROLLBACK_FAILED:
            result.finished = _finish_rollback(ws, latest, reason=reason)
    result.live_version = ws.target.alias_state(fn).version
    return result


def _finish_rollback(ws: Workspace, failed: Deployment, *, reason: str) -> Deployment:
    from lambda_promote.deploy import raise_for_outcome

    env = failed.env
    fn = ws.function_ref(env)
    alias = ws.target.alias_state(fn)
    can_finish = (
        alias.version == failed.version
        and failed.previous_version is not None
        and failed.previous_digest is not None
    )
    if not can_finish:
        raise _needs_person(
            failed, f"the alias serves version {alias.version}; which one is right needs a person"
        )
    ws.ui.warn(
        f"{env}: deployment {failed.id} left version {failed.version} live after a failed "
        f"rollback; moving back to version {failed.previous_version}"
    )
    dep = service.deployer(ws).rollback_to(
        fn,
        require_env(ws.config, env),
        version=str(failed.previous_version),
        digest=str(failed.previous_digest),
        reason=reason or f"finish the rollback of {failed.id}",
    )
    return raise_for_outcome(ws.ledger.get_deployment(dep.id) or dep)


def _break_dead_lock(ws: Workspace, env: str, dead_host: str | None) -> str | None:
    info = ws.ledger.lock_info(env)
    if not dead_host or info is None:
        return None
    if _host(info.holder) != dead_host:
        return None
    service.unlock(ws, env, info.deployment_id)
    return info.holder


def _host(holder: str) -> str:
    """The host of a lock holder ``user@host:pid``."""
    return holder.rpartition("@")[2].rpartition(":")[0]


def _needs_person(dep: Deployment, why: str) -> RollbackFailed:
    return RollbackFailed(
        f"{dep.env} NEEDS A PERSON: deployment {dep.id} ({dep.state.value}): {why}",
        hint=f"inspect the function, then `lambda-promote rollback {dep.env} --to VERSION`; "
        "`lambda-promote status` and `lambda-promote history` show what is live and what ran",
        payload={"deployment": dep},
    )
