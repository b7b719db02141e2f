"""The first stage of a release: read the ledger, the artifact store and the target once,
into the frozen facts of models.py. Nothing here decides; ``plan``/``rollback`` do.

Reads only — with one exception the caller asks for by name: a real ``deploy`` without
``--artifact`` builds the release first (``build=True``; Chalice's build stage), while a dry
run takes the last build when nothing changed since, and otherwise plans a ``build`` step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lambda_promote.errors import ArtifactError, GateBlocked
from lambda_promote.model import AliasState, Artifact, Deployment, FunctionRef
from lambda_promote.release.models import EnvFacts, GateDecision, ReleaseFacts, RollbackFacts

if TYPE_CHECKING:
    from lambda_promote.configuring import Configured
    from lambda_promote.drift import Drift
    from lambda_promote.ledger.base import Ledger
    from lambda_promote.release.approvals import ApprovalProvider
    from lambda_promote.workspace import Workspace


def now() -> datetime:
    return datetime.now(UTC)


def gather_env(ws: Workspace, env: str, *, ledger: Ledger, changing: bool = False) -> EnvFacts:
    """The environment as it is: where the alias points, who holds the lock, what a dead
    process left unfinished. The function is addressed for the deployment about to start
    (its id names the AWS session, so CloudTrail shows who did what). ``changing``: a real
    run that will move the alias (see ``Target.alias_state``)."""
    from lambda_promote.config.lookup import require_env
    from lambda_promote.deploy import lock_is_stale, new_deployment_id

    spec = require_env(ws.config, env)
    deployment_id = new_deployment_id()
    fn = ws.function_ref(env, session_name=f"{ws.actor}-{deployment_id}")
    lock = ledger.lock_info(env)
    alias = ws.target.alias_state(fn, changing=changing)
    functions: tuple[tuple[str, FunctionRef, AliasState], ...] = ()
    if ws.config.many:
        refs = ws.function_refs(env, session_name=fn.session_name)
        functions = tuple(
            (name, ref, alias if i == 0 else ws.target.alias_state(ref, changing=changing))
            for i, (name, ref) in enumerate(refs.items())
        )
    return EnvFacts(
        env=env,
        spec=spec,
        fn=fn,
        deployment_id=deployment_id,
        alias=alias,
        lock=lock,
        lock_stale=lock is not None and lock_is_stale(lock),
        unfinished=tuple(ledger.unfinished(env)),
        drift=_first_drift(ws, functions, ledger=ledger)
        if functions
        else gather_drift(ws, fn, alias, ledger=ledger),
        functions=functions,
    )


def gather_drift(
    ws: Workspace, fn: FunctionRef, alias: AliasState, *, ledger: Ledger, function: str = ""
) -> Drift | None:
    """DESIGN §11.3: whether the alias points at a version the ledger did not put there; the
    live version's configuration is read only then. ``function``: which function of a
    many-function release ``fn`` is (drift is per function)."""
    from lambda_promote.deploy import DRIFT_HISTORY, live_configuration
    from lambda_promote.drift import environment_drift, function_history

    history = function_history(ledger.deployments(fn.env, limit=DRIFT_HISTORY), function)
    drift, _ = environment_drift(
        history, alias, read_configuration=lambda v: live_configuration(ws.target, fn, v)
    )
    return drift


def _first_drift(
    ws: Workspace, functions: Sequence[tuple[str, FunctionRef, AliasState]], *, ledger: Ledger
) -> Drift | None:
    """The first function of the release whose alias drifted, told with its name."""
    for name, ref, alias in functions:
        drift = gather_drift(ws, ref, alias, ledger=ledger, function=name)
        if drift is not None:
            return replace(drift, detail=f"{name}: {drift.detail}")
    return None


def gather_configuration(
    ws: Workspace, env: str, digest: str, *, ledger: Ledger
) -> tuple[Configured, tuple[str, ...] | None]:
    """What ``env`` runs the release ``digest`` with (a promotion: the release part its
    source verified, configuring.py) and what that changes against what is live there."""
    from lambda_promote.configuring import changes_against_live, configured_for
    from lambda_promote.deploy import DRIFT_HISTORY

    source = ws.config.environments[env].promote_from
    source_history = ledger.deployments(source, limit=DRIFT_HISTORY) if source else []
    configured = configured_for(ws.config, env, digest=digest, source_history=source_history)
    changes = changes_against_live(ledger.deployments(env, limit=DRIFT_HISTORY), configured)
    return configured, None if changes is None else tuple(changes)


def gather_release(
    ws: Workspace,
    env: EnvFacts,
    digest: str | None,
    *,
    ledger: Ledger,
    provider: ApprovalProvider | None,
    build: bool,
) -> ReleaseFacts:
    """The release ``env`` would receive — promoted from its source (by default the latest
    success there), named by ``--artifact``, or built — with what its gate needs: its
    provenance from the ledger's build record, and (with an audit key) whether the keyed
    trail backs that record and the upstream success."""
    from lambda_promote import attested

    attested.warn_if_unkeyed(ws, env.spec)
    source = env.spec.promote_from
    if source:
        from lambda_promote.promotion import succeeded_digests  # promotions only: not deploy

        succeeded = tuple(succeeded_digests(ledger, source))
        if digest is None and not succeeded:
            return ReleaseFacts(None, None, None, source_env=source)
        artifact, provenance = _provenance(ws, ws.store.resolve(digest or succeeded[0]), env)
        zip_path, problem = _verified(ws, artifact)
        facts = ReleaseFacts(
            artifact,
            zip_path,
            artifact.branch,
            source_env=source,
            succeeded_in_source=succeeded,
            bytes_problem=problem,
            provenance_problem=provenance,
            success_problem=_refusal(lambda: attested.require_success(ws, source, artifact.digest)),
        )
    else:
        chosen = _chosen_or_built(ws, digest, build=build)
        if chosen is None:
            unbuilt = ReleaseFacts(None, None, _checkout_branch(ws.root))
            return _with_configuration(ws, env, unbuilt, ledger=ledger)
        artifact, provenance = _provenance(ws, chosen, env)
        facts = ReleaseFacts(
            artifact,
            ws.store.verified_path(artifact.digest),
            artifact.branch,
            provenance_problem=provenance,
        )
    facts = _with_configuration(ws, env, facts, ledger=ledger)
    if provider is None or env.spec.approval is None or facts.artifact is None:
        return facts
    approval = provider.read(env.env, facts.artifact, env.spec.approval, now=now())
    return replace(facts, approval=approval)


def _with_configuration(
    ws: Workspace, env: EnvFacts, facts: ReleaseFacts, *, ledger: Ledger
) -> ReleaseFacts:
    """``facts`` with the configuration the release runs with; known before the build too
    (a fresh release's is promote.yaml's)."""
    digest = facts.artifact.digest if facts.artifact is not None else ""
    configured, changes = gather_configuration(ws, env.env, digest, ledger=ledger)
    return replace(facts, configured=configured, configuration_changes=changes)


def _provenance(
    ws: Workspace, artifact: Artifact, env: EnvFacts
) -> tuple[Artifact, GateDecision | None]:
    """``artifact`` with the ledger's commit, branch and builder (never the manifest's, which
    the digest does not cover), or why the gate cannot trust where it came from."""
    from lambda_promote import attested

    try:
        return attested.provenance(ws, artifact, env.spec), None
    except GateBlocked as blocked:
        return artifact, GateDecision.blocked(blocked)


def _refusal(check: Callable[[], None]) -> GateDecision | None:
    """A gate check that raises, as a fact for the plan."""
    try:
        check()
    except GateBlocked as blocked:
        return GateDecision.blocked(blocked)
    return None


def _verified(ws: Workspace, artifact: Artifact) -> tuple[Path | None, str | None]:
    """The stored zip, re-hashed (DESIGN §5.1); bytes that no longer match the digest that
    succeeded upstream are a gate refusal, decided by the plan."""
    from lambda_promote.build.release import release_functions

    try:
        path = ws.store.verified_path(artifact.digest)
        for name, digest in (release_functions(artifact) or {}).items():
            try:  # every function of a release: its bytes too (DESIGN §11.4)
                ws.store.verified_path(digest)
            except ArtifactError as error:
                return None, f"{name}: {error.message}"
    except ArtifactError as error:
        return None, error.message
    return path, None


def _chosen_or_built(ws: Workspace, digest: str | None, *, build: bool) -> Artifact | None:
    if digest is not None:
        return ws.store.resolve(digest)
    if build:
        from lambda_promote.building import build as build_release

        return build_release(ws).artifact
    from lambda_promote.build.stamp import recall

    recalled = recall(ws.config.path)
    return recalled.artifact if recalled is not None else None


def _checkout_branch(root: Path) -> str | None:
    from lambda_promote.build.provenance import read_provenance

    return read_provenance(root).branch


def gather_rollback(
    ws: Workspace, env: EnvFacts, *, ledger: Ledger, to: str | None
) -> RollbackFacts:
    """What a manual rollback chooses from; the target is asked only for what the ledger
    cannot answer (its own record of good versions on a machine with no history here)."""
    history: Sequence[Deployment] = list(reversed(ledger.deployments(env.env, limit=None)))
    if to is not None:
        return RollbackFacts(tuple(history), versions=tuple(ws.target.list_versions(env.fn)))
    good = () if history else tuple(ws.target.good_versions(env.fn))
    return RollbackFacts(tuple(history), good_on_target=good)
