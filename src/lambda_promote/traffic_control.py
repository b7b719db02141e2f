"""``lambda-promote abort ENV`` and ``finish ENV`` (DESIGN §11.5): a person's request to a
running shift, and how the running deploy reads it.

A request is an audit event (``traffic.abort`` / ``traffic.finish``) naming the deployment it
is for, with the actor, the reason and the time — so it is hash-chained like every other
action (§5.7) and needs no table of its own. The deploy that runs the shift remembers the
audit head when it starts and, through every bake, reads the events appended since
(``AuditControl.requested``, about once a second): one process can ask another to stop
through nothing but the ledger they share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambda_promote.errors import PromoteError
from lambda_promote.shift import ControlAction, ControlRequest
from lambda_promote.traffic import TrafficError, parse_traffic

if TYPE_CHECKING:
    from lambda_promote.ledger.base import Ledger
    from lambda_promote.model import AuditEvent, Deployment
    from lambda_promote.workspace import Workspace

ACTIONS: dict[ControlAction, str] = {"abort": "traffic.abort", "finish": "traffic.finish"}


class AuditControl:
    """``shift.Control`` over the audit trail: the newest request for ``deployment_id``
    appended after ``since_seq``. An abort outranks a finish."""

    def __init__(self, ledger: Ledger, env: str, deployment_id: str, since_seq: int) -> None:
        self._ledger = ledger
        self._env = env
        self._deployment_id = deployment_id
        self._seen = since_seq
        self._found: dict[ControlAction, ControlRequest] = {}

    def requested(self) -> ControlRequest | None:
        for event in self._ledger.audit_events(env=self._env, since_seq=self._seen):
            self._seen = max(self._seen, event.seq)
            request = _request_of(event, self._deployment_id)
            if request is not None:
                self._found[request.action] = request
        return self._found.get("abort") or self._found.get("finish")


def audit_seq(ledger: Ledger) -> int:
    """Where a shift starts listening: requests made before its deployment began are not
    for it (they name another deployment anyway)."""
    head = ledger.audit_head()
    return head.seq if head is not None else 0


def request(ws: Workspace, env: str, action: ControlAction, *, reason: str) -> Deployment:
    """Record ``action`` for the deployment running in ``env``; ``PromoteError`` (exit 1) when
    none runs there or the environment does not shift progressively."""
    from lambda_promote.config.lookup import require_env

    spec = require_env(ws.config, env)
    try:
        progressive = parse_traffic(spec.traffic).progressive
    except TrafficError:
        progressive = False
    if not progressive:
        raise PromoteError(
            f"{env} moves its traffic all at once (traffic: {spec.traffic}): there is no shift "
            f"to {action}",
            hint=f"to undo a deployment there, run `lambda-promote rollback {env}`",
            code="no_shift",
        )
    running = _running(ws.ledger, env)
    ws.audit(
        ACTIONS[action],
        env=env,
        digest=running.digest,
        reason=reason,
        details={"deployment_id": running.id},
    )
    return running


def _running(ledger: Ledger, env: str) -> Deployment:
    unfinished = ledger.unfinished(env)
    if not unfinished:
        raise PromoteError(
            f"no deployment is running in {env}",
            hint=f"`lambda-promote status {env}` shows what is live; "
            f"`lambda-promote rollback {env}` undoes a finished one",
            code="no_shift",
        )
    return max(unfinished, key=_created)


def _created(dep: Deployment) -> float:
    return dep.created_at.timestamp() if dep.created_at else 0.0


def _request_of(event: AuditEvent, deployment_id: str) -> ControlRequest | None:
    action = _ACTION_OF.get(event.action)
    details = event.details if isinstance(event.details, dict) else {}
    if action is None or details.get("deployment_id") != deployment_id:
        return None
    return ControlRequest(action, event.actor, event.reason, event.at)


_ACTION_OF: dict[str, ControlAction] = {v: k for k, v in ACTIONS.items()}
