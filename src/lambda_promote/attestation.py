"""Which ledger records the audit trail backs (DESIGN §5.1–§5.3 under an audit key). Pure: given
the trail's events, which of them to trust, and ledger records → what no event backs.

The gate decides from rows — decisions, a request's state, a deployment's state, a build's
provenance — and anyone who can write the ledger can write rows. With
``LAMBDA_PROMOTE_AUDIT_KEY`` only a key holder can write an event whose HMAC verifies, so the
gate admits a row only when such an event says the same thing, and refuses a row an event
contradicts (a consumed request shown as open):

    approval request   ``approval.requested`` by its requester, same env, digest (and times)
    decision           ``approval.granted``/``.rejected`` by that reviewer for that request
    consumption        an ``approval.consumed`` event makes an open-looking request consumed
    upstream success   ``deployment.succeeded`` of that deployment, env and digest
    build provenance   ``artifact.built`` of that digest by that builder, commit and branch

``audit --verify`` runs the same checks over the whole ledger, trusting every event of the
verified chain; the gate trusts only authenticated events (``audit.authenticated``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lambda_promote.model import (
    ApprovalDecision,
    ApprovalRequest,
    Artifact,
    AuditEvent,
    Deployment,
    DeploymentState,
    RequestState,
)

DECISION_ACTIONS = {True: "approval.granted", False: "approval.rejected"}
_INDEXED = {
    "approval.requested",
    "approval.granted",
    "approval.rejected",
    "approval.consumed",
    "deployment.succeeded",
    "artifact.built",
}


@dataclass(frozen=True)
class Unbacked:
    """One ledger record the trail does not back (or contradicts), said for people."""

    record: str  # "approval of ops on request r-1a2b"
    why: str  # "no audit event records it"

    def __str__(self) -> str:
        return f"{self.record}: {self.why}"

    def to_json(self) -> dict[str, str]:
        return {"record": self.record, "why": self.why}


def _details(event: AuditEvent) -> dict[str, Any]:
    return event.details if isinstance(event.details, dict) else {}


class Evidence:
    """The trail's events indexed by what they attest, built once per command. ``trusted``
    says which events count (authenticated ones for the gate); the others are kept only to
    explain why a record is not backed."""

    def __init__(self, events: Iterable[AuditEvent], *, trusted: Callable[[AuditEvent], bool]):
        self._trusted = trusted
        self._by: dict[tuple[str, str], list[AuditEvent]] = defaultdict(list)
        for event in events:
            if event.action in _INDEXED:
                self._by[(event.action, _subject(event))].append(event)

    def find(self, action: str, subject: str) -> tuple[list[AuditEvent], list[AuditEvent]]:
        """(trusted, untrusted) events of ``action`` about ``subject``."""
        found = self._by.get((action, subject), [])
        trusted = [e for e in found if self._trusted(e)]
        return trusted, [e for e in found if e not in trusted]


def _subject(event: AuditEvent) -> str:
    """What an event is about: a request id, a deployment id, or a digest."""
    details = _details(event)
    if event.action.startswith("approval."):
        return str(details.get("request", ""))
    if event.action == "artifact.built":
        return event.digest or ""
    return str(details.get("deployment", ""))


def _not_found(untrusted: Sequence[AuditEvent], action: str) -> str:
    if untrusted:
        seqs = ", ".join(f"#{e.seq}" for e in untrusted[:3])
        return (
            f"{action} event {seqs} records it but is not signed with the audit key (written "
            "without a key, or with one this run does not have)"
        )
    return f"no {action} event records it"


# --- approval requests ------------------------------------------------------------------------
def request_problems(evidence: Evidence, request: ApprovalRequest) -> list[Unbacked]:
    """What in ``request`` (its own row, its decisions, its state) the trail does not back."""
    problems = _request_row(evidence, request)
    problems += [p for d in request.decisions if (p := _decision(evidence, request, d))]
    consumed, _ = evidence.find("approval.consumed", request.id)
    if consumed and request.state is not RequestState.CONSUMED:
        by = _details(consumed[0]).get("deployment")
        problems.append(
            Unbacked(
                f"request {request.id} ({request.state.value} in the ledger)",
                f"event #{consumed[0].seq} records it consumed by deployment {by}",
            )
        )
    rejected, _ = evidence.find("approval.rejected", request.id)
    for event in rejected:
        who = _reviewer(event)
        if not any(d.reviewer == who and not d.approve for d in request.decisions):
            problems.append(
                Unbacked(
                    f"request {request.id}",
                    f"event #{event.seq} records {who}'s rejection, which the ledger lacks",
                )
            )
    return problems


def _request_row(evidence: Evidence, request: ApprovalRequest) -> list[Unbacked]:
    trusted, untrusted = evidence.find("approval.requested", request.id)
    record = f"approval request {request.id} ({request.env} ← {request.short_digest})"
    if not trusted:
        return [Unbacked(record, _not_found(untrusted, "approval.requested"))]
    event = trusted[0]
    wrong = _mismatches(
        {
            "env": (event.env, request.env),
            "digest": (event.digest, request.digest),
            "requested_by": (event.actor, request.requested_by),
            **_recorded(event, request),
        }
    )
    if wrong:
        return [Unbacked(record, f"differs from event #{event.seq} in {wrong}")]
    return []


def _recorded(event: AuditEvent, request: ApprovalRequest) -> dict[str, tuple[Any, Any]]:
    """Fields newer events carry (older ones do not, and are not compared)."""
    details = _details(event)
    fields = {
        "requested_at": request.requested_at.isoformat(),
        "expires_at": request.expires_at.isoformat(),
        "built_by": request.built_by,
    }
    return {name: (details[name], value) for name, value in fields.items() if name in details}


def _mismatches(pairs: dict[str, tuple[Any, Any]]) -> str:
    return ", ".join(f"{name} ({a!r} vs {b!r})" for name, (a, b) in pairs.items() if a != b)


def _reviewer(event: AuditEvent) -> str:
    """A decision's reviewer: GitHub decisions are recorded by the deploy job's actor and name
    the reviewer in their details; built-in ones are made by the reviewer."""
    return str(_details(event).get("reviewer") or event.actor)


def _decision(
    evidence: Evidence, request: ApprovalRequest, decision: ApprovalDecision
) -> Unbacked | None:
    action = DECISION_ACTIONS[decision.approve]
    trusted, untrusted = evidence.find(action, request.id)
    word = "approval" if decision.approve else "rejection"
    record = f"{word} of {decision.reviewer} on request {request.id}"
    for event in trusted:
        if (_reviewer(event), event.env, event.digest) == (
            decision.reviewer,
            request.env,
            request.digest,
        ):
            return None
    mine = [e for e in untrusted if _reviewer(e) == decision.reviewer]
    return Unbacked(record, _not_found(mine, action))


# --- deployments and builds -------------------------------------------------------------------
def success_problem(evidence: Evidence, deployment: Deployment) -> Unbacked | None:
    """None when a ``deployment.succeeded`` event backs ``deployment``'s success."""
    if deployment.state is not DeploymentState.SUCCEEDED:
        return None
    trusted, untrusted = evidence.find("deployment.succeeded", deployment.id)
    for event in trusted:
        if (event.env, event.digest, _details(event).get("kind")) == (
            deployment.env,
            deployment.digest,
            deployment.kind.value,
        ):
            return None
    return Unbacked(
        f"deployment {deployment.id} ({deployment.short_digest} succeeded in {deployment.env})",
        _not_found(untrusted, "deployment.succeeded"),
    )


def build_problem(evidence: Evidence, artifact: Artifact) -> Unbacked | None:
    """None when an ``artifact.built`` event records this digest with this provenance."""
    trusted, untrusted = evidence.find("artifact.built", artifact.digest)
    record = (
        f"the build record of {artifact.short} (branch {artifact.branch!r}, commit "
        f"{(artifact.commit or '?')[:12]}, built by {artifact.builder})"
    )
    for event in trusted:
        details = _details(event)
        said = (details.get("branch"), details.get("commit"), event.actor)
        if said == (artifact.branch, artifact.commit, artifact.builder):
            return None
    if trusted:
        details = _details(trusted[0])
        return Unbacked(
            record,
            f"event #{trusted[0].seq} records branch {details.get('branch')!r}, commit "
            f"{(details.get('commit') or '?')[:12]}, built by {trusted[0].actor}",
        )
    return Unbacked(record, _not_found(untrusted, "artifact.built"))


def provenance_mismatch(manifest: Artifact, record: Artifact) -> str:
    """How the store's manifest differs from the ledger's build record ("" when it does not).
    The digest covers the bytes, not the manifest: whoever can write the store can edit it."""
    return _mismatches(
        {
            "branch": (manifest.branch, record.branch),
            "commit": (manifest.commit, record.commit),
            "builder": (manifest.builder, record.builder),
        }
    )
