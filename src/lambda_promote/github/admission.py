"""The approval provider for ``approval.provider: github`` (DESIGN §10): GitHub's environment
protection rules decide, and GitHub proves who approved; the tool reads the run's approvals,
admits the deployment only when they satisfy ``approval`` in promote.yaml, and records the
approvers and their comments in the ledger and the audit trail when the deployment takes
them (``release.approvals.ApprovalProvider``).

Outside a workflow run there is no GitHub approval to read, so the environment is refused.
Inside one, the approvals must come from the GitHub API over HTTPS and be this run's, for
this release's commit (``approvals.check_run``); docs/STAGING_TO_PRODUCTION_WORKFLOW.md §5 says
what that rests on.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING

from lambda_promote.config.schema import Approval
from lambda_promote.errors import GateBlocked
from lambda_promote.model import ApprovalDecision, ApprovalRequest, Artifact, RequestState
from lambda_promote.promotion import consume_request, request_approval
from lambda_promote.release.models import ApprovalFacts, ApprovalGrant, GateDecision
from lambda_promote.workspace import Workspace

if TYPE_CHECKING:
    from lambda_promote.github.api import GitHubApi


class GitHubApprovals:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def read(self, env: str, artifact: Artifact, rule: Approval, *, now: datetime) -> ApprovalFacts:
        """The run's approvals for ``env``, checked to be this run's, for this release's
        commit, and not self-reviewed; refused (as facts) unless they admit it."""
        from lambda_promote.github.approvals import (
            check_run,
            check_self_review,
            github_approvals,
            read_run,
        )

        try:
            repo, run_id, api = _this_run(env)
            decisions = github_approvals(env, rule, repo=repo, run_id=run_id, api=api)
            run = read_run(api, repo=repo, run_id=run_id)
            check_run(run, env_name=env, run_id=run_id, repo=repo, commit=artifact.commit)
            check_self_review(run, decisions, rule, env_name=env, run_id=run_id, repo=repo)
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


def _this_run(env_name: str) -> tuple[str, str, GitHubApi]:
    """The run this job belongs to, as GitHub Actions names it, and the API to ask about it;
    ``GateBlocked`` outside a run, or when the API would be read in clear."""
    from lambda_promote.github.api import GitHubApi, in_clear

    repo, run_id = os.environ.get("GITHUB_REPOSITORY"), os.environ.get("GITHUB_RUN_ID")
    if not repo or not run_id:
        raise GateBlocked(
            f"{env_name} takes its approvals from GitHub (approval.provider: github), and "
            "this is not a GitHub Actions run",
            hint="deploy it from the generated workflow, where reviewers approve the "
            f"{env_name} environments; or use `provider: builtin` for the built-in gate",
            code="approval_missing",
        )
    api = GitHubApi.from_environ()
    if in_clear(api.base_url):
        raise GateBlocked(
            f"{env_name}: GITHUB_API_URL={api.base_url} is not https: approvals read over "
            "plain HTTP from another machine cannot be trusted (and the token would travel "
            "in clear)",
            hint="unset GITHUB_API_URL (GitHub Actions sets it), or give the https URL of "
            "your GitHub Enterprise Server API",
            code="approval_mismatch",
        )
    return repo, run_id, api


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
