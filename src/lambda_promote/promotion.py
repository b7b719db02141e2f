"""Promotion behind the gate (DESIGN §5.1–§5.3), the I/O side: load what ``gate`` needs from
the ledger, the store and git, ask it, and record the answer.

Nothing reaches an environment with ``promote_from`` unless it succeeded there; nothing
reaches an environment with ``approval`` without a granted request for that very digest,
which the one deployment it admits consumes.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lambda_promote import attested, gate
from lambda_promote.config.loader import require_env
from lambda_promote.config.schema import Approval, Environment
from lambda_promote.errors import ArtifactError, GateBlocked, UsageError
from lambda_promote.model import (
    ApprovalDecision,
    ApprovalRequest,
    Artifact,
    DeploymentKind,
    DeploymentState,
    RequestState,
)
from lambda_promote.workspace import Workspace


def now() -> datetime:
    return datetime.now(UTC)


def succeeded_digests(ws: Workspace, env: str) -> list[str]:
    """Digests a deployment verified in ``env``, newest first."""
    deps = ws.ledger.deployments(env, states=[DeploymentState.SUCCEEDED], limit=None)
    return list(dict.fromkeys(d.digest for d in deps if d.kind is DeploymentKind.DEPLOY))


def promotable_artifact(ws: Workspace, env_name: str, digest: str | None) -> Artifact:
    """The artifact ``env_name`` may receive: by default the latest success in its source."""
    spec = require_env(ws.config, env_name)
    if spec.promote_from is None:
        raise UsageError(f"{env_name} does not promote from another environment")
    succeeded = succeeded_digests(ws, spec.promote_from)
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
    _announce(ws, "approval.requested", request)
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
    evidence: dict[str, Any] = {
        "live_version": live.version,
        "live_digest": live.digest,
        "rollback_restores": live.version,
        "commit": artifact.commit,
        "branch": artifact.branch,
        "built_by": artifact.builder,
        "commits": _commits_between(
            ws, live_artifact.commit if live_artifact else None, artifact.commit
        ),
    }
    if spec.promote_from:
        source = [
            d
            for d in ws.ledger.deployments(spec.promote_from, limit=None)
            if d.digest == artifact.digest and d.state is DeploymentState.SUCCEEDED
        ]
        if source:
            full = ws.ledger.get_deployment(source[0].id)
            evidence["source"] = {
                "env": spec.promote_from,
                "deployment": source[0].id,
                "checks": [c.to_json() for c in (full.checks if full else [])],
            }
    evidence["configuration"] = configuration_evidence(ws, env_name, artifact.digest)
    return evidence


def configuration_evidence(ws: Workspace, env_name: str, digest: str) -> dict[str, Any]:
    """DESIGN §11.3: the configuration the release would run with here, and what changes
    against what the ledger left live (``changes`` None: the ledger cannot say)."""
    from lambda_promote.configuring import changes_against_live, configured_for
    from lambda_promote.deploy import DRIFT_HISTORY
    from lambda_promote.function_config import described

    source = ws.config.environments[env_name].promote_from
    source_history = ws.ledger.deployments(source, limit=DRIFT_HISTORY) if source else []
    configured = configured_for(ws.config, env_name, digest=digest, source_history=source_history)
    here = ws.ledger.deployments(env_name, limit=DRIFT_HISTORY)
    return {
        "digest": configured.effective.digest,
        "settings": [
            f"{label} {text}" for label, text in described(configured.effective.to_json())
        ],
        "changes": changes_against_live(here, configured),
    }


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


def decide(
    ws: Workspace, ref: str, env_name: str, *, approve: bool, comment: str
) -> tuple[ApprovalRequest, gate.GateVerdict]:
    rule = approval_rule(ws, env_name, deciding=True)
    request = find_request(ws, ref, env_name)
    attested.require_request(ws, request.id)
    at = now()
    gate.check_decision(rule, request, reviewer=ws.actor, approve=approve, now=at)
    decision = ApprovalDecision(reviewer=ws.actor, approve=approve, at=at, comment=comment)
    ws.ledger.add_decision(request.id, decision)
    if not approve:
        ws.ledger.set_request_state(request.id, RequestState.REJECTED)
    ws.audit(
        "approval.granted" if approve else "approval.rejected",
        env=env_name,
        digest=request.digest,
        reason=comment,
        details={"request": request.id},
    )
    updated = ws.ledger.get_request(request.id) or request
    _announce(ws, "approval.granted" if approve else "approval.rejected", updated, comment)
    return updated, gate.evaluate(rule, updated, now())


# --- admission at deploy time -------------------------------------------------------------
Admit = Callable[[str], None]


def admission(ws: Workspace, env_name: str, artifact: Artifact) -> Admit | None:
    """Raise ``GateBlocked`` unless ``artifact`` may enter ``env_name`` now. Returns what
    takes the approval under the environment lock (``admit(deployment_id)``), if any."""
    spec = require_env(ws.config, env_name)
    attested.warn_if_unkeyed(ws, spec)
    artifact = attested.provenance(ws, artifact, spec)
    gate.check_promotion(
        env_name,
        spec,
        digest=artifact.digest,
        branch=artifact.branch,
        succeeded_in_source=succeeded_digests(ws, spec.promote_from) if spec.promote_from else (),
    )
    if spec.promote_from:
        attested.require_success(ws, spec.promote_from, artifact.digest)
    if spec.approval is None:
        return None
    if spec.approval.provider == "github":
        from lambda_promote.github.admission import github_admission

        return github_admission(ws, env_name, artifact, spec.approval)
    request = granted_request(ws, env_name, artifact, spec.approval)
    return lambda deployment_id: consume(ws, request, deployment_id)


def granted_request(
    ws: Workspace, env_name: str, artifact: Artifact, rule: Approval
) -> ApprovalRequest:
    """The built-in gate: the granted request admitting ``artifact``; else ``GateBlocked``
    saying exactly what is missing."""
    at = now()
    requests = ws.ledger.requests(env=env_name, digest=artifact.digest)
    usable = [r for r in requests if gate.evaluate(rule, r, at).granted]
    candidate = usable[0] if usable else (requests[0] if requests else None)
    if candidate is None:
        others = ws.ledger.requests(env=env_name)
        candidate = others[0] if others and gate.evaluate(rule, others[0], at).granted else None
    try:
        gate.check_admission(rule, candidate, env_name=env_name, digest=artifact.digest, now=at)
    except GateBlocked as blocked:
        if candidate is not None and blocked.code == "approval_expired":
            _announce(ws, "approval.expired", candidate)
        raise
    assert candidate is not None  # check_admission refuses None
    attested.require_request(ws, candidate.id)  # with a key: only what the trail attests
    return candidate


def _announce(ws: Workspace, name: str, request: ApprovalRequest, comment: str = "") -> None:
    from lambda_promote.notify.events import approval_event

    ws.notify(
        approval_event(name, request, actor=ws.actor, project=ws.config.project, comment=comment)
    )


def consume(ws: Workspace, request: ApprovalRequest, deployment_id: str) -> None:
    ws.ledger.set_request_state(request.id, RequestState.CONSUMED, consumed_by=deployment_id)
    ws.audit(
        "approval.consumed",
        env=request.env,
        digest=request.digest,
        details={"request": request.id, "deployment": deployment_id},
    )
