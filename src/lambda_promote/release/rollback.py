"""How rollback works — every rule in one place (DESIGN §5.4, §5.5, §6). Pure.

A rollback is always the same move: point the environment's alias at an earlier version and
run the checks against it (``deploy.Deployer``, ledger first). What differs is *which*
version and *when*; those rules live here and nowhere else:

    after a failed deployment   back to the version live before it (``failure_target``);
                                a first deployment had none, so its alias is removed
    by hand (``rollback ENV``)  the last *good* version before the live one
                                (``rollback_candidate``): one a deployment verified, never a
                                failed one, never one somebody rolled back away from by hand;
                                a machine with no history asks the target's own record of
                                good versions (``candidate_from_good``, written by
                                ``Target.record_good`` after every verified version);
                                ``--to`` names one explicitly (``choose_version``)
    after a crash               ``recovery_for`` reads where the alias points and says what
                                restores a consistent state: mark failed, roll back, verify
                                what a rollback reached, or call a person
    in a rollback job           ``plan_resolution``: resolve interrupted work, finish a
                                rollback that did not complete, otherwise change nothing —
                                never one version further back

"Good" versions are those a deployment verified (state ``succeeded``), in the order they
first went live. A version somebody rolled back *away from* by hand is no longer good: a
person judged it bad even though its checks passed.
"""

from __future__ import annotations

from collections.abc import Sequence

from lambda_promote.errors import PromoteError, RollbackFailed, UsageError
from lambda_promote.model import (
    AliasState,
    Deployment,
    DeploymentKind,
    DeploymentState,
    RollbackRecord,
)
from lambda_promote.release.models import (
    EnvFacts,
    GateDecision,
    Plan,
    PlanKind,
    Recovery,
    RecoveryAction,
    RollbackFacts,
    RollbackTarget,
    Step,
    StepAction,
)

S = DeploymentState
Action = RecoveryAction


# --- good versions ---------------------------------------------------------------------------
def good_versions(history: Sequence[Deployment]) -> list[tuple[str, str]]:
    """``(version, digest)`` of verified deployments, oldest first, each version once;
    ``history`` is oldest first."""
    abandoned = {
        d.previous_version
        for d in history
        if d.kind is DeploymentKind.ROLLBACK and d.state is S.SUCCEEDED
    }
    seen: dict[str, str] = {}
    for d in history:
        if (
            d.kind is DeploymentKind.DEPLOY
            and d.state is S.SUCCEEDED
            and d.version is not None
            and d.version not in abandoned
        ):
            seen.setdefault(d.version, d.digest)
    return list(seen.items())


def rollback_candidate(
    history: Sequence[Deployment], current: str | None
) -> tuple[str, str] | None:
    """The last good version that went live before ``current``; with ``current`` unknown to
    the history, the newest good version. None when there is nothing to go to."""
    return candidate_from_good(list(reversed(good_versions(history))), current)


def was_ever_good(history: Sequence[Deployment], version: str) -> bool:
    return any(d.version == version and d.state is S.SUCCEEDED for d in history)


def candidate_from_good(
    good: Sequence[tuple[str, str]], current: str | None
) -> tuple[str, str] | None:
    """The same rule over a target's own record of good versions (newest first), for a
    machine whose ledger has no history: the good version recorded before ``current``."""
    versions = [v for v, _ in good]
    if current in versions:
        index = versions.index(current)
        return good[index + 1] if index + 1 < len(good) else None
    return good[0] if good else None


# --- after a failed deployment ---------------------------------------------------------------
def failure_target(alias: AliasState) -> RollbackTarget:
    """Where a deployment that fails after moving traffic puts the alias back."""
    if alias.version is None:
        return RollbackTarget(
            None, None, "nothing was live before: the alias is removed (absent again)"
        )
    return RollbackTarget(alias.version, alias.digest, "the version live before this deployment")


# --- after a crash ---------------------------------------------------------------------------
def back_to_previous(dep: Deployment, *, reason: str) -> RollbackRecord:
    """The record of a rollback from a deployment's version to the one before it."""
    return RollbackRecord(
        reason=reason,
        from_version=dep.version,
        to_version=dep.previous_version,
        to_digest=dep.previous_digest,
    )


def recovery_for(deployment: Deployment, alias: AliasState) -> Recovery:
    """What restores a consistent, explained state for a deployment a dead process left
    unfinished, given where the alias points now (DESIGN §5.5)."""
    state, live = deployment.state, alias.version
    ours, previous = deployment.version, deployment.previous_version

    def said(action: RecoveryAction, why: str) -> Recovery:
        return Recovery(deployment, action, why)

    if state in (S.PENDING, S.PUBLISHING):
        return said(Action.MARK_FAILED, "interrupted before the alias moved; nothing to undo")
    if deployment.kind is DeploymentKind.ROLLBACK:
        if live == ours:
            return said(Action.VERIFY_TARGET, f"interrupted rollback reached version {ours}")
        if live == previous:
            return said(Action.MARK_FAILED, "interrupted rollback had not moved the alias")
        return said(
            Action.NEEDS_PERSON,
            f"the alias points at version {live}, neither the rollback's target {ours} "
            f"nor where it started ({previous})",
        )
    if live == ours and ours != previous:
        return said(Action.ROLL_BACK, f"interrupted with the alias on version {ours}")
    if live == previous:
        if ours is not None and ours in alias.weights:
            share = f"{alias.weights[ours]:.0%}"
            return said(Action.ROLL_BACK, f"interrupted mid-shift with {share} on version {ours}")
        if state is S.SHIFTING:
            return said(Action.MARK_FAILED, "interrupted before the alias moved")
        return said(
            Action.VERIFY_PREVIOUS,
            f"interrupted after the alias was back on version {previous}; verifying it",
        )
    return said(
        Action.NEEDS_PERSON,
        f"the alias points at version {live}, which is neither the interrupted deployment's "
        f"version {ours} nor the previous version {previous}",
    )


def plan_recovery(env: EnvFacts) -> tuple[Recovery, ...]:
    """What resolves each deployment of the environment left unfinished. Empty while a live
    process holds the lock: its deployment is in flight, not interrupted."""
    if env.locked:
        return ()
    return tuple(recovery_for(dep, env.alias) for dep in env.unfinished)


def undoes_traffic(recovery: Recovery) -> bool:
    """Whether resolving it moves or verifies traffic — then it *is* the rollback a person
    asked for, and a manual rollback goes no further."""
    return recovery.action is not Action.MARK_FAILED


def recovery_steps(recoveries: Sequence[Recovery]) -> list[Step]:
    return [
        Step(StepAction.RECOVER, f"{r.deployment.id} ({r.deployment.state.value}): {r.why}")
        for r in recoveries
    ]


# --- by hand ---------------------------------------------------------------------------------
def plan_rollback(env: EnvFacts, facts: RollbackFacts, *, to: str | None, reason: str) -> Plan:
    """Manual rollback (DESIGN §5.4): resolve interrupted work first — when that moved
    traffic back, it is the rollback; else go to ``to`` or the last good version before the
    live one. ``PromoteError``/``UsageError`` when there is nowhere to go."""
    recoveries = plan_recovery(env)
    if any(undoes_traffic(r) for r in recoveries):
        return Plan(
            PlanKind.RESOLVE,
            env,
            GateDecision.open("a rollback has no gate"),
            tuple(recovery_steps(recoveries)),
            recoveries=recoveries,
            reason=reason,
            notes=(
                f"{env.env}: an interrupted deployment is rolled back first; "
                "not rolling back further",
            ),
        )
    notes: list[str] = []
    if env.locked:
        # Exit 6 before anything is read further; nothing to choose yet.
        return Plan(PlanKind.ROLLBACK, env, GateDecision.open("a rollback has no gate"), ())
    version, digest = (
        _candidate(env, facts, notes) if to is None else choose_version(env, facts, to, notes)
    )
    steps = [
        *recovery_steps(recoveries),
        Step(
            StepAction.SHIFT,
            f"move {env.fn.alias} from {env.alias.version} to {version}",
            percent=100,
        ),
        *verification_steps(env, phase="rollback_verify"),
    ]
    return Plan(
        PlanKind.ROLLBACK,
        env,
        GateDecision.open("a rollback has no gate"),
        tuple(steps),
        to=version,
        rollback_target=RollbackTarget(version, digest, "the rollback's target"),
        recoveries=recoveries,
        reason=reason or "manual",
        notes=tuple(notes),
    )


def _candidate(env: EnvFacts, facts: RollbackFacts, notes: list[str]) -> tuple[str, str]:
    current = env.alias.version
    candidate = rollback_candidate(facts.history, current)
    if candidate is None and not facts.history:
        # A fresh machine (a CI job) has no history: use what the function records.
        candidate = candidate_from_good(facts.good_on_target, current)
        if candidate is not None:
            notes.append(
                f"{env.env}: the ledger has no history here; using the good versions "
                f"recorded on {env.fn.function_name}"
            )
    if candidate is None:
        raise PromoteError(
            f"{env.env} has no earlier good version to roll back to (live: {current or 'nothing'})",
            hint="a rollback only goes to a version that passed its checks before; "
            "use `--to VERSION` to choose one explicitly",
            code="no_rollback_target",
        )
    return candidate


def choose_version(
    env: EnvFacts, facts: RollbackFacts, to: str, notes: list[str]
) -> tuple[str, str]:
    """The published version ``--to`` names, by number or digest (prefix)."""
    matches = [
        v
        for v in facts.versions
        if to in (v.version, v.digest)
        or (len(to) >= 4 and not to.isdigit() and v.digest.startswith(to))
    ]
    if not matches:
        raise UsageError(
            f"{env.env}: no version {to!r} on {env.fn.function_name}",
            hint="`lambda-promote history " + env.env + "` lists the versions that were live",
        )
    chosen = matches[-1]
    if chosen.version == env.alias.version:
        raise UsageError(f"{env.env}: version {chosen.version} is already live")
    if facts.history and not was_ever_good(facts.history, chosen.version):
        notes.append(f"{env.env}: version {chosen.version} never passed its checks here")
    return chosen.version, chosen.digest


def verification_steps(env: EnvFacts, *, phase: str) -> list[Step]:
    """The checks that verify a version once the alias serves it, in the order they run."""
    spec = env.spec
    steps = [
        Step(StepAction.CHECK, f"{check.name} ({phase}): invoke {env.fn.alias}")
        for check in spec.checks
    ]
    if env.functions:  # many functions: each check against its function, or against each
        steps = [
            Step(
                StepAction.CHECK,
                f"{name}: {check.name} ({phase}): invoke {fn.function_name}:{fn.alias}",
                function=name,
            )
            for name, fn, _alias in env.functions
            for check in spec.checks
            if check.function in (None, name)
        ]
    if spec.alarms:
        steps.append(Step(StepAction.ALARM_WATCH, f"not in ALARM: {', '.join(spec.alarms)}"))
    if spec.bake_seconds:
        steps.append(
            Step(StepAction.BAKE, f"{spec.bake_seconds} s of checks and alarms while it serves")
        )
    return steps


# --- in a rollback job -------------------------------------------------------------------------
def plan_resolution(env: EnvFacts, latest: Deployment | None) -> Plan:
    """What the generated workflow's rollback job does (DESIGN §10): resolve interrupted
    work; else finish a rollback that did not complete when the alias still serves the
    failed version; else nothing. ``RollbackFailed`` when only a person can tell."""
    recoveries = plan_recovery(env)
    gate = GateDecision.open("resolving leftovers has no gate")
    if recoveries or env.unfinished or latest is None or latest.state is not S.ROLLBACK_FAILED:
        return Plan(
            PlanKind.RESOLVE, env, gate, tuple(recovery_steps(recoveries)), recoveries=recoveries
        )
    can_finish = (
        env.alias.version == latest.version
        and latest.previous_version is not None
        and latest.previous_digest is not None
    )
    if not can_finish:
        raise needs_person(
            latest,
            f"the alias serves version {env.alias.version}; which one is right needs a person",
        )
    target = RollbackTarget(
        latest.previous_version, latest.previous_digest, f"finish the rollback of {latest.id}"
    )
    steps = (
        Step(
            StepAction.FINISH_ROLLBACK,
            f"move {env.fn.alias} from {latest.version} back to {latest.previous_version}",
            percent=100,
        ),
        *verification_steps(env, phase="rollback_verify"),
    )
    return Plan(
        PlanKind.ROLLBACK,
        env,
        gate,
        steps,
        to=latest.previous_version,
        rollback_target=target,
        reason=target.why,
        notes=(
            f"{env.env}: deployment {latest.id} left version {latest.version} live after a "
            f"failed rollback; moving back to version {latest.previous_version}",
        ),
    )


def needs_person(dep: Deployment, why: str) -> RollbackFailed:
    return RollbackFailed(
        f"{dep.env} NEEDS A PERSON: deployment {dep.id} ({dep.state.value}): {why}",
        hint=f"inspect the function, then `lambda-promote rollback {dep.env} --to VERSION`; "
        "`lambda-promote status` and `lambda-promote history` show what is live and what ran",
        payload={"deployment": dep},
    )
