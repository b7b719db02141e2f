"""The gate's commands (DESIGN §4): request-approval, approve, reject, run. (``audit`` lives
in commands_audit.py.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lambda_promote.invocation import Invocation, Outcome, command

if TYPE_CHECKING:
    from lambda_promote.release.plan import RunPlan
from lambda_promote.output import request_json


@command("request-approval")
@click.argument("env")
@click.option(
    "--artifact", "digest", metavar="DIGEST", help="Default: the latest success upstream."
)
def request_approval_command(inv: Invocation, env: str, digest: str | None) -> Outcome:
    """Open an approval request for an artifact entering ENV, with the evidence reviewers need."""
    from lambda_promote import gate, promotion

    ws = inv.workspace()
    request = promotion.request_approval(ws, env, digest)
    verdict = gate.evaluate(promotion.approval_rule(ws, env), request, promotion.now())
    inv.ui.ok(
        f"approval request {request.id}: {env} ← {request.short_digest} "
        f"(expires {request.expires_at:%Y-%m-%d %H:%M} UTC)"
    )
    from lambda_promote.notify.messages import evidence_lines

    for line in evidence_lines(request):
        inv.ui.detail(line)
    inv.ui.detail(
        f"a reviewer approves with: lambda-promote approve {request.id} --as REVIEWER "
        "(or rejects it the same way)"
    )
    return Outcome(data={"approval_request": request_json(request, verdict)}, text=request.id)


def _decide(inv: Invocation, ref: str, env: str | None, comment: str, *, approve: bool) -> Outcome:
    from lambda_promote import promotion

    env = env or _env_of_request(inv, ref)
    request, verdict = promotion.decide(inv.workspace(), ref, env, approve=approve, comment=comment)
    word = "approved" if approve else "rejected"
    inv.ui.ok(
        f"{inv.workspace().actor} {word} {request.id} ({env} ← {request.short_digest}); "
        f"request is now {verdict.state}"
    )
    for missing in verdict.missing:
        inv.ui.detail(missing)
    return Outcome(data={"approval_request": request_json(request, verdict)}, text=verdict.state)


def _env_of_request(inv: Invocation, ref: str) -> str:
    """A request id names its environment; a digest does not (it may wait for several)."""
    from lambda_promote.errors import UsageError

    request = inv.workspace().ledger.get_request(ref)
    if request is None:
        raise UsageError(
            f"no approval request {ref!r}; a digest needs --env",
            hint="`lambda-promote status` lists the open requests; or give --env ENV",
        )
    return request.env


_ENV_HELP = "The environment (default: the one the request id names; needed with a digest)."


@command("approve")
@click.argument("ref", metavar="REQUEST|DIGEST")
@click.option("--env", help=_ENV_HELP)
@click.option("--comment", default="", help="Kept with the decision.")
def approve_command(inv: Invocation, ref: str, env: str | None, comment: str) -> Outcome:
    """Approve a request (as a reviewer listed for ENV)."""
    return _decide(inv, ref, env, comment, approve=True)


@command("reject")
@click.argument("ref", metavar="REQUEST|DIGEST")
@click.option("--env", help=_ENV_HELP)
@click.option("--comment", default="", help="Why; kept with the decision.")
def reject_command(inv: Invocation, ref: str, env: str | None, comment: str) -> Outcome:
    """Reject a request; one rejection closes it."""
    return _decide(inv, ref, env, comment, approve=False)


@command("run")
@click.option(
    "--event", "event_name", type=click.Choice(["push", "pull_request", "workflow_dispatch"])
)
@click.option("--branch", help="Pushed branch, or a pull request's base branch.")
@click.option("--env", "env", help="With workflow_dispatch: the environment to deploy.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the plan and change nothing; exit as the real run would start.",
)
def run_command(
    inv: Invocation, event_name: str | None, branch: str | None, env: str | None, dry_run: bool
) -> Outcome:
    """Do what promote.yaml's triggers say for an event (default: GitHub's)."""
    from lambda_promote.release import flows

    event = flows.resolve_event(event_name, branch, env)
    event_json = {"name": event.name, "branch": event.branch, "env": event.env}
    if dry_run:
        return _show_run_plan(inv, flows.run_plan(inv.workspace(check_source=True), event))
    result = flows.run(inv.workspace(check_source=True), event)
    if not result.plan.trigger.environments:
        inv.ui.ok(result.plan.trigger.why)
    return Outcome(
        data={
            "event": event_json,
            "environments": list(result.plan.trigger.environments),
            "deployments": result.deployments,
        },
        text="\n".join(d.id for d in result.deployments) or None,
    )


def _show_run_plan(inv: Invocation, run: RunPlan) -> Outcome:
    from lambda_promote.commands import show_plan

    trigger = run.trigger
    data = {
        "event": {
            "name": trigger.event.name,
            "branch": trigger.event.branch,
            "env": trigger.event.env,
        },
        "environments": list(trigger.environments),
        "then": list(run.then),
    }
    inv.ui.step(trigger.why)
    if run.first is None:
        inv.ui.ok("nothing to do")
        return Outcome(data={"dry_run": True, "plan": None, **data})
    for line in run.then:
        inv.ui.detail(f"then {line}")
    return show_plan(inv, run.first, **data)
