"""The approval provider for ``approval.provider: github`` (DESIGN §10): GitHub's environment
protection rules decide, and GitHub proves who approved; the tool reads the run's approvals,
admits the deployment only when they satisfy ``approval`` in promote.yaml, and records the
approvers and their comments in the ledger and the audit trail when the deployment takes
them (``release.approvals.ApprovalProvider``).

Outside a workflow run there is no GitHub approval to read, so the environment is refused.
"""

from __future__ import annotations

import os
from datetime import datetime

from lambda_promote.config.schema import Approval
from lambda_promote.errors import GateBlocked
from lambda_promote.model import ApprovalDecision, ApprovalRequest, Artifact, RequestState
from lambda_promote.promotion import consume_request, request_approval
from lambda_promote.release.models import ApprovalFacts, ApprovalGrant, GateDecision
from lambda_promote.workspace import Workspace


class GitHubApprovals:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def read(self, env: str, artifact: Artifact, rule: Approval, *, now: datetime) -> ApprovalFacts:
        """The run's approvals for ``env``; refused (as facts) unless they admit it."""
        from lambda_promote.github.api import GitHubApi
        from lambda_promote.github.approvals import github_approvals

        repo, run_id = os.environ.get("GITHUB_REPOSITORY"), os.environ.get("GITHUB_RUN_ID")
        if not repo or not run_id:
            refused = GateBlocked(
                f"{env} takes its approvals from GitHub (approval.provider: github), and "
                "this is not a GitHub Actions run",
                hint="deploy it from the generated workflow, where reviewers approve the "
                f"{env} environments; or use `provider: builtin` for the built-in gate",
                code="approval_missing",
            )
            return ApprovalFacts("github", rule, now, refused=GateDecision.blocked(refused))
        try:
            decisions = github_approvals(
                env, rule, repo=repo, run_id=run_id, api=GitHubApi.from_environ()
            )
        except GateBlocked as blocked:
            return ApprovalFacts("github", rule, now, refused=GateDecision.blocked(blocked))
        return ApprovalFacts("github", rule, now, decisions=tuple(decisions), run_id=run_id)

    def consume(self, grant: ApprovalGrant, deployment_id: str) -> None:
        """Record the run's approvals on this run's request for (env, digest) — the one the
        workflow's request-approval job opened, or a new one — and consume it."""
        ws = self._ws
        request = self._request_for(grant)
        _record(ws, request, grant.decisions, run_id=grant.run_id or "")
        consume_request(ws, request.id, deployment_id)

    def _request_for(self, grant: ApprovalGrant) -> ApprovalRequest:
        ws = self._ws
        env, digest = grant.env, grant.digest
        for request in ws.ledger.requests(env=env, digest=digest):
            if request.state is RequestState.OPEN:
                return request
        return request_approval(ws, env, digest)


def _record(
    ws: Workspace,
    request: ApprovalRequest,
    decisions: tuple[ApprovalDecision, ...],
    *,
    run_id: str,
) -> None:
    decided = {d.reviewer for d in request.decisions}
    for decision in decisions:
        if decision.reviewer in decided:
            continue
        ws.ledger.add_decision(request.id, decision)
        ws.audit(
            "approval.granted" if decision.approve else "approval.rejected",
            env=request.env,
            digest=request.digest,
            reason=decision.comment,
            details={
                "request": request.id,
                "reviewer": decision.reviewer,
                "source": "github",
                "run_id": run_id,
            },
        )
