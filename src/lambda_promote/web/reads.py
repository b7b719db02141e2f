"""What the dashboard and ``/api/`` show, read from the ledger through the CLI's own service
functions (``status.status``, ``status.show``, ``reports.render``, ``gate.evaluate``,
``audit.verify``) and shaped as ``--json`` shapes them. Every query is bounded, so a page
stays fast at 10,000 deployments: history pages read at most ``MAX_HISTORY_ROWS`` rows, the
approvals page the newest ``APPROVALS_SHOWN`` requests, and the audit verification — the one
read of the whole trail — is kept until the chain's head moves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lambda_promote.output import deployment_json, iso, request_json
from lambda_promote.web.context import READER
from lambda_promote.web.security import HttpProblem

if TYPE_CHECKING:
    import click

    from lambda_promote.gate import GateVerdict
    from lambda_promote.model import ApprovalRequest, Deployment
    from lambda_promote.web.context import WebContext

PER_PAGE = 50
MAX_HISTORY_ROWS = 2000  # page 40; older history: `lambda-promote history --limit`
APPROVALS_SHOWN = 50
AUDIT_EVENTS_SHOWN = 50


def environment_rows(ctx: WebContext) -> list[dict[str, Any]]:
    """``status --json``'s environments as a list, each with its name, for the pages."""
    found = status_json(ctx)["environments"]
    return [{"env": name, **values} for name, values in found.items()]


def status_json(ctx: WebContext) -> dict[str, Any]:
    """``status --json`` (DESIGN §4, §11.3), computed by the ``status`` command's own body."""
    from lambda_promote.commands import status_command

    return command_json(ctx, status_command, env=None)


def command_json(ctx: WebContext, command: click.Command, **params: Any) -> dict[str, Any]:
    """What ``lambda-promote COMMAND --json`` prints on success, from the command's own body
    (the function ``invocation.command`` wrapped), so the API cannot drift from the CLI."""
    import io

    from lambda_promote.invocation import Invocation
    from lambda_promote.output import jsonable
    from lambda_promote.ui import UI

    ui = UI(json_mode=True, err=io.StringIO())  # the command's human lines stay out of the log
    inv = Invocation(
        ctx.config.path,
        json_mode=True,
        debug=False,
        actor_name=READER,
        ui=ui,
        _workspace=ctx.workspace(),
    )
    body = command.callback.__wrapped__  # type: ignore[union-attr]
    outcome = body(inv, **params)
    answer = {**ok(command.name or ""), **jsonable(outcome.data)}
    if ui.warnings:
        answer.setdefault("warnings", ui.warnings)
    return answer


def ok(command: str) -> dict[str, Any]:
    return {"ok": True, "command": command, "exit_code": 0, "error": None}


@dataclass(frozen=True)
class HistoryPage:
    env: str | None
    page: int
    deployments: list[Deployment]
    has_next: bool

    def to_json(self) -> dict[str, Any]:
        return {
            **ok("history"),
            "env": self.env,
            "page": self.page,
            "per_page": PER_PAGE,
            "next_page": self.page + 1 if self.has_next else None,
            "deployments": [deployment_json(d) for d in self.deployments],
        }


def history(ctx: WebContext, *, env: str | None, page: int) -> HistoryPage:
    """Page ``page`` (from 1) of the history, newest first. The ledger lists newest first
    with a limit, so page N reads N pages — bounded by ``MAX_HISTORY_ROWS``."""
    if env is not None and env not in ctx.config.environments:
        raise HttpProblem(404, f"no environment {env!r}", code="not_found")
    last_page = MAX_HISTORY_ROWS // PER_PAGE
    if page < 1 or page > last_page:
        raise HttpProblem(
            400,
            f"page {page} is out of range 1–{last_page}",
            code="bad_request",
            hint="older history: `lambda-promote history --limit N`",
        )
    rows = ctx.ledger.deployments(env, limit=page * PER_PAGE + 1)
    shown = rows[(page - 1) * PER_PAGE : page * PER_PAGE]
    has_next = len(rows) > page * PER_PAGE and page < last_page
    return HistoryPage(env, page, shown, has_next)


def deployment(ctx: WebContext, deployment_id: str) -> Deployment:
    """The deployment with its transitions and checks; 404 for an id the ledger lacks."""
    found = ctx.ledger.get_deployment(deployment_id) if len(deployment_id) <= 64 else None
    if found is None:
        raise HttpProblem(
            404,
            f"no deployment {deployment_id!r}",
            code="not_found",
            hint="the history lists deployments with their ids",
        )
    return found


def report_html(ctx: WebContext, dep: Deployment) -> str:
    """The deployment's HTML report, as ``lambda-promote report --format html`` renders it."""
    from lambda_promote.reports import render
    from lambda_promote.reports.gather import report_inputs

    ws = ctx.workspace()
    return render(dep, "html", **report_inputs(ws, dep))


@dataclass(frozen=True)
class RequestView:
    request: ApprovalRequest
    verdict: GateVerdict | None  # None: the env has no built-in rule (any more)

    @property
    def state(self) -> str:
        return self.verdict.state if self.verdict is not None else self.request.state.value

    @property
    def decidable(self) -> bool:
        return self.verdict is not None and self.state in ("open", "granted")

    def to_json(self) -> dict[str, Any]:
        return request_json(self.request, self.verdict)


def _view(ctx: WebContext, request: ApprovalRequest, now: datetime) -> RequestView:
    from lambda_promote import gate

    spec = ctx.config.environments.get(request.env)
    rule = spec.approval if spec is not None else None
    if rule is None or rule.provider != "builtin":
        return RequestView(request, None)
    return RequestView(request, gate.evaluate(rule, request, now))


def approvals(ctx: WebContext) -> list[RequestView]:
    now = datetime.now(UTC)
    return [_view(ctx, r, now) for r in ctx.ledger.requests(limit=APPROVALS_SHOWN)]


def approval(ctx: WebContext, request_id: str) -> RequestView:
    usable = request_id.startswith("r-") and len(request_id) <= 64
    request = ctx.ledger.get_request(request_id) if usable else None
    if request is None:
        raise HttpProblem(
            404,
            f"no approval request {request_id!r}",
            code="not_found",
            hint="the approvals page lists them",
        )
    return _view(ctx, request, datetime.now(UTC))


AUDIT_WAIT_SECONDS = 3.0
# An edit in the middle of the chain leaves its head alone: verify again at least this often.
AUDIT_REVERIFY_SECONDS = 60.0


def audit_state(ctx: WebContext) -> dict[str, Any]:
    """Whether the chain verifies (``audit --verify``) up to its current head. Verified again
    in the background when the head moved, and every ``AUDIT_REVERIFY_SECONDS``; an answer
    not ready in ``AUDIT_WAIT_SECONDS`` is the previous verification, ``"fresh": false``."""
    from lambda_promote.web.context import Latest

    if ctx.audit_check is None:
        ctx.audit_check = Latest(lambda: _verify(ctx))
    head = ctx.ledger.audit_head()
    period = int(time.monotonic() // AUDIT_REVERIFY_SECONDS)
    chain = f"{head.seq}:{head.hash}" if head is not None else "empty"
    # The same head verified before: answer at once while the periodic check runs.
    wait = 0.0 if ctx.audit_check.covers(chain) else AUDIT_WAIT_SECONDS
    found, fresh = ctx.audit_check.get(f"{chain}:{period}", wait=wait)
    state: dict[str, Any] = {"ok": None, "count": None, "head": ""}
    state.update(found or {})
    state.setdefault("head", "")
    state["fresh"] = fresh
    state["current_head_seq"] = head.seq if head is not None else None
    return state


def _verify(ctx: WebContext) -> dict[str, Any]:
    from lambda_promote.attested import ledger_problems
    from lambda_promote.audit import verify
    from lambda_promote.audit_trail import keyring

    ring = keyring()
    events = ctx.ledger.audit_events()
    result = verify(events, keyring=ring)
    unbacked = ledger_problems(ctx.ledger, events) if result.ok else []
    last = events[-1] if events else None
    return {
        "ok": result.ok and not (unbacked and ring.current is not None),
        "count": result.count,
        "head": result.head,
        "head_seq": last.seq if last else None,
        "head_at": iso(last.at) if last else None,
        "key_id": ring.current_id,
        "first_bad": result.first_bad,
        "problem": result.problem or None,
        "unbacked": [u.to_json() for u in unbacked],
        "verified_at": iso(datetime.now(UTC)),
    }


def recent_events(ctx: WebContext) -> list[dict[str, Any]]:
    """The newest events, for the audit page (reads only the tail of the trail)."""
    head = ctx.ledger.audit_head()
    if head is None:
        return []
    since = max(0, head.seq - AUDIT_EVENTS_SHOWN)
    events = ctx.ledger.audit_events(since_seq=since)
    return [
        {
            "seq": e.seq,
            "at": iso(e.at),
            "actor": e.actor,
            "action": e.action,
            "env": e.env,
            "digest": e.digest,
            "reason": e.reason,
            "details": e.details,
            "hash": e.hash,
        }
        for e in reversed(events)
    ]
