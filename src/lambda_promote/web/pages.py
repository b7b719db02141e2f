"""The dashboard's HTML pages (DESIGN §11.7). Each reads through ``reads.py`` and renders a
template; every page works with JavaScript off. The two ``/fragments/`` answers are the parts
``static/live.js`` refreshes while something is in flight. Deciding is a plain form POST
carrying the CSRF token; the answer is a redirect back to the request (post/redirect/get).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote

from lambda_promote.errors import PromoteError
from lambda_promote.web import reads
from lambda_promote.web.render import context_of, fragment, page
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

_DONE = {"approved": "Approved.", "rejected": "Rejected."}


def require_reader(request: Request) -> None:
    """``server.require_login``: every page and read needs a session too."""
    if context_of(request).server.require_login and signed_in(request) is None:
        require_session(request)


def environments(request: Request) -> Response:
    require_reader(request)
    ctx = context_of(request)
    error, rows = None, []
    try:
        rows = reads.environment_rows(ctx)
    except PromoteError as failed:  # e.g. the target is unreachable: the ledger still shows
        error = f"could not read the live state: {failed.message}"
    latest = ctx.ledger.deployments(None, limit=10)
    return page(
        request,
        "environments.html",
        nav="environments",
        rows=rows,
        error=error,
        deployments=latest,
    )


def environments_fragment(request: Request) -> Response:
    require_reader(request)
    return fragment("_environments.html", rows=reads.environment_rows(context_of(request)))


def history(request: Request) -> Response:
    require_reader(request)
    ctx = context_of(request)
    found = reads.history(
        ctx, env=request.query_params.get("env") or None, page=page_number(request)
    )
    return page(
        request,
        "history.html",
        nav="history",
        page=found,
        environments=list(ctx.config.environments),
    )


def page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    if not text.isdigit() or len(text) > 6:
        raise HttpProblem(400, f"page {text!r} is not a page number", code="bad_request")
    return int(text)


def deployment(request: Request) -> Response:
    require_reader(request)
    dep = reads.deployment(context_of(request), request.path_params["id"])
    return page(request, "deployment.html", nav="history", dep=dep)


def deployment_fragment(request: Request) -> Response:
    require_reader(request)
    dep = reads.deployment(context_of(request), request.path_params["id"])
    return fragment("_deployment.html", dep=dep)


def report(request: Request) -> Response:
    from starlette.responses import HTMLResponse

    require_reader(request)
    ctx = context_of(request)
    dep = reads.deployment(ctx, request.path_params["id"])
    return HTMLResponse(reads.report_html(ctx, dep))


def approvals(request: Request) -> Response:
    require_reader(request)
    return page(
        request, "approvals.html", nav="approvals", views=reads.approvals(context_of(request))
    )


def approval(request: Request) -> Response:
    require_reader(request)
    view = reads.approval(context_of(request), request.path_params["id"])
    done = _DONE.get(request.query_params.get("done", ""))
    flash = {"kind": "ok", "text": done} if done else None
    return page(request, "approval.html", nav="approvals", v=view, flash=flash)


async def decide(request: Request) -> Response:
    """The approve/reject form: same rules, same record as the JSON API."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import RedirectResponse

    from lambda_promote.web.deciding import decide as decide_request

    ctx = context_of(request)
    who = require_session(request)
    form = parse_qs((await read_body(request)).decode("utf-8", "replace"))
    require_csrf(request, who, submitted=_first(form, "csrf_token"), base_url=ctx.server.base_url)
    decision = _first(form, "decision")
    view = await run_in_threadpool(
        decide_request,
        ctx,
        who,
        request.path_params["id"],
        decision=decision,
        comment=_first(form, "comment") or "",
    )
    word = "approved" if decision == "approve" else "rejected"
    return RedirectResponse(f"/approvals/{quote(view.request.id)}?done={word}", status_code=303)


def _first(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def audit(request: Request) -> Response:
    require_reader(request)
    ctx = context_of(request)
    events = reads.recent_events(ctx)  # first: a verification under way holds the ledger
    return page(request, "audit.html", nav="audit", audit=reads.audit_state(ctx), events=events)


def metrics(request: Request) -> Response:
    from lambda_promote.web.metrics_view import CHART_TITLES, DEFAULT_SINCE
    from lambda_promote.web.metrics_view import metrics as read_metrics

    require_reader(request)
    ctx = context_of(request)
    since = request.query_params.get("since") or DEFAULT_SINCE
    env = request.query_params.get("env") or None
    view = read_metrics(ctx, env=env, since=since, charts=True)
    return page(
        request,
        "metrics.html",
        nav="metrics",
        view=view,
        since=since,
        titles=CHART_TITLES,
        environments=list(ctx.config.environments),
    )
