"""``run``: what the triggers say for an event, carried out in promotion order (DESIGN §4).

``push main`` deploys staging, then opens (or uses) the production approval request: a
granted request continues to production, anything else stops with exit 5 "awaiting approval".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from lambda_promote import promotion, service
from lambda_promote.config.loader import require_env
from lambda_promote.errors import GateBlocked, UsageError
from lambda_promote.model import ApprovalRequest, Deployment
from lambda_promote.triggers import Event, Plan, event_from_github, plan, promotion_order
from lambda_promote.workspace import Workspace


@dataclass
class RunResult:
    plan: Plan
    deployments: list[Deployment] = field(default_factory=list)


def resolve_event(name: str | None, branch: str | None, env: str | None) -> Event:
    if name:
        return Event(name, branch, env)
    from_github = event_from_github(os.environ)
    if from_github is None:
        raise UsageError(
            "no event given and none in the environment",
            hint="`lambda-promote run --event push --branch main` (in GitHub Actions the "
            "event is read from GITHUB_EVENT_NAME and GITHUB_REF_NAME/GITHUB_BASE_REF)",
        )
    return Event(from_github.name, branch or from_github.branch, env)


def run(ws: Workspace, event: Event) -> RunResult:
    order = promotion_order(
        {name: spec.promote_from for name, spec in ws.config.environments.items()}
    )
    if event.env:
        require_env(ws.config, event.env)
    result = RunResult(plan(ws.config.triggers, event, known_envs=order))
    ws.ui.step(result.plan.why)
    for env in result.plan.environments:
        spec = ws.config.environments[env]
        if spec.approval is not None and spec.approval.provider == "builtin":
            request = _granted_or_new_request(ws, env)
            if request is not None:
                raise GateBlocked(
                    f"awaiting approval {request.id} for {env} ({request.short_digest})",
                    hint=f"a reviewer runs `lambda-promote approve {request.id} --env {env}`; "
                    "then run this again",
                    code="awaiting_approval",
                    payload={"approval_request": request, "deployments": result.deployments},
                )
        digest = None
        if spec.promote_from:
            digest = promotion.promotable_artifact(ws, env, None).digest
        result.deployments.append(service.deploy(ws, env, artifact=digest))
    return result


def _granted_or_new_request(ws: Workspace, env: str) -> ApprovalRequest | None:
    """None when a granted request already admits the artifact; else the open request."""
    from lambda_promote import gate

    artifact = promotion.promotable_artifact(ws, env, None)
    rule = promotion.approval_rule(ws, env)
    for request in ws.ledger.requests(env=env, digest=artifact.digest):
        if gate.evaluate(rule, request, promotion.now()).granted:
            return None
    return promotion.request_approval(ws, env, artifact.digest)
