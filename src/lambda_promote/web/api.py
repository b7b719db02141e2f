"""The JSON API under ``/api/`` (DESIGN §11.7), mirroring the CLI's ``--json``: each answer
carries ``ok``, ``command``, ``exit_code`` and ``error`` as the command would, plus the same
keys (``environments``, ``deployments``, ``deployment``, ``approval_request``, ``audit``).
Refusals are ``{"ok": false, "error": {"code", "message", "hint"}}`` with a 4xx status.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from lambda_promote.output import deployment_json
from lambda_promote.web import reads
from lambda_promote.web.pages import page_number, require_reader
from lambda_promote.web.render import context_of, json_answer
from lambda_promote.web.security import (
    HttpProblem,
    read_body,
    require_csrf,
    require_session,
    signed_in,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response


def session(request: Request) -> Response:
    """Who is signed in, and the CSRF token a script sends back as ``X-CSRF-Token``."""
    who = signed_in(request)
    return json_answer(
        {
            "user": who.user if who else None,
            "csrf_token": who.csrf if who else None,
            "issuer": who.issuer if who else None,
            "can_decide": context_of(request).can_decide,
        }
    )


def status(request: Request) -> Response:
    require_reader(request)
    return json_answer(reads.status_json(context_of(request)))


def history(request: Request) -> Response:
    require_reader(request)
    env = request.query_params.get("env") or None
    found = reads.history(context_of(request), env=env, page=page_number(request))
    return json_answer(found.to_json())


def deployment(request: Request) -> Response:
    require_reader(request)
    dep = reads.deployment(context_of(request), request.path_params["id"])
    return json_answer({**reads.ok("show"), "deployment": deployment_json(dep)})


def approvals(request: Request) -> Response:
    require_reader(request)
    views = reads.approvals(context_of(request))
    return json_answer({**reads.ok("approvals"), "approval_requests": [v.to_json() for v in views]})


def approval(request: Request) -> Response:
    require_reader(request)
    view = reads.approval(context_of(request), request.path_params["id"])
    return json_answer({**reads.ok("approvals"), "approval_request": view.to_json()})


async def decide(request: Request) -> Response:
    """``POST /api/approvals/{id}/decision`` with ``{"decision", "comment"}`` and the
    ``X-CSRF-Token`` header: 401 without a session, 403 without the token or when the gate
    refuses, 200 with ``approval_request`` once recorded."""
    from starlette.concurrency import run_in_threadpool

    from lambda_promote.web.deciding import decide as decide_request

    ctx = context_of(request)
    who = require_session(request)
    require_csrf(request, who, submitted=None, base_url=ctx.server.base_url)
    body = await _json_body(request)
    view = await run_in_threadpool(
        decide_request,
        ctx,
        who,
        request.path_params["id"],
        decision=body.get("decision"),
        comment=body.get("comment", ""),
    )
    return json_answer({**reads.ok(str(body["decision"])), "approval_request": view.to_json()})


async def _json_body(request: Request) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise HttpProblem(415, "send the decision as application/json", code="bad_request")
    raw = await read_body(request)
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise HttpProblem(400, "the body is not valid JSON", code="bad_request") from None
    if not isinstance(body, dict):
        raise HttpProblem(400, "the body must be a JSON object", code="bad_request")
    return body


def audit(request: Request) -> Response:
    require_reader(request)
    ctx = context_of(request)
    events = reads.recent_events(ctx)  # first: a verification under way holds the ledger
    return json_answer({**reads.ok("audit"), "audit": reads.audit_state(ctx), "events": events})


def metrics(request: Request) -> Response:
    """``metrics [ENV] --since … --json``'s ``metrics`` (DESIGN §11.8); ``charts=svg`` adds
    the charts as SVG documents."""
    from lambda_promote.web.metrics_view import DEFAULT_SINCE
    from lambda_promote.web.metrics_view import metrics as read_metrics

    require_reader(request)
    params = request.query_params
    view = read_metrics(
        context_of(request),
        env=params.get("env") or None,
        since=params.get("since") or DEFAULT_SINCE,
        charts=params.get("charts") == "svg",
    )
    answer: dict[str, Any] = {**reads.ok("metrics"), "metrics": view.figures}
    if params.get("charts") == "svg":
        answer["charts"] = view.charts
        answer["charts_missing"] = view.charts_missing
    return json_answer(answer)
