"""A many-function release through an environment (DESIGN §11.4): the deploy a plan admitted,
and the manual rollback to the release before. The state machine is ``deploy_release``; this
module reads what it needs — each function's verified zip, the release to go back to — and
turns the outcome into the exit code (outcome.py), as execute.py does for one function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambda_promote.errors import PromoteError, UsageError
from lambda_promote.function_config import FunctionConfiguration, settings_of
from lambda_promote.model import Artifact, Deployment, DeploymentKind, DeploymentState

if TYPE_CHECKING:
    from lambda_promote.deploy import Deployer
    from lambda_promote.deploy_release import Part, ReleaseDeployer
    from lambda_promote.release.models import EnvFacts, Plan
    from lambda_promote.workspace import Workspace

S = DeploymentState


def execute_release(
    ws: Workspace,
    plan: Plan,
    release: Artifact,
    *,
    admit: Callable[[str], None] | None,
    runner: Deployer,
) -> Deployment:
    """Carry out a deploy plan of a many-function release whose gate admitted it, with
    ``runner`` (execute.deployer: a ``ReleaseDeployer`` for a many-function config)."""
    from lambda_promote.outcome import raise_for_outcome

    parts = release_parts(ws, plan, release)
    env = plan.env
    live = next(iter(ws.ledger.deployments(env.env, states=[S.SUCCEEDED], limit=1)), None)
    dep = _release_deployer(runner).deploy_release(
        {name: part.fn for name, part in parts.items()},
        env.spec,
        release,
        parts,
        admit=admit,
        previous_digest=live.digest if live is not None else None,
    )
    return raise_for_outcome(ws.ledger.get_deployment(dep.id) or dep)


def release_parts(ws: Workspace, plan: Plan, release: Artifact) -> dict[str, Part]:
    """Each function of ``release`` with its zip, re-hashed now (DESIGN §5.1); the release
    must hold exactly the functions promote.yaml has."""
    from lambda_promote.build.release import release_functions
    from lambda_promote.deploy_release import Part

    named = release_functions(release)
    wanted = [name for name, _fn, _alias in plan.env.functions]
    if named is None or sorted(named) != sorted(wanted):
        held = ", ".join(sorted(named)) if named else "one function (no release manifest)"
        raise UsageError(
            f"release {release.short} holds {held}; promote.yaml's functions are "
            f"{', '.join(wanted)}",
            hint="build the release with this promote.yaml (`lambda-promote build`) and deploy "
            "that digest",
            code="release_mismatch",
        )
    carried = _verified_release_parts(ws, plan, release)
    parts = {}
    for name, planned, _alias in plan.env.functions:
        artifact = ws.store.get(named[name])
        release_part = carried.get(name)
        fn = planned
        if release_part is not None:  # a promotion: what the source verified (§11.3)
            fn = ws.function_ref(
                plan.env.env,
                session_name=planned.session_name,
                function=name,
                release=FunctionConfiguration.from_json(release_part),
            )
        written = settings_of(ws.config.release_functions[name]).to_json()
        parts[name] = Part(
            name,
            fn,
            artifact,
            ws.store.verified_path(artifact.digest),
            release_configuration=release_part if release_part is not None else written,
        )
    return parts


def _verified_release_parts(ws: Workspace, plan: Plan, release: Artifact) -> dict[str, Any]:
    """NAME → the release part of each function's configuration as the source environment
    verified ``release`` with it; empty for a fresh release (promote.yaml's applies)."""
    source = plan.env.spec.promote_from
    if source is None:
        return {}
    for dep in ws.ledger.deployments(source, states=[S.SUCCEEDED], limit=None):
        if dep.digest == release.digest and dep.kind is DeploymentKind.DEPLOY and dep.functions:
            return {
                name: entry["release_configuration"]
                for name, entry in dep.functions.items()
                if entry.get("release_configuration") is not None
            }
    return {}


def _release_deployer(runner: Deployer) -> ReleaseDeployer:
    from lambda_promote.deploy_release import ReleaseDeployer

    assert isinstance(runner, ReleaseDeployer), "a many-function config gets the release one"
    return runner


# --- manual rollback -------------------------------------------------------------------------
def rollback_target(history: list[Deployment], to: str | None) -> Deployment:
    """The release a manual rollback goes back to (DESIGN §5.4): with ``to``, the newest
    succeeded release with that digest (or prefix); else the newest succeeded one before the
    live one with another digest. ``history`` newest first. Refuses when there is none."""
    good = [
        d
        for d in history
        if d.state is S.SUCCEEDED
        and d.functions is not None
        and d.kind in (DeploymentKind.DEPLOY, DeploymentKind.ROLLBACK)
    ]
    if to is not None:
        key = to.strip().lower()
        for dep in good:
            if dep.digest.startswith(key) or dep.id == to:
                return dep
        raise UsageError(
            f"no release {to!r} succeeded here",
            hint="`lambda-promote history ENV` lists the releases that did",
            code="no_rollback_target",
        )
    if good:
        live = good[0].digest
        for dep in good[1:]:
            if dep.digest != live:
                return dep
    raise PromoteError(
        "no earlier release succeeded here: nothing to roll back to",
        hint="deploy a fixed release instead",
        code="no_rollback_target",
    )


def plan_release_rollback(
    env: EnvFacts, history: list[Deployment], *, to: str | None, reason: str
) -> Plan:
    """What ``rollback ENV`` does to a many-function release (``history`` newest first):
    every function's alias to its version in the release before, then every check."""
    from lambda_promote.release.models import (
        GateDecision,
        Plan,
        PlanKind,
        RollbackTarget,
        Step,
        StepAction,
    )
    from lambda_promote.release.rollback import verification_steps

    no_gate = GateDecision.open("a rollback has no gate")
    if env.locked:
        return Plan(PlanKind.ROLLBACK, env, no_gate, ())
    notes: tuple[str, ...] = ()
    if env.unfinished:
        notes = (
            f"{env.env}: an interrupted deployment is rolled back first; not rolling back further",
        )
    target = rollback_target(history, to)
    versions = {name: entry.get("version") for name, entry in (target.functions or {}).items()}
    steps = [
        Step(
            StepAction.SHIFT,
            f"{name}: move {fn.function_name}:{fn.alias} from "
            f"{alias.version} to {versions.get(name)}",
            function=name,
            percent=100,
        )
        for name, fn, alias in env.functions
        if alias.version != versions.get(name)  # already there: not moved
    ]
    shown = ", ".join(f"{name} {version}" for name, version in versions.items())
    return Plan(
        PlanKind.ROLLBACK,
        env,
        no_gate,
        (*steps, *verification_steps(env, phase="rollback_verify")),
        to=shown,
        rollback_target=RollbackTarget(shown, target.digest, f"release {target.short_digest}"),
        reason=reason or "manual",
        notes=notes,
    )


def rollback_release(
    ws: Workspace, env: str, *, to: str | None, reason: str, runner: Deployer
) -> Deployment:
    """Every function of the release back to the release before (or ``to``), verified."""
    from lambda_promote.config.lookup import require_env
    from lambda_promote.outcome import raise_for_outcome

    spec = require_env(ws.config, env)
    runner = _release_deployer(runner)
    fns = ws.function_refs(env, session_name=f"{ws.actor}-rollback")
    undone = [d for d in runner.recover(next(iter(fns.values())), spec) if d.state is not S.FAILED]
    if undone:
        ws.ui.warn(f"{env}: an interrupted deployment was rolled back; not rolling back further")
        last = undone[-1]
        return last if last.state is S.ROLLED_BACK else raise_for_outcome(last)
    target = rollback_target(ws.ledger.deployments(env, limit=None), to)
    dep = runner.rollback_release(fns, spec, to=target, reason=reason or "manual")
    return raise_for_outcome(ws.ledger.get_deployment(dep.id) or dep)
