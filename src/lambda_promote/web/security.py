"""The web's defences (DESIGN §11.7): who is signed in (a session cookie signed with
``server.session_secret_env``: HttpOnly, SameSite=Lax, Secure under https), a CSRF token on
every state-changing request (a form field or the ``X-CSRF-Token`` header, compared in
constant time, plus a same-origin check on ``Origin``), security headers on every answer, and
request bodies read only up to a bound.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lambda_promote.errors import PromoteError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "lambda_promote_session"
SESSION_MAX_AGE = 8 * 3600
MAX_BODY_BYTES = 16 * 1024  # a decision is a word and a comment
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


class HttpProblem(PromoteError):
    """A refusal with an HTTP status; rendered as a page or as ``{"error": …}`` JSON."""

    def __init__(self, status: int, message: str, *, code: str, hint: str = "") -> None:
        super().__init__(message, hint=hint, code=code)
        self.status = status


@dataclass(frozen=True)
class SignedIn:
    user: str
    issuer: str
    subject: str
    csrf: str


def signed_in(request: Request) -> SignedIn | None:
    session = request.session
    user, csrf = session.get("user"), session.get("csrf")
    if not isinstance(user, str) or not isinstance(csrf, str):
        return None
    return SignedIn(user, str(session.get("issuer", "")), str(session.get("subject", "")), csrf)


def sign_in(request: Request, *, user: str, issuer: str, subject: str) -> None:
    """A fresh session (nothing of the pre-login one survives) with a new CSRF token."""
    request.session.clear()
    request.session.update(
        user=user, issuer=issuer, subject=subject, csrf=secrets.token_urlsafe(32)
    )


def require_session(request: Request) -> SignedIn:
    who = signed_in(request)
    if who is None:
        raise HttpProblem(
            401,
            "sign in first: deciding needs a proven identity",
            code="unauthenticated",
            hint="GET /login",
        )
    return who


def require_csrf(request: Request, who: SignedIn, *, submitted: str | None, base_url: str) -> None:
    """403 unless the request carries the session's CSRF token and, when the browser says
    where it comes from, comes from this site (``server.base_url``, or the host it asked)."""
    origin = request.headers.get("origin")
    if origin is not None and origin not in (_origin(base_url), _origin(str(request.base_url))):
        raise HttpProblem(403, f"cross-site request from {origin} refused", code="csrf")
    token = submitted if submitted is not None else request.headers.get(CSRF_HEADER)
    if not token or not secrets.compare_digest(token.encode(), who.csrf.encode()):
        raise HttpProblem(
            403,
            "missing or wrong CSRF token",
            code="csrf",
            hint="GET /api/session gives the token; send it as X-CSRF-Token",
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def read_body(request: Request, *, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused with 413 past ``limit`` (whatever Content-Length claims)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise HttpProblem(413, f"request body over {limit} bytes", code="too_large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HttpProblem(413, f"request body over {limit} bytes", code="too_large")
    return bytes(body)


def content_security_policy(issuer: str | None) -> str:
    """Scripts only from this origin (no inline script, no eval); never framed."""
    form_action = "'self'" + (f" {_origin(issuer)}" if issuer else "")
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        f"form-action {form_action}; frame-ancestors 'none'"
    )


class SecurityHeaders:
    """ASGI middleware adding the security headers to every answer (errors included)."""

    def __init__(self, app: ASGIApp, *, csp: str, hsts: bool) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.headers if n not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def session_middleware_options(*, secret: str, secure: bool) -> dict[str, Any]:
    """Starlette's SessionMiddleware: an itsdangerous-signed cookie, HttpOnly always."""
    return {
        "secret_key": secret,
        "session_cookie": SESSION_COOKIE,
        "max_age": SESSION_MAX_AGE,
        "same_site": "lax",
        "https_only": secure,
    }
