"""The Starlette application of ``serve`` (DESIGN §11.7): the routes of pages.py, api.py and
auth.py, the fixed paths of the contract, the session and security-header middleware, and the
error handlers that answer every refusal or failure with a clean page or JSON body.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_promote.web import api, auth, pages
from lambda_promote.web.render import problem
from lambda_promote.web.security import (
    HttpProblem,
    SecurityHeaders,
    content_security_policy,
    session_middleware_options,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from lambda_promote.web.context import WebContext

STATIC = Path(__file__).with_name("static")


def routes() -> list[Any]:
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    return [
        Route("/", pages.environments),
        Route("/fragments/environments", pages.environments_fragment),
        Route("/history", pages.history),
        Route("/deployments/{id}", pages.deployment),
        Route("/fragments/deployments/{id}", pages.deployment_fragment),
        Route("/deployments/{id}/report", pages.report),
        Route("/approvals", pages.approvals),
        Route("/approvals/{id}", pages.approval),
        Route("/approvals/{id}/decision", pages.decide, methods=["POST"]),
        Route("/audit", pages.audit),
        Route("/metrics", pages.metrics),
        Route("/login", auth.login),
        Route("/auth/callback", auth.callback),
        Route("/logout", auth.logout, methods=["POST"]),
        Route("/api/session", api.session),
        Route("/api/status", api.status),
        Route("/api/history", api.history),
        Route("/api/deployments/{id}", api.deployment),
        Route("/api/approvals", api.approvals),
        Route("/api/approvals/{id}", api.approval),
        Route("/api/approvals/{id}/decision", api.decide, methods=["POST"]),
        Route("/api/audit", api.audit),
        Route("/api/metrics", api.metrics),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]


def create_app(ctx: WebContext, *, session_secret: str) -> Starlette:
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware

    from lambda_promote.errors import PromoteError

    def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "bad_request")
        return problem(request, HttpProblem(error.status_code, error.detail, code=code))

    def refused(request: Request, error: Exception) -> Response:
        return problem(request, error)

    issuer = ctx.server.oidc.issuer if ctx.server.oidc is not None else None
    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(
                SecurityHeaders,
                csp=content_security_policy(issuer),
                hsts=ctx.secure_cookies,
            ),
            Middleware(
                SessionMiddleware,
                **session_middleware_options(secret=session_secret, secure=ctx.secure_cookies),
            ),
        ],
        exception_handlers={
            HTTPException: http_error,
            PromoteError: refused,
            Exception: refused,
        },
    )
    app.state.ctx = ctx
    return app
