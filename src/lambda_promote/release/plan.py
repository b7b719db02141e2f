"""The second stage of a release: decide, from the gathered facts, what a ``deploy`` or a
``run`` will do. Pure — no ledger, no target, no clock (the facts carry the time they were
read). Rollback and recovery are planned in rollback.py, where every rollback rule lives.

The gate is asked here, once per command, in the order its refusals are reported:

    nothing succeeded upstream  → source_not_verified
    provenance: the ledger's build record (not the manifest), attested with an audit key
    promotion rules (gate.check_promotion): not verified upstream, branch not allowed
    the upstream success, attested with an audit key → ledger_not_attested
    stored bytes no longer hash to the digest → artifact_tampered
    approval (the provider's facts; gate.check_admission for the built-in gate; with an
    audit key the granted request must be attested)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lambda_promote import gate
from lambda_promote.errors import GateBlocked
from lambda_promote.function_config import described
from lambda_promote.model import AliasState, Artifact
from lambda_promote.release import traffic_plan
from lambda_promote.release.models import (
    ApprovalFacts,
    ApprovalGrant,
    EnvFacts,
    GateDecision,
    Plan,
    PlanKind,
    ReleaseFacts,
    Step,
    StepAction,
)
from lambda_promote.release.rollback import (
    failure_target,
    plan_recovery,
    recovery_steps,
    verification_steps,
)
from lambda_promote.triggers import Plan as TriggerPlan


# --- the gate --------------------------------------------------------------------------------
def gate_decision(
    env: EnvFacts, release: ReleaseFacts
) -> tuple[GateDecision, ApprovalGrant | None]:
    """Whether ``release`` may enter ``env`` now, and the approval it would consume."""
    artifact = release.artifact
    try:
        if release.source_env and artifact is None:
            raise GateBlocked(
                f"nothing has succeeded in {release.source_env} yet, so nothing can be "
                f"promoted to {env.env}",
                hint=f"`lambda-promote deploy {release.source_env}` first",
                code="source_not_verified",
            )
        if release.provenance_problem is not None:
            return release.provenance_problem, None
        if artifact is not None:
            gate.check_promotion(
                env.env,
                env.spec,
                digest=artifact.digest,
                branch=release.branch,
                succeeded_in_source=release.succeeded_in_source,
            )
        elif env.spec.branches and not (
            release.branch and gate.branch_matches(release.branch, env.spec.branches)
        ):
            raise GateBlocked(
                f"{env.env} admits only branches {', '.join(env.spec.branches)}; this "
                f"checkout is on {release.branch or 'no known branch'}",
                hint="merge the change into an allowed branch and build there",
                code="branch_not_allowed",
            )
        if release.success_problem is not None:
            return release.success_problem, None
        if release.bytes_problem is not None:
            raise GateBlocked(
                release.bytes_problem,
                hint="the stored artifact changed after it was verified; rebuild and promote "
                "through staging again",
                code="artifact_tampered",
            )
    except GateBlocked as blocked:
        return GateDecision.blocked(blocked), None
    if release.approval is None or artifact is None:
        unknown = env.spec.approval is not None and artifact is None
        return GateDecision.open(
            "its approval is checked once the release is built" if unknown else "admitted"
        ), None
    return approval_verdict(release.approval, env=env.env, artifact=artifact)


def approval_verdict(
    facts: ApprovalFacts, *, env: str, artifact: Artifact
) -> tuple[GateDecision, ApprovalGrant | None]:
    """The approval that admits ``artifact`` into ``env``, or why there is none."""
    if facts.refused is not None:
        return facts.refused, None
    if facts.provider == "github":
        approvers = tuple(dict.fromkeys(d.reviewer for d in facts.decisions if d.approve))
        grant = ApprovalGrant(
            "github",
            env,
            artifact.digest,
            None,
            approvers,
            decisions=facts.decisions,
            run_id=facts.run_id,
        )
        return GateDecision.open(f"approved on GitHub by {', '.join(approvers)}"), grant
    rule, at = facts.rule, facts.now
    usable = [r for r in facts.requests if gate.evaluate(rule, r, at).granted]
    candidate = usable[0] if usable else (facts.requests[0] if facts.requests else None)
    if candidate is None:
        other = facts.newest_in_env
        candidate = other if other is not None and gate.evaluate(rule, other, at).granted else None
    try:
        gate.check_admission(rule, candidate, env_name=env, digest=artifact.digest, now=at)
    except GateBlocked as blocked:
        return GateDecision.blocked(blocked), None
    assert candidate is not None  # check_admission refuses None
    if candidate.id in facts.unattested:  # with a key: only what the trail attests
        return facts.unattested[candidate.id], None
    approvers = gate.evaluate(rule, candidate, at).approvers
    grant = ApprovalGrant("builtin", env, artifact.digest, candidate, approvers)
    return GateDecision.open(f"approved: {grant.summary}"), grant


# --- deploy ----------------------------------------------------------------------------------
def plan_deploy(env: EnvFacts, release: ReleaseFacts) -> Plan:
    """Everything a deploy of ``release`` to ``env`` will do, in order."""
    decision, grant = gate_decision(env, release)
    recoveries = plan_recovery(env)
    artifact = release.artifact
    steps: list[Step] = recovery_steps(recoveries)
    if artifact is None and release.source_env is None:
        steps.append(
            Step(
                StepAction.BUILD,
                "build the release: its sources changed since the last build, so its digest "
                "is known only then",
            )
        )
    if grant is not None:
        steps.append(Step(StepAction.CONSUME_APPROVAL, grant.summary))
    if env.functions:
        steps += release_steps(env, artifact, source=release.source_env)
    else:
        configure = configure_steps(env, release)
        steps += configure
        steps += publish_steps(env, artifact, source=release.source_env, configured=bool(configure))
    notes = []
    if env.drift is not None:
        notes.append(f"{env.env}: drift: {env.drift.detail}")
    if release.configured is not None:
        notes += [f"{env.env}: {note}" for note in release.configured.notes]
    if not env.spec.checks and not env.spec.alarms:
        notes.append(f"{env.env}: no checks configured; nothing verifies this version")
    return Plan(
        PlanKind.DEPLOY,
        env,
        decision,
        tuple(steps),
        release=artifact,
        rollback_target=failure_target(_ledger_alias(env)),
        approval=grant,
        recoveries=recoveries,
        notes=tuple(notes),
    )


def _ledger_alias(env: EnvFacts) -> AliasState:
    """Where a failure puts the alias back: where the ledger left it, never a version it does
    not know (someone's hand-moved alias, DESIGN §11.3)."""
    if env.drift is None:
        return env.alias
    return AliasState(env.drift.expected_version, digest=env.drift.expected_digest)


def configure_steps(env: EnvFacts, release: ReleaseFacts) -> list[Step]:
    """Apply the release's configuration before publishing, when it changes anything (or
    the ledger cannot tell what is live): the version then carries code and settings."""
    configured, changes = release.configured, release.configuration_changes
    if configured is None or not configured.effective.managed or changes == ():
        return []
    if changes:
        detail = "; ".join(changes)
    else:
        settings = described(configured.effective.to_json())
        detail = "apply " + "; ".join(f"{label} {text}" for label, text in settings)
    return [Step(StepAction.CONFIGURE, detail, function=env.fn.function_name)]


def publish_steps(
    env: EnvFacts, artifact: Artifact | None, *, source: str | None, configured: bool = False
) -> list[Step]:
    """Publish, shift and verify — per function of the release (today: the one).
    ``configured``: a configure step comes first, so even the live code is a new version."""
    unknown = f"what {source} verified" if source else "the new build"
    what = artifact.short if artifact is not None else unknown
    name = env.fn.function_name
    if artifact is not None and artifact.digest == env.alias.digest and not configured:
        return [
            Step(StepAction.PUBLISH, f"{what} is already live as version {env.alias.version}"),
            *verification_steps(env, phase="verify"),
        ]
    return [
        Step(StepAction.PUBLISH, f"{what} as a new version of {name}", function=name),
        *traffic_plan.before_full_shift(env, name),
        Step(
            StepAction.SHIFT,
            f"{name}:{env.fn.alias} from version {env.alias.version or '(none)'} to it",
            function=name,
            percent=100,
        ),
        *verification_steps(env, phase="verify"),
        *traffic_plan.after_full_shift(env, name),
    ]


def release_steps(env: EnvFacts, release: Artifact | None, *, source: str | None) -> list[Step]:
    """A many-function release (DESIGN §11.4): publish every function, then shift every
    alias, then verify them all; ``Step.function`` is the release's function name."""
    from lambda_promote.build.release import release_functions

    digests = (release_functions(release) if release is not None else None) or {}
    unknown = f"what {source} verified" if source else "the new build"
    publish, shift = [], []
    for name, fn, alias in env.functions:
        digest = digests.get(name)
        what = digest[:12] if digest else unknown
        if digest is not None and digest == alias.digest:
            publish.append(
                Step(
                    StepAction.PUBLISH,
                    f"{name}: {what} is already live as "
                    f"version {alias.version} of {fn.function_name}",
                    function=name,
                )
            )
            continue
        if fn.configuration.managed:
            settings = described(fn.configuration.to_json())
            detail = f"{name}: apply " + "; ".join(f"{label} {text}" for label, text in settings)
            publish.append(Step(StepAction.CONFIGURE, detail, function=name))
        publish.append(
            Step(
                StepAction.PUBLISH,
                f"{name}: {what} as a new version of {fn.function_name}",
                function=name,
            )
        )
        shift.append(
            Step(
                StepAction.SHIFT,
                f"{name}: {fn.function_name}:{fn.alias} from version "
                f"{alias.version or '(none)'} to it",
                function=name,
                percent=100,
            )
        )
    return [
        *publish,
        *traffic_plan.before_full_shift(env),
        *shift,
        *verification_steps(env, phase="verify"),
        *traffic_plan.after_full_shift(env),
    ]


# --- run -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunPlan:
    """What ``run`` does for an event: its environments in promotion order. The first one
    is planned in full; each later one starts from what the one before it leaves, so it is
    described, not planned."""

    trigger: TriggerPlan
    first: Plan | None
    then: tuple[str, ...]


def plan_run(
    trigger: TriggerPlan, first: Plan | None, *, sources: dict[str, str | None]
) -> RunPlan:
    """``sources``: each environment's ``promote_from``."""
    later: Sequence[str] = trigger.environments[1:]
    then = tuple(
        f"{env}: promote what {sources.get(env)} verified, through {env}'s gate"
        if sources.get(env)
        else f"{env}: deploy the same release"
        for env in later
    )
    return RunPlan(trigger, first, then)
