"""Turning answers into HTTP: Jinja2 pages (autoescaped), JSON bodies shaped as ``--json``
shapes them (``{"ok", "error": {"code", "message", "hint"}}`` on failure, DESIGN §4), and the
one place errors become statuses — so bad input meets a clean 4xx, never a traceback.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_promote.errors import AuthenticationError, PromoteError, UsageError
from lambda_promote.output import iso, jsonable
from lambda_promote.web.security import HttpProblem, signed_in

if TYPE_CHECKING:
    from jinja2 import Environment
    from starlette.requests import Request
    from starlette.responses import Response

    from lambda_promote.web.context import WebContext

TEMPLATES = Path(__file__).with_name("templates")
log = logging.getLogger("lambda_promote.web")
_TITLES = {
    400: "Bad request",
    401: "Sign in needed",
    403: "Refused",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported media type",
    500: "Server error",
    503: "Unavailable",
}


@lru_cache(maxsize=1)
def templates() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
    )
    env.globals["iso"] = iso
    return env


def context_of(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx


def page(request: Request, name: str, *, status: int = 200, **values: Any) -> Response:
    from starlette.responses import HTMLResponse

    ctx = context_of(request)
    flash = values.pop("flash", None)
    text = (
        templates()
        .get_template(name)
        .render(
            project=ctx.config.project,
            who=signed_in(request),
            can_decide=ctx.can_decide,
            request_path=request.url.path,
            nav=values.pop("nav", ""),
            flash=flash,
            status=status,
            now=iso(datetime.now(UTC)),
            **values,
        )
    )
    # A page may carry the session's CSRF token: no cache (a proxy's included) keeps it.
    return HTMLResponse(text, status_code=status, headers={"Cache-Control": "no-store"})


def fragment(name: str, **values: Any) -> Response:
    from starlette.responses import HTMLResponse

    text = templates().get_template(name).render(now=iso(datetime.now(UTC)), **values)
    return HTMLResponse(text, headers={"Cache-Control": "no-store"})


def json_answer(body: dict[str, Any], *, status: int = 200) -> Response:
    from starlette.responses import JSONResponse

    return JSONResponse(jsonable(body), status_code=status, headers={"Cache-Control": "no-store"})


def status_of(error: BaseException) -> int:
    if isinstance(error, HttpProblem):
        return error.status
    if isinstance(error, AuthenticationError):
        return 503 if error.code == "oidc_unavailable" else 401
    if isinstance(error, UsageError):
        return 400
    return 500


def problem(request: Request, error: BaseException, *, status: int | None = None) -> Response:
    """The answer for any refusal or failure: JSON under /api/, a page elsewhere."""
    code = status or status_of(error)
    if isinstance(error, PromoteError):
        body = {"code": error.code, "message": error.message, "hint": error.hint}
    else:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
        body = {"code": "unexpected", "message": "unexpected error", "hint": "see the log"}
    if code == 401 and isinstance(error, HttpProblem):
        body["hint"] = body["hint"] or "GET /login"
    if request.url.path.startswith("/api/"):
        return json_answer({"ok": False, "error": body}, status=code)
    return page(
        request,
        "error.html",
        status=code,
        title=_TITLES.get(code, "Error"),
        message=body["message"],
        hint=body["hint"],
    )
