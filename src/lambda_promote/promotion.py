"""Promotion behind the gate (DESIGN §5.1–§5.3), the I/O side: load what ``gate`` needs from
the ledger, the store and git, ask it, and record the answer.

Nothing reaches an environment with ``promote_from`` unless it succeeded there; nothing
reaches an environment with ``approval`` without a granted request for that very digest,
which the one deployment it admits consumes.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_promote import attested, gate
from lambda_promote.config.lookup import require_env
from lambda_promote.errors import ArtifactError, GateBlocked, UsageError
from lambda_promote.model import (
    ApprovalDecision,
    ApprovalRequest,
    Artifact,
    ConfigurationEvidence,
    DeploymentKind,
    DeploymentState,
    Evidence,
    RequestState,
    SourceEvidence,
)
from lambda_promote.workspace import Workspace

if TYPE_CHECKING:
    from lambda_promote.config.schema import Approval, Environment
    from lambda_promote.ledger.base import Ledger


def now() -> datetime:
    return datetime.now(UTC)


def succeeded_digests(ledger: Ledger, env: str) -> list[str]:
    """Digests a deployment verified in ``env``, newest first."""
    deps = ledger.deployments(env, states=[DeploymentState.SUCCEEDED], limit=None)
    return list(dict.fromkeys(d.digest for d in deps if d.kind is DeploymentKind.DEPLOY))


def promotable_artifact(ws: Workspace, env_name: str, digest: str | None) -> Artifact:
    """The artifact ``env_name`` may receive: by default the latest success in its source."""
    spec = require_env(ws.config, env_name)
    if spec.promote_from is None:
        raise UsageError(f"{env_name} does not promote from another environment")
    succeeded = succeeded_digests(ws.ledger, spec.promote_from)
    if digest is None:
        if not succeeded:
            raise GateBlocked(
                f"nothing has succeeded in {spec.promote_from} yet, so nothing can be "
                f"promoted to {env_name}",
                hint=f"`lambda-promote deploy {spec.promote_from}` first",
                code="source_not_verified",
            )
        artifact = ws.store.resolve(succeeded[0])
    else:
        artifact = ws.store.resolve(digest)
    artifact = attested.provenance(ws, artifact, spec)  # the ledger's, not the manifest's
    gate.check_promotion(
        env_name,
        spec,
        digest=artifact.digest,
        branch=artifact.branch,
        succeeded_in_source=succeeded,
    )
    attested.require_success(ws, spec.promote_from, artifact.digest)
    return artifact


def verified_bytes(ws: Workspace, artifact: Artifact) -> Path:
    """The stored zip, re-hashed: bytes that no longer match the digest that succeeded
    upstream are not that release, so the gate refuses them (DESIGN §5.1)."""
    try:
        return ws.store.verified_path(artifact.digest)
    except ArtifactError as error:
        raise GateBlocked(
            error.message,
            hint="the stored artifact changed after it was verified; rebuild and promote "
            "through staging again",
            code="artifact_tampered",
        ) from error


def approval_rule(ws: Workspace, env_name: str, *, deciding: bool = False) -> Approval:
    """The env's approval rule. ``deciding``: for ``approve``/``reject``, which only the
    built-in gate takes — with ``provider: github`` people decide in GitHub."""
    spec = require_env(ws.config, env_name)
    if spec.approval is None:
        raise UsageError(
            f"{env_name} has no approval rule",
            hint=f"add `approval:` to environments.{env_name} in promote.yaml",
        )
    if deciding and spec.approval.provider == "github":
        raise UsageError(
            f"{env_name} takes its approvals from GitHub (approval.provider: github)",
            hint="approve the deployment in the GitHub Actions run; the deploy job reads and "
            "records who approved",
        )
    return spec.approval


# --- requests ------------------------------------------------------------------------------
def request_approval(ws: Workspace, env_name: str, digest: str | None) -> ApprovalRequest:
    rule = approval_rule(ws, env_name)
    spec = require_env(ws.config, env_name)
    artifact = (
        promotable_artifact(ws, env_name, digest)
        if spec.promote_from
        else _branch_checked(ws, env_name, spec, digest)
    )
    at = now()
    for existing in ws.ledger.requests(env=env_name, digest=artifact.digest):
        if gate.evaluate(rule, existing, at).state in ("open", "granted"):
            ws.ui.warn(f"request {existing.id} for {artifact.short} in {env_name} is already open")
            return existing
    request = ApprovalRequest(
        id=f"r-{secrets.token_hex(4)}",
        env=env_name,
        digest=artifact.digest,
        requested_by=ws.actor,
        requested_at=at,
        expires_at=at + timedelta(hours=rule.expires_after_hours),
        built_by=artifact.builder,
        branch=artifact.branch,
        evidence=_evidence(ws, env_name, spec, artifact),
    )
    ws.ledger.create_request(request)
    announce(ws, "approval.requested", request)
    ws.audit(
        "approval.requested",
        env=env_name,
        digest=artifact.digest,
        details={
            "request": request.id,
            "reviewers": rule.reviewers,
            # What the gate reads from the request row, so the trail can back it.
            "requested_at": request.requested_at.isoformat(),
            "expires_at": request.expires_at.isoformat(),
            "built_by": request.built_by,
        },
    )
    return request


def _branch_checked(
    ws: Workspace, env_name: str, spec: Environment, digest: str | None
) -> Artifact:
    if digest is None:
        raise UsageError(
            f"name the artifact: `lambda-promote request-approval {env_name} --artifact DIGEST`"
        )
    artifact = attested.provenance(ws, ws.store.resolve(digest), spec)
    gate.check_promotion(
        env_name, spec, digest=artifact.digest, branch=artifact.branch, succeeded_in_source=()
    )
    return artifact


def _evidence(
    ws: Workspace, env_name: str, spec: Environment, artifact: Artifact
) -> dict[str, Any]:
    """What a reviewer needs: what changes, how it fared upstream, what a rollback restores."""
    live = ws.target.alias_state(ws.function_ref(env_name))
    live_artifact = ws.ledger.find_artifact(live.digest) if live.digest else None
    source = None
    if spec.promote_from:
        verified = [
            d
            for d in ws.ledger.deployments(spec.promote_from, limit=None)
            if d.digest == artifact.digest and d.state is DeploymentState.SUCCEEDED
        ]
        if verified:
            full = ws.ledger.get_deployment(verified[0].id)
            source = SourceEvidence(
                env=spec.promote_from,
                deployment=verified[0].id,
                checks=tuple(c.to_json() for c in (full.checks if full else [])),
            )
    return Evidence(
        live_version=live.version,
        live_digest=live.digest,
        rollback_restores=live.version,
        commit=artifact.commit,
        branch=artifact.branch,
        built_by=artifact.builder,
        commits=tuple(
            _commits_between(ws, live_artifact.commit if live_artifact else None, artifact.commit)
        ),
        source=source,
        configuration=configuration_evidence(ws, env_name, artifact.digest),
        functions=function_evidence(ws, env_name, artifact),
    ).to_json()


def function_evidence(
    ws: Workspace, env_name: str, release: Artifact
) -> dict[str, dict[str, Any]] | None:
    """A many-function release (DESIGN §11.4): each function's digest and commit, the
    version live here, and its configuration with what changes against what the ledger left
    live for that function. None for a single function (the evidence above says it all)."""
    from lambda_promote.build.release import release_functions
    from lambda_promote.deploy import DRIFT_HISTORY
    from lambda_promote.drift import function_history, ledger_live
    from lambda_promote.function_config import described, differences

    named = release_functions(release)
    if named is None:
        return None
    history = ws.ledger.deployments(env_name, limit=DRIFT_HISTORY)
    found: dict[str, dict[str, Any]] = {}
    for name, digest in sorted(named.items()):
        fn = (
            ws.function_ref(env_name, function=name)
            if name in ws.config.release_functions
            else None
        )
        built = ws.ledger.find_artifact(digest)
        live = ws.target.alias_state(fn).version if fn is not None else None
        entry: dict[str, Any] = {
            "digest": digest,
            "commit": built.commit if built else None,
            "live_version": live,
        }
        if fn is not None:
            effective = fn.configuration.to_json()
            before = ledger_live(function_history(history, name))
            changes = (
                differences(before.configuration, effective)
                if before is not None and before.configuration is not None
                else None
            )
            entry["configuration"] = ConfigurationEvidence(
                digest=fn.configuration.digest,
                settings=tuple(f"{label} {text}" for label, text in described(effective)),
                changes=None if changes is None else tuple(changes),
            ).to_json()
        found[name] = entry
    return found


def configuration_evidence(ws: Workspace, env_name: str, digest: str) -> ConfigurationEvidence:
    """DESIGN §11.3: the configuration the release would run with here, and what changes
    against what the ledger left live (``changes`` None: the ledger cannot say)."""
    from lambda_promote.configuring import changes_against_live, configured_for
    from lambda_promote.deploy import DRIFT_HISTORY
    from lambda_promote.function_config import described

    source = ws.config.environments[env_name].promote_from
    source_history = ws.ledger.deployments(source, limit=DRIFT_HISTORY) if source else []
    configured = configured_for(ws.config, env_name, digest=digest, source_history=source_history)
    here = ws.ledger.deployments(env_name, limit=DRIFT_HISTORY)
    changes = changes_against_live(here, configured)
    return ConfigurationEvidence(
        digest=configured.effective.digest,
        settings=tuple(
            f"{label} {text}" for label, text in described(configured.effective.to_json())
        ),
        changes=None if changes is None else tuple(changes),
    )


def _commits_between(ws: Workspace, old: str | None, new: str | None) -> list[str]:
    if not new:
        return []
    span = f"{old}..{new}" if old else new
    try:
        out = subprocess.run(
            ["git", "log", "--oneline", "--no-decorate", "-n", "50", span],
            cwd=ws.root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return out.splitlines()


# --- decisions -----------------------------------------------------------------------------
def find_request(ws: Workspace, ref: str, env_name: str) -> ApprovalRequest:
    """A request by id (or prefix), or the newest request for a digest (or prefix) in env."""
    request = ws.ledger.get_request(ref) if ref.startswith("r-") else None
    if request is None:
        candidates = [
            r
            for r in ws.ledger.requests(env=env_name)
            if len(ref) >= 4 and r.digest.startswith(ref)
        ]
        request = candidates[0] if candidates else None
    if request is None:
        raise UsageError(
            f"no approval request {ref!r} for {env_name}",
            hint="`lambda-promote status` lists pending approvals",
        )
    if request.env != env_name:
        raise UsageError(f"request {request.id} is for {request.env}, not {env_name}")
    return request


@dataclass(frozen=True)
class ProvenIdentity:
    """Who decides, as an OpenID Connect issuer proved it (``serve``, DESIGN §11.7): the
    decision is recorded ``via`` the web with the issuer and the subject it vouched for."""

    issuer: str
    subject: str
    via: str = "web"


def decide(
    ws: Workspace,
    ref: str,
    env_name: str,
    *,
    approve: bool,
    comment: str,
    identity: ProvenIdentity | None = None,
) -> tuple[ApprovalRequest, gate.GateVerdict]:
    """``ws.actor`` approves or rejects a request, by the gate's rules (DESIGN §5.3). The CLI
    passes no ``identity`` (the actor is claimed); ``serve`` passes the proven one."""
    rule = approval_rule(ws, env_name, deciding=True)
    request = find_request(ws, ref, env_name)
    attested.require_request(ws, request.id)
    at = now()
    gate.check_decision(rule, request, reviewer=ws.actor, approve=approve, now=at)
    decision = ApprovalDecision(reviewer=ws.actor, approve=approve, at=at, comment=comment)
    details: dict[str, Any] = {"request": request.id}
    if identity is not None:
        decision = replace(
            decision, source=identity.via, issuer=identity.issuer, subject=identity.subject
        )
        details.update(via=identity.via, issuer=identity.issuer, subject=identity.subject)
    ws.ledger.add_decision(request.id, decision)
    if not approve:
        ws.ledger.set_request_state(request.id, RequestState.REJECTED)
    ws.audit(
        "approval.granted" if approve else "approval.rejected",
        env=env_name,
        digest=request.digest,
        reason=comment,
        details=details,
    )
    updated = ws.ledger.get_request(request.id) or request
    announce(ws, "approval.granted" if approve else "approval.rejected", updated, comment)
    return updated, gate.evaluate(rule, updated, now())


def announce(ws: Workspace, name: str, request: ApprovalRequest, comment: str = "") -> None:
    from lambda_promote.notify.events import approval_event

    ws.notify(
        approval_event(name, request, actor=ws.actor, project=ws.config.project, comment=comment)
    )


def consume_request(ws: Workspace, request_id: str, deployment_id: str) -> None:
    """Mark the request consumed by ``deployment_id`` (once, atomically) and audit it."""
    request = ws.ledger.set_request_state(
        request_id, RequestState.CONSUMED, consumed_by=deployment_id
    )
    ws.audit(
        "approval.consumed",
        env=request.env,
        digest=request.digest,
        details={"request": request.id, "deployment": deployment_id},
    )
