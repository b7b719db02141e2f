"""The third stage of a release: carry a plan out, step by step, through the deployment state
machine (``deploy.Deployer``) and its journal — each step recorded in the ledger before the
side effect it announces (DESIGN §5.5, §6). ``display.py`` prints the same plan instead.

The executor trusts the plan's decisions (the gate's verdict, the version to roll back to) and
re-reads only what must be read under the environment lock: interrupted work, and the alias
after recovery moved it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambda_promote.model import Deployment, DeploymentState
from lambda_promote.release.models import Plan, PlanKind, ReleaseFacts

if TYPE_CHECKING:
    from lambda_promote.deploy import Deployer
    from lambda_promote.journal import Listener
    from lambda_promote.ledger.base import LockInfo
    from lambda_promote.release.approvals import ApprovalProvider
    from lambda_promote.workspace import Workspace


def deployer(ws: Workspace, *, deployment_id: str | None = None) -> Deployer:
    """The state machine wired to the ledger, the target, the audit trail, the notifiers and
    the reports of ``ws``."""
    from lambda_promote.deploy import Deployer, new_deployment_id
    from lambda_promote.journal import Journal
    from lambda_promote.notify.dispatch import deployment_listener
    from lambda_promote.reports.gather import report_listener, report_locator
    from lambda_promote.workspace import lock_holder

    def commit_of(dep: Deployment) -> str | None:
        artifact = ws.ledger.find_artifact(dep.digest)
        return artifact.commit if artifact else None

    listeners = [  # in this order: the report lists the notifications the audit recorded
        audit_listener(ws),
        deployment_listener(
            ws.config.notifications,
            on_delivery=ws.deliveries,
            report_locator=report_locator(ws),
            project=ws.config.project,
            commit_of=commit_of,
        ),
        report_listener(
            ws,
            on_written=lambda d, paths: ws.ui.detail(f"report: {paths['html']}"),
            deliveries=ws.deliveries,
        ),
    ]
    journal = Journal(
        ws.ledger,
        listeners=listeners,
        on_listener_error=lambda event, error: ws.ui.warn(f"while recording {event}: {error}"),
    )
    wiring: dict[str, Any] = {}
    cls: type[Deployer] = Deployer
    if ws.config.many:  # any command may find a release's interrupted deployment
        from lambda_promote.deploy_release import ReleaseDeployer

        cls, wiring = ReleaseDeployer, {"fns_for": ws.function_refs}
    return cls(
        **wiring,
        ledger=ws.ledger,
        target=ws.target,
        journal=journal,
        actor=ws.actor,
        holder=lock_holder(ws.actor),
        progress=ws.ui,
        on_lock_broken=lambda info: record_lock_broken(ws, info, why="its process is gone"),
        new_id=(lambda: deployment_id) if deployment_id else new_deployment_id,
    )


def audit_listener(ws: Workspace) -> Listener:
    """Every deployment step becomes an audit event (DESIGN §5.7)."""

    def record(event: str, dep: Deployment, details: dict[str, Any]) -> None:
        ws.audit(
            event,
            env=dep.env,
            digest=dep.digest,
            reason=dep.reason,
            details={
                "deployment": dep.id,
                "kind": dep.kind.value,
                "state": dep.state.value,
                "version": dep.version,
                "previous_version": dep.previous_version,
                **details,
            },
        )

    return record


def record_lock_broken(ws: Workspace, info: LockInfo, *, why: str) -> None:
    """A broken lock is told to people and kept in the audit trail."""
    from lambda_promote.notify.events import lock_broken_event

    ws.notify(
        lock_broken_event(
            info.env,
            actor=ws.actor,
            holder=info.holder,
            deployment_id=info.deployment_id,
            reason=why,
            project=ws.config.project,
        )
    )
    ws.audit(
        "lock.broken",
        env=info.env,
        reason=why,
        details={
            "holder": info.holder,
            "deployment": info.deployment_id,
            "since": info.since.isoformat(),
        },
    )


def execute_deploy(
    ws: Workspace, plan: Plan, release: ReleaseFacts, *, provider: ApprovalProvider | None
) -> Deployment:
    """Carry out a deploy plan whose gate admitted the release."""
    from lambda_promote.outcome import raise_for_outcome

    artifact, zip_path = release.artifact, release.zip_path
    assert artifact is not None, "a real run builds before planning"
    assert zip_path is not None, "the plan admitted only verified bytes"
    ws.ledger.record_artifact(artifact)
    if plan.env.functions:
        from lambda_promote.release.together import execute_release

        runner = deployer(ws, deployment_id=plan.env.deployment_id)
        return execute_release(ws, plan, artifact, admit=_admission(plan, provider), runner=runner)
    admit = _admission(plan, provider)
    env = plan.env
    fn, configured = env.fn, release.configured
    if configured is not None:
        # What the release runs with here (a promotion: what its source verified, §11.3).
        fn = fn.configured(configured.effective)
        for note in configured.notes:
            ws.ui.warn(f"{env.env}: {note}")
    dep = deployer(ws, deployment_id=env.deployment_id).deploy(
        fn,
        env.spec,
        artifact,
        zip_path,
        admit=admit,
        alias=env.alias,
        release_configuration=configured.release if configured is not None else None,
    )
    return raise_for_outcome(ws.ledger.get_deployment(dep.id) or dep)


def _admission(plan: Plan, provider: ApprovalProvider | None) -> Callable[[str], None] | None:
    """The gate's last word, under the lock: consume the approval the plan found."""
    grant = plan.approval
    if grant is None or provider is None:
        return None

    def admit(deployment_id: str) -> None:
        provider.consume(grant, deployment_id)

    return admit


def execute_rollback(ws: Workspace, plan: Plan) -> Deployment | None:
    """Resolve interrupted work, then move the alias to the plan's target and verify it.
    ``None`` when the plan had no target and recovery did not undo anything (the caller
    plans again)."""
    from lambda_promote.outcome import raise_for_outcome

    env = plan.env
    runner = deployer(ws, deployment_id=env.deployment_id)
    undone = [d for d in runner.recover(env.fn, env.spec) if d.state is not DeploymentState.FAILED]
    if undone:
        # An interrupted deployment had moved traffic and was just rolled back: that *is*
        # the rollback the user asked for, so do not go one version further.
        ws.ui.warn(
            f"{env.env}: an interrupted deployment was rolled back; not rolling back further"
        )
        last = undone[-1]
        return last if last.state is DeploymentState.ROLLED_BACK else raise_for_outcome(last)
    target = plan.rollback_target
    if plan.kind is not PlanKind.ROLLBACK or target is None or target.version is None:
        return None
    for note in plan.notes:
        ws.ui.warn(note)
    dep = runner.rollback_to(
        env.fn,
        env.spec,
        version=target.version,
        digest=str(target.digest),
        reason=plan.reason or "manual",
        alias=env.alias,
    )
    return raise_for_outcome(ws.ledger.get_deployment(dep.id) or dep)
