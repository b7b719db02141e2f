"""What the read-mostly commands show and do: ``status`` (what is live where, locks, pending
approvals, deployments in flight), ``show`` and ``unlock``. Each takes a ``Workspace`` and
returns model objects (or raises an error of errors.py); the CLI only parses, calls, renders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lambda_promote.errors import UsageError
from lambda_promote.model import AliasState, Deployment, DeploymentState, FunctionRef
from lambda_promote.workspace import Workspace

if TYPE_CHECKING:
    from lambda_promote.drift import Drift


def _environment(ws: Workspace, env: str) -> None:
    # Imported here: the loader brings pydantic, which a cache-hit build never needs.
    from lambda_promote.config.lookup import require_env

    require_env(ws.config, env)


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
    drift: Drift | None = None  # DESIGN §11.3
    # DESIGN §11.5: the alias's weights now (other version → share); empty outside a shift.
    weights: dict[str, float] = field(default_factory=dict)
    # A many-function release (DESIGN §11.4): each function's Lambda name, live version,
    # digest and drift. None for a single function (the fields above say it all).
    functions: dict[str, FunctionStatus] | None = None

    def to_json(self) -> dict[str, Any]:
        """``status --json``'s ``environments.ENV`` (DESIGN §4, §11.3, §11.4): ``functions``
        only for a many-function release, so a single function's answer is unchanged."""
        body: dict[str, Any] = {
            "version": self.version,
            "digest": self.digest,
            "deployed_at": self.deployed_at,
            "deployed_by": self.deployed_by,
            "function_name": self.function_name,
            "alias": self.alias,
            "in_flight": [{"id": d.id, "state": d.state.value} for d in self.in_flight],
            "lock": self.lock,
            "approvals": self.approvals,
            "drift": self.drift.to_json() if self.drift else None,
            "weights": self.weights,
        }
        if self.functions:
            body["functions"] = {name: f.to_json() for name, f in self.functions.items()}
        return body


@dataclass(frozen=True)
class FunctionStatus:
    function_name: str
    version: str | None
    digest: str | None
    drift: Drift | None
    weights: dict[str, float] = field(default_factory=dict)  # DESIGN §11.5, during a shift

    def to_json(self) -> dict[str, Any]:
        return {
            "function_name": self.function_name,
            "version": self.version,
            "digest": self.digest,
            "drift": self.drift.to_json() if self.drift else None,
        }


def status(ws: Workspace, env: str | None) -> list[EnvStatus]:
    if env:
        _environment(ws, env)
    names = [env] if env else list(ws.config.environments)
    return [_env_status(ws, name) for name in names]


def _env_status(ws: Workspace, name: str) -> EnvStatus:
    from lambda_promote.deploy import lock_is_stale
    from lambda_promote.output import iso

    functions = _functions(ws, name) if ws.config.many else None
    if functions:
        first = next(iter(functions.values()))
        live, release = _release_of(ws, name, functions)
        fn_name, version = first.function_name, first.version
        digest = release or first.digest
        drift = next((f.drift for f in functions.values() if f.drift), None)
        weights = first.weights
        alias_name = ws.function_ref(name).alias
    else:
        fn = ws.function_ref(name)
        alias = ws.target.alias_state(fn)
        live = _deployment_of(ws, name, alias.version)
        fn_name, alias_name, version, digest = (
            fn.function_name,
            fn.alias,
            alias.version,
            alias.digest,
        )
        drift = _drift(ws, fn, alias, _recent(ws, name))
        weights = dict(alias.weights)
    info = ws.ledger.lock_info(name)
    lock = None
    if info is not None:
        lock = {
            "holder": info.holder,
            "deployment_id": info.deployment_id,
            "since": iso(info.since),
            "stale": lock_is_stale(info),
        }
    return EnvStatus(
        drift=drift,
        env=name,
        function_name=fn_name,
        alias=alias_name,
        version=version,
        digest=digest,
        deployed_at=iso(live.updated_at) if live else None,
        deployed_by=live.actor if live else None,
        in_flight=ws.ledger.unfinished(name),
        lock=lock,
        approvals=pending_approvals(ws, name),
        functions=functions,
        weights=weights,
    )


def _functions(ws: Workspace, env: str) -> dict[str, FunctionStatus]:
    """Each function of a many-function release as its alias says now, with its drift (the
    ledger's recent history read once for all of them)."""
    history = _recent(ws, env)
    result = {}
    for name, fn in ws.function_refs(env).items():
        alias = ws.target.alias_state(fn)
        result[name] = FunctionStatus(
            function_name=fn.function_name,
            version=alias.version,
            digest=alias.digest,
            drift=_drift(ws, fn, alias, history, name),
            weights=dict(alias.weights),
        )
    return result


def in_flight_json(ws: Workspace, dep: Deployment) -> dict[str, Any]:
    """One deployment still running, as ``status --json`` lists it: with its shift's share,
    next step and who started it when it shifts progressively (DESIGN §11.5)."""
    from lambda_promote.traffic import TrafficError, parse_traffic, shift_view

    try:
        strategy = parse_traffic(ws.config.environment(dep.env).traffic)
    except (TrafficError, KeyError):
        strategy = parse_traffic("all-at-once")
    view = shift_view(dep.traffic, strategy)
    return {"id": dep.id, "state": dep.state.value, "started_by": dep.actor, "traffic": view}


def shift_line(dep: dict[str, Any], weights: dict[str, float]) -> str:
    """``shifting: 10% (step 1 of 2, alias weights 2=10%), next step at …, started by ana``"""
    view = dep["traffic"]
    live = ", ".join(f"{v}={w:.1%}" for v, w in weights.items()) or "none"
    due = f", next step at {view['next_step_at']}" if view["next_step_at"] else ""
    return (
        f"shifting: {view['percent']:g}% (step {view['step']} of {view['steps']}, alias "
        f"weights {live}){due}, started by {dep['started_by']}"
    )


def _release_of(
    ws: Workspace, env: str, functions: dict[str, FunctionStatus]
) -> tuple[Deployment | None, str | None]:
    """The most recent finished deployment that left every function where it is live now
    (who and when), and the release that put them there: the newest succeeded deployment
    whose functions are those versions (a rolled-back one's digest is the release that
    failed). None when the functions match no one release."""
    from lambda_promote.drift import as_function

    finished = ws.ledger.deployments(
        env, states=[DeploymentState.SUCCEEDED, DeploymentState.ROLLED_BACK], limit=50
    )
    live: Deployment | None = None
    for dep in finished:
        if dep.functions is None:
            continue
        views = {name: as_function(dep, name) for name in functions}
        if not all(_live_after(views[n]) == f.version for n, f in functions.items()):
            continue
        live = live or dep
        if dep.state is DeploymentState.SUCCEEDED:
            return live, dep.digest
    return live, None


def _live_after(dep: Deployment) -> str | None:
    return dep.previous_version if dep.state is DeploymentState.ROLLED_BACK else dep.version


def _recent(ws: Workspace, env: str) -> list[Deployment]:
    from lambda_promote.deploy import DRIFT_HISTORY

    return ws.ledger.deployments(env, limit=DRIFT_HISTORY)


def _drift(
    ws: Workspace,
    fn: FunctionRef,
    alias: AliasState,
    recent: list[Deployment],
    function: str | None = None,
) -> Drift | None:
    """DESIGN §11.3: the alias points at a version the ledger did not put there (for one
    function of a many-function release: as that function saw ``recent``)."""
    from lambda_promote.deploy import live_configuration
    from lambda_promote.drift import environment_drift, function_history

    drift, _ = environment_drift(
        function_history(recent, function),
        alias,
        read_configuration=lambda v: live_configuration(ws.target, fn, v),
    )
    return drift


def pending_approvals(ws: Workspace, env: str) -> list[dict[str, Any]]:
    """Open requests of ``env`` that can still admit a deployment, with what they lack."""
    from lambda_promote import gate
    from lambda_promote.model import RequestState
    from lambda_promote.output import request_json

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
        if _live_after(dep) == version:
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
    from lambda_promote.output import iso
    from lambda_promote.release.execute import record_lock_broken

    _environment(ws, env)
    info = ws.ledger.break_lock(env, deployment_id)
    record_lock_broken(ws, info, why="unlocked by hand")
    ws.ui.warn(f"{env}: lock of {info.holder} (deployment {info.deployment_id}) broken")
    return {
        "env": env,
        "holder": info.holder,
        "deployment_id": info.deployment_id,
        "since": iso(info.since),
    }
