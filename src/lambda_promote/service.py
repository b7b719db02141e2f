"""The operations behind the commands: each takes a ``Workspace``, does one thing, and returns
model objects (or raises an error of errors.py). The CLI only parses, calls and renders.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_promote.errors import PromoteError, UsageError
from lambda_promote.model import AliasState, Artifact, Deployment, DeploymentState, FunctionRef
from lambda_promote.workspace import Workspace, lock_holder

if TYPE_CHECKING:
    from lambda_promote.build import BuildResult
    from lambda_promote.build.stamp import Recalled
    from lambda_promote.config.schema import Environment
    from lambda_promote.configuring import Configured
    from lambda_promote.deploy import Deployer
    from lambda_promote.drift import Drift
    from lambda_promote.journal import Listener
    from lambda_promote.ledger.base import LockInfo
    from lambda_promote.ui import UI


def build_unchanged(config_path: Path, ui: UI) -> Recalled | None:
    """The last build's artifact when neither promote.yaml nor any input changed since,
    found without loading the schema (build/stamp.py); ``None``: call ``build``."""
    from lambda_promote.build.inputs import cache_hit_message
    from lambda_promote.build.stamp import recall

    recalled = recall(config_path)
    if recalled is not None:
        with ui.task("building the artifact"):
            ui.step(cache_hit_message(recalled.artifact))
    return recalled


def build(ws: Workspace) -> BuildResult:
    from lambda_promote.build import build as build_artifact

    with ws.ui.task("building the artifact"):
        result = build_artifact(
            ws.config, store=ws.store, builder=ws.actor, progress=ws.ui.step,
            on_miss=_load_ledger_code_meanwhile,
        )  # fmt: skip
    if result.cached:
        # Nothing was built and nothing changed: the first build of these inputs recorded
        # the artifact and its audit event. Not opening the ledger keeps a cache hit fast.
        return result
    ws.ledger.record_artifact(result.artifact)
    art = result.artifact
    ws.audit(
        "artifact.built",
        digest=art.digest,
        details={
            "cached": result.cached,
            "size": art.size,
            "commit": art.commit,
            "branch": art.branch,
        },
    )
    return result


def _load_ledger_code_meanwhile() -> None:
    """A real build records its artifact in the ledger afterwards: import SQLAlchemy in the
    background while uv installs and zlib compresses (both release the GIL), instead of
    after them. A cache hit never gets here, and never loads it."""

    def load() -> None:
        import lambda_promote.ledger.sql  # noqa: F401

    threading.Thread(target=load, name="load-ledger-code", daemon=True).start()


def deployer(ws: Workspace, *, deployment_id: str | None = None) -> Deployer:
    from lambda_promote.deploy import Deployer, new_deployment_id
    from lambda_promote.journal import Journal
    from lambda_promote.notify.dispatch import deployment_listener
    from lambda_promote.reports.gather import report_listener, report_locator

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
    return Deployer(
        ledger=ws.ledger,
        target=ws.target,
        journal=journal,
        actor=ws.actor,
        holder=lock_holder(ws.actor),
        progress=ws.ui,
        on_lock_broken=lambda info: _record_lock_broken(ws, info, why="its process is gone"),
        new_id=(lambda: deployment_id) if deployment_id else new_deployment_id,
    )


def _environment(ws: Workspace, env: str) -> Environment:
    # Imported here: the loader brings pydantic, which a cache-hit build never needs.
    from lambda_promote.config.loader import require_env

    return require_env(ws.config, env)


def addressed(ws: Workspace, env: str) -> tuple[FunctionRef, str]:
    """The function of ``env`` addressed for one new deployment, and that deployment's id:
    the id names the AWS session, so CloudTrail shows who did what."""
    from lambda_promote.deploy import new_deployment_id

    deployment_id = new_deployment_id()
    return ws.function_ref(env, session_name=f"{ws.actor}-{deployment_id}"), deployment_id


def _record_lock_broken(ws: Workspace, info: LockInfo, *, why: str) -> None:
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


def artifact_for_deploy(ws: Workspace, env: str, digest: str | None) -> tuple[Artifact, Path]:
    """The artifact to deploy and its bytes, re-hashed before anything is written (§5.1):
    promoted from the source env, named by ``--artifact``, or built now."""
    from lambda_promote import promotion

    if ws.config.environments[env].promote_from:
        artifact = promotion.promotable_artifact(ws, env, digest)
        zip_path = promotion.verified_bytes(ws, artifact)
    else:
        artifact = build(ws).artifact if digest is None else ws.store.resolve(digest)
        zip_path = ws.store.verified_path(artifact.digest)
    ws.ledger.record_artifact(artifact)
    return artifact, zip_path


def deploy(ws: Workspace, env: str, *, artifact: str | None) -> Deployment:
    from lambda_promote import promotion
    from lambda_promote.deploy import raise_for_outcome

    spec = _environment(ws, env)
    chosen, zip_path = artifact_for_deploy(ws, env, artifact)
    # The gate decides now; its approval is taken under the environment lock, and taking it
    # is an atomic conditional update, so two deployments can never consume one approval.
    take_approval = promotion.admission(ws, env, chosen)
    fn, deployment_id = addressed(ws, env)
    configured = configuration_for(ws, env, chosen.digest)
    dep = deployer(ws, deployment_id=deployment_id).deploy(
        fn.configured(configured.effective),
        spec,
        chosen,
        zip_path,
        admit=take_approval,
        release_configuration=configured.release,
    )
    return raise_for_outcome(ws.ledger.get_deployment(dep.id) or dep)


def configuration_for(ws: Workspace, env: str, digest: str) -> Configured:
    """What ``env`` gets with the release ``digest`` (DESIGN §11.3): a promotion carries the
    release part its source verified; whatever differs from today's ``function:`` is said."""
    from lambda_promote.configuring import configured_for
    from lambda_promote.deploy import DRIFT_HISTORY

    source = ws.config.environments[env].promote_from
    history = ws.ledger.deployments(source, limit=DRIFT_HISTORY) if source else []
    configured = configured_for(ws.config, env, digest=digest, source_history=history)
    for note in configured.notes:
        ws.ui.warn(f"{env}: {note}")
    return configured


def rollback(ws: Workspace, env: str, *, to: str | None, reason: str) -> Deployment:
    """Manual/emergency rollback (DESIGN §5.4): resolve interrupted work first; then move the
    alias to ``to`` or to the last good version before the current one, and verify it."""
    from lambda_promote.deploy import raise_for_outcome

    spec = _environment(ws, env)
    fn, deployment_id = addressed(ws, env)
    runner = deployer(ws, deployment_id=deployment_id)
    undone = [d for d in runner.recover(fn, spec) if d.state is not DeploymentState.FAILED]
    if undone:
        # An interrupted deployment had moved traffic and was just rolled back: that *is*
        # the rollback the user asked for, so do not go one version further.
        ws.ui.warn(f"{env}: an interrupted deployment was rolled back; not rolling back further")
        last = undone[-1]
        return last if last.state is DeploymentState.ROLLED_BACK else raise_for_outcome(last)
    version, digest = rollback_target(ws, env, to)
    dep = runner.rollback_to(fn, spec, version=version, digest=digest, reason=reason or "manual")
    return raise_for_outcome(ws.ledger.get_deployment(dep.id) or dep)


def rollback_target(ws: Workspace, env: str, to: str | None) -> tuple[str, str]:
    from lambda_promote.history import candidate_from_good, rollback_candidate, was_ever_good

    fn = ws.function_ref(env)
    current = ws.target.alias_state(fn)
    history = list(reversed(ws.ledger.deployments(env, limit=None)))
    if to is None:
        candidate = rollback_candidate(history, current.version)
        if candidate is None and not history:
            # A fresh machine (a CI job) has no history: use what the function records.
            candidate = candidate_from_good(ws.target.good_versions(fn), current.version)
            if candidate is not None:
                ws.ui.warn(
                    f"{env}: the ledger has no history here; using the good versions "
                    f"recorded on {fn.function_name}"
                )
        if candidate is None:
            raise PromoteError(
                f"{env} has no earlier good version to roll back to "
                f"(live: {current.version or 'nothing'})",
                hint="a rollback only goes to a version that passed its checks before; "
                "use `--to VERSION` to choose one explicitly",
                code="no_rollback_target",
            )
        return candidate
    versions = ws.target.list_versions(fn)
    matches = [
        v
        for v in versions
        if to in (v.version, v.digest)
        or (len(to) >= 4 and not to.isdigit() and v.digest.startswith(to))
    ]
    if not matches:
        raise UsageError(
            f"{env}: no version {to!r} on {fn.function_name}",
            hint="`lambda-promote history " + env + "` lists the versions that were live",
        )
    chosen = matches[-1]
    if chosen.version == current.version:
        raise UsageError(f"{env}: version {chosen.version} is already live")
    if history and not was_ever_good(history, chosen.version):
        ws.ui.warn(f"{env}: version {chosen.version} never passed its checks here")
    return chosen.version, chosen.digest


@dataclass(frozen=True)
class EnvStatus:
    env: str
    function_name: str
    alias: str
    version: str | None
    digest: str | None
    deployed_at: str | None
    deployed_by: str | None
    in_flight: list[Deployment]
    lock: dict[str, Any] | None
    approvals: list[dict[str, Any]]
    drift: Drift | None = None


def status(ws: Workspace, env: str | None) -> list[EnvStatus]:
    from lambda_promote.deploy import lock_is_stale
    from lambda_promote.render import iso

    if env:
        _environment(ws, env)
    names = [env] if env else list(ws.config.environments)
    result = []
    for name in names:
        fn = ws.function_ref(name)
        alias = ws.target.alias_state(fn)
        live = _deployment_of(ws, name, alias.version)
        info = ws.ledger.lock_info(name)
        lock = None
        if info is not None:
            lock = {
                "holder": info.holder,
                "deployment_id": info.deployment_id,
                "since": iso(info.since),
                "stale": lock_is_stale(info),
            }
        drift = _drift(ws, fn, alias)
        result.append(
            EnvStatus(
                drift=drift,
                env=name,
                function_name=fn.function_name,
                alias=fn.alias,
                version=alias.version,
                digest=alias.digest,
                deployed_at=iso(live.updated_at) if live else None,
                deployed_by=live.actor if live else None,
                in_flight=ws.ledger.unfinished(name),
                lock=lock,
                approvals=pending_approvals(ws, name),
            )
        )
    return result


def _drift(ws: Workspace, fn: FunctionRef, alias: AliasState) -> Drift | None:
    """DESIGN §11.3: the alias points at a version the ledger did not put there."""
    from lambda_promote.deploy import DRIFT_HISTORY, live_configuration
    from lambda_promote.drift import environment_drift

    history = ws.ledger.deployments(fn.env, limit=DRIFT_HISTORY)
    drift, _ = environment_drift(
        history, alias, read_configuration=lambda v: live_configuration(ws.target, fn, v)
    )
    return drift


def pending_approvals(ws: Workspace, env: str) -> list[dict[str, Any]]:
    """Open requests of ``env`` that can still admit a deployment, with what they lack."""
    from lambda_promote import gate
    from lambda_promote.model import RequestState
    from lambda_promote.render import request_json

    rule = ws.config.environments[env].approval
    if rule is None or rule.provider != "builtin":
        return []
    now = datetime.now(UTC)
    pending = []
    for request in ws.ledger.requests(env=env, states=[RequestState.OPEN], limit=20):
        verdict = gate.evaluate(rule, request, now)
        if verdict.state in ("open", "granted"):
            pending.append(request_json(request, verdict))
    return pending


def _deployment_of(ws: Workspace, env: str, version: str | None) -> Deployment | None:
    """The most recent deployment that left ``version`` live (a deploy, a manual rollback,
    or a deployment rolled back to it). Reads a bounded page, so ``status`` does not slow
    down as history grows; older than that, the version is shown without who and when."""
    if version is None:
        return None
    finished = ws.ledger.deployments(
        env, states=[DeploymentState.SUCCEEDED, DeploymentState.ROLLED_BACK], limit=50
    )
    for dep in finished:
        live_after = (
            dep.previous_version if dep.state is DeploymentState.ROLLED_BACK else dep.version
        )
        if live_after == version:
            return dep
    return None


def show(ws: Workspace, deployment_id: str) -> Deployment:
    dep = ws.ledger.get_deployment(deployment_id)
    if dep is None:
        raise UsageError(
            f"no deployment {deployment_id!r}",
            hint="`lambda-promote history` lists deployments with their ids",
        )
    return dep


def unlock(ws: Workspace, env: str, deployment_id: str) -> dict[str, Any]:
    from lambda_promote.render import iso

    _environment(ws, env)
    info = ws.ledger.break_lock(env, deployment_id)
    _record_lock_broken(ws, info, why="unlocked by hand")
    ws.ui.warn(f"{env}: lock of {info.holder} (deployment {info.deployment_id}) broken")
    return {
        "env": env,
        "holder": info.holder,
        "deployment_id": info.deployment_id,
        "since": iso(info.since),
    }
