"""``abort`` and ``finish`` (DESIGN §11.5): ask the deploy that is shifting an environment's
traffic, from another shell or CI job, to stop and roll back, or to skip its remaining bakes.
The running deploy reads the request within a second or two (``traffic_control.py``)."""

from __future__ import annotations

import click

from lambda_promote.invocation import Invocation, Outcome, command
from lambda_promote.shift import ControlAction

_REASON = "Why; kept in the audit trail and shown by the deploy."


def _ask(inv: Invocation, env: str, action: ControlAction, reason: str) -> Outcome:
    from lambda_promote import traffic_control

    ws = inv.workspace()
    running = traffic_control.request(ws, env, action, reason=reason)
    effect = (
        "stop its shift, put the weight back to 0 and verify the previous version"
        if action == "abort"
        else "skip the remaining bakes of its shift"
    )
    inv.ui.ok(f"{ws.actor} asked deployment {running.id} in {env} to {effect}")
    inv.ui.detail(
        "the running deploy reads it within a second or two; its exit code says how it ended"
    )
    body = {"env": env, "action": action, "deployment_id": running.id, "reason": reason}
    return Outcome(data={"request": body}, text=running.id)


@command("abort")
@click.argument("env")
@click.option("--reason", default="", help=_REASON)
def abort_command(inv: Invocation, env: str, reason: str) -> Outcome:
    """Stop ENV's running traffic shift: weight back to 0, previous version verified (exit 3)."""
    return _ask(inv, env, "abort", reason)


@command("finish")
@click.argument("env")
@click.option("--reason", default="", help=_REASON)
def finish_command(inv: Invocation, env: str, reason: str) -> Outcome:
    """Skip the remaining bakes of ENV's running traffic shift (its checks still run)."""
    return _ask(inv, env, "finish", reason)
