"""The approval providers behind one small protocol (DESIGN §5.2, §10): each *reads* what
admits a release (gather stage) and *consumes* it under the environment lock (execute
stage). Whether what it read admits the release is decided once, by ``plan.approval_verdict``.

    builtin   requests and decisions in the ledger (``lambda-promote approve``)
    github    the workflow run's approvals, read from the GitHub API (github/admission.py)
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from lambda_promote.errors import GateBlocked
from lambda_promote.gate import evaluate
from lambda_promote.model import ApprovalRequest, Artifact
from lambda_promote.promotion import consume_request
from lambda_promote.release.models import ApprovalFacts, ApprovalGrant, GateDecision

if TYPE_CHECKING:
    from lambda_promote.config.schema import Approval
    from lambda_promote.ledger.base import Ledger
    from lambda_promote.workspace import Workspace


class ApprovalProvider(Protocol):
    def read(self, env: str, artifact: Artifact, rule: Approval, *, now: datetime) -> ApprovalFacts:
        """What admits ``artifact`` into ``env`` as things stand; writes nothing."""
        ...

    def consume(self, grant: ApprovalGrant, deployment_id: str) -> None:
        """Take the approval for ``deployment_id``; called under the environment lock, and
        atomic in the ledger, so two deployments can never consume one approval."""
        ...


def provider_for(
    ws: Workspace, rule: Approval | None, *, ledger: Ledger
) -> ApprovalProvider | None:
    """The provider ``rule`` names, reading from ``ledger`` (a dry run's may be read-only)."""
    if rule is None:
        return None
    if rule.provider == "github":
        from lambda_promote.github.admission import GitHubApprovals

        return GitHubApprovals(ws)
    return BuiltinApprovals(ws, ledger=ledger)


class BuiltinApprovals:
    """The built-in gate: requests and reviewers' decisions recorded in the ledger."""

    def __init__(self, ws: Workspace, *, ledger: Ledger) -> None:
        self._ws = ws
        self._ledger = ledger

    def read(self, env: str, artifact: Artifact, rule: Approval, *, now: datetime) -> ApprovalFacts:
        requests = tuple(self._ledger.requests(env=env, digest=artifact.digest))
        newest = None
        if not requests:
            # Read only to say why a granted request elsewhere does not count.
            newest = next(iter(self._ledger.requests(env=env, limit=1)), None)
        granted = next(
            (r for r in (*requests, newest) if r is not None and evaluate(rule, r, now).granted),
            None,
        )
        return ApprovalFacts(
            "builtin",
            rule,
            now,
            requests=requests,
            newest_in_env=newest,
            unattested=self._unattested(granted),
        )

    def _unattested(self, request: ApprovalRequest | None) -> dict[str, GateDecision]:
        """With an audit key, the granted request — the one the gate would take — must be
        backed by the keyed trail (its decisions and its state); else its refusal."""
        from lambda_promote import attested

        if request is None:
            return {}
        try:
            attested.require_request(self._ws, request.id)
        except GateBlocked as blocked:
            return {request.id: GateDecision.blocked(blocked)}
        return {}

    def consume(self, grant: ApprovalGrant, deployment_id: str) -> None:
        if grant.request is not None:
            consume_request(self._ws, grant.request.id, deployment_id)
