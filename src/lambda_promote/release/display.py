"""The display executor: the same plan the executor carries out, shown instead — for people
(read like ``terraform plan``: what is live, what will be published, the gate, the steps,
where a failure goes back to) and as the ``plan`` object of ``--json`` (DESIGN §11.2). Pure.
"""

from __future__ import annotations

from typing import Any

from lambda_promote.release.models import Plan, PlanKind, Step, StepAction


def plan_json(plan: Plan) -> dict[str, Any]:
    target = plan.rollback_target
    return {
        "kind": plan.kind.value,
        "env": plan.env.env,
        "release": plan.release.digest if plan.release is not None else None,
        "from_version": plan.from_version,
        "to": plan.to,
        "gate": {"ok": plan.gate.ok, "code": plan.gate.code, "message": plan.gate.message},
        "steps": [_step_json(step) for step in plan.steps],
        "rollback_target": None
        if target is None
        else {"version": target.version, "digest": target.digest, "why": target.why},
        "approval": None
        if plan.approval is None
        else {
            "provider": plan.approval.provider,
            "request": plan.approval.request.id if plan.approval.request else None,
            "approvers": list(plan.approval.approvers),
        },
        "lock": None
        if plan.env.lock is None
        else {
            "holder": plan.env.lock.holder,
            "deployment_id": plan.env.lock.deployment_id,
            "stale": plan.env.lock_stale,
        },
        "notes": list(plan.notes),
    }


def _step_json(step: Step) -> dict[str, Any]:
    body: dict[str, Any] = {"action": step.action.value, "detail": step.detail}
    if step.function is not None:
        body["function"] = step.function
    if step.percent is not None:
        body["percent"] = step.percent
    return body


def plan_lines(plan: Plan) -> list[str]:
    env = plan.env
    live = (
        f"version {env.alias.version} ({(env.alias.digest or '?')[:12]})"
        if env.alias.version
        else "nothing (no alias yet)"
    )
    lines = [f"live now      {live} on {env.fn.function_name}:{env.fn.alias}"]
    lines += _what_changes(plan)
    lines.append(_gate_line(plan))
    if env.lock is not None:
        state = "stale: its process is gone, it will be broken" if env.lock_stale else "held"
        lines.append(f"lock          {env.lock.holder} ({env.lock.deployment_id}) — {state}")
    if plan.approval is not None:
        lines.append(f"approval      consumes {plan.approval.summary}")
    lines.append("steps")
    width = max((len(s.action.value) for s in plan.steps), default=0)
    for number, step in enumerate(plan.steps, 1):
        percent = f" [{step.percent}%]" if step.percent is not None else ""
        lines.append(f"  {number}. {step.action.value:<{width}}  {step.detail}{percent}")
    if not plan.steps:
        lines.append("  (none)")
    lines += _failure_line(plan)
    lines += [f"note          {note}" for note in plan.notes]
    return lines


def _what_changes(plan: Plan) -> list[str]:
    if plan.kind is PlanKind.DEPLOY:
        art = plan.release
        if art is None and any(s.action is StepAction.BUILD for s in plan.steps):
            return ["will publish  a new build (its digest is known once built)"]
        if art is None:
            return ["will publish  nothing yet (see the gate)"]
        origin = (
            f"built by {art.builder or '?'} from {art.branch or '?'} @ {(art.commit or '?')[:12]}"
        )
        return [f"will publish  release {art.short} ({origin})"]
    if plan.kind is PlanKind.ROLLBACK and plan.rollback_target is not None:
        target = plan.rollback_target
        return [f"will go to    version {target.version} ({(target.digest or '?')[:12]})"]
    return ["will resolve  interrupted work only"]


def _gate_line(plan: Plan) -> str:
    gate = plan.gate
    if gate.ok:
        return f"gate          open — {gate.message}"
    return f"gate          BLOCKED ({gate.code}) — {gate.message}"


def _failure_line(plan: Plan) -> list[str]:
    target = plan.rollback_target
    if plan.kind is not PlanKind.DEPLOY or target is None:
        return []
    where = f"version {target.version}" if target.version else "no version"
    return [f"on failure    back to {where} — {target.why}; verified by the same checks"]
