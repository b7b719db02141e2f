"""The gate's view of the ledger as the keyed audit trail attests it: the thin I/O side of
``attestation`` (which decides). Promotion asks here before it trusts a row; ``audit --verify``
asks here which rows have no event behind them.

With ``LAMBDA_PROMOTE_AUDIT_KEY`` set, the trail is read once per command (then only what was
appended since), its links checked, and every record the gate relies on must be backed by an
authenticated event — else ``GateBlocked`` (exit 5) naming the record. Without a key nothing
here reads the trail: the gate trusts the ledger as it is, and says so on gated environments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from lambda_promote import attestation
from lambda_promote.audit import authenticated, first_break
from lambda_promote.audit_trail import keyring
from lambda_promote.errors import GateBlocked
from lambda_promote.model import (
    Artifact,
    AuditEvent,
    DeploymentKind,
    DeploymentState,
)

if TYPE_CHECKING:
    from lambda_promote.attestation import Evidence, Unbacked
    from lambda_promote.config.schema import Environment
    from lambda_promote.ledger.base import Ledger
    from lambda_promote.workspace import Workspace

UNKEYED_WARNING = (
    "LAMBDA_PROMOTE_AUDIT_KEY is not set: the gate trusts the ledger's rows as they are, so "
    "anyone who can write the ledger can forge approvals and successes — it is only as "
    "trustworthy as its file or database permissions"
)


def gate_evidence(ws: Workspace) -> Evidence | None:
    """The authenticated events, indexed; None without a key (the gate then trusts rows)."""
    ring = keyring()
    if ring.current is None:
        return None
    events = ws.audit_trail.events()
    broken = first_break(events)
    if broken is not None:
        raise GateBlocked(
            f"the audit trail is broken at event {broken[0]}: {broken[1]}; with an audit key "
            "the gate admits only what an intact trail attests",
            hint="`lambda-promote audit --verify` names the problem; restore the ledger from a "
            "backup",
            code="audit_broken",
        )
    verdicts: dict[int, bool] = {}

    def trusted(event: AuditEvent) -> bool:
        if event.seq not in verdicts:
            verdicts[event.seq] = authenticated(event, ring)
        return verdicts[event.seq]

    return attestation.Evidence(events, trusted=trusted)


def _refuse(problems: Sequence[Unbacked], *, what: str) -> GateBlocked:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return GateBlocked(
        f"{what} rests on a ledger record the keyed audit trail does not back: {first}{more}",
        hint="the ledger was changed outside lambda-promote, or the record was written by a "
        "job without LAMBDA_PROMOTE_AUDIT_KEY; `lambda-promote audit --verify` lists every "
        "such record. Redo the step with the key (request and approve again, redeploy upstream)",
        code="ledger_not_attested",
        payload={"unbacked": [p.to_json() for p in problems]},
    )


# --- what the gate relies on -------------------------------------------------------------------
def require_request(ws: Workspace, request_id: str) -> None:
    """The request admitting a deployment, its decisions and its state, as the trail says."""
    evidence = gate_evidence(ws)
    request = ws.ledger.get_request(request_id)
    if evidence is None or request is None:
        return
    problems = attestation.request_problems(evidence, request)
    if problems:
        raise _refuse(problems, what=f"the approval of {request.env}")


def require_success(ws: Workspace, source_env: str, digest: str) -> None:
    """``digest`` succeeded in ``source_env`` by a deployment the trail records succeeding."""
    evidence = gate_evidence(ws)
    if evidence is None:
        return
    states = [DeploymentState.SUCCEEDED]
    claimed = [
        d
        for d in ws.ledger.deployments(source_env, states=states, limit=None)
        if d.digest == digest and d.kind is DeploymentKind.DEPLOY
    ]
    problems = [p for d in claimed if (p := attestation.success_problem(evidence, d))]
    if claimed and len(problems) == len(claimed):
        raise _refuse(problems, what=f"the promotion of {digest[:12]} from {source_env}")


def provenance(ws: Workspace, artifact: Artifact, spec: Environment) -> Artifact:
    """``artifact`` with the commit, branch and builder of the ledger's build record — never
    the store's manifest, which the digest does not cover — refused when the two differ;
    with a key, the record must be backed by an authenticated ``artifact.built`` event."""
    record = ws.ledger.find_artifact(artifact.digest)
    if record is not None:
        wrong = attestation.provenance_mismatch(artifact, record)
        if wrong:
            raise GateBlocked(
                f"the artifact store's manifest of {artifact.short} differs from the ledger's "
                f"build record in {wrong}: the manifest was changed after the build",
                hint="the digest covers the zip, not its manifest; whoever can write the store "
                "can edit it. Restore the manifest, or rebuild from the intended branch",
                code="provenance_mismatch",
            )
        artifact = replace(
            artifact,
            commit=record.commit,
            branch=record.branch,
            builder=record.builder,
            committed_at=record.committed_at,
        )
    if spec.branches or spec.approval is not None:
        evidence = gate_evidence(ws)
        problem = attestation.build_problem(evidence, artifact) if evidence else None
        if problem is not None:
            raise _refuse([problem], what=f"where {artifact.short} came from")
    return artifact


def warn_if_unkeyed(ws: Workspace, spec: Environment) -> None:
    """On a gated environment, say plainly what the gate rests on without a key."""
    gated = spec.promote_from or spec.approval is not None or spec.branches
    if gated and keyring().current is None:
        ws.ui.warn(UNKEYED_WARNING)


# --- audit --verify --------------------------------------------------------------------------
def ledger_problems(ledger: Ledger, events: Sequence[AuditEvent]) -> list[Unbacked]:
    """Every decision, consumption and success in the ledger that no event of the (verified)
    trail backs, or that an event contradicts."""
    evidence = attestation.Evidence(events, trusted=lambda event: True)
    problems: list[Unbacked] = []
    for request in ledger.requests(limit=None):
        problems += attestation.request_problems(evidence, request)
    for deployment in ledger.deployments(states=[DeploymentState.SUCCEEDED], limit=None):
        problem = attestation.success_problem(evidence, deployment)
        if problem is not None:
            problems.append(problem)
    return problems
