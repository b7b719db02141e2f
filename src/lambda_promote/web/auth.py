"""Signing in and out (DESIGN §11.7): ``GET /login`` sends the browser to the issuer with
PKCE, state and nonce kept in the (signed) session; ``GET /auth/callback`` checks the state,
exchanges the code and verifies the ID token (``oidc.py``), then starts a fresh session with a
new CSRF token; ``POST /logout`` (CSRF-checked) ends it.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from lambda_promote.errors import AuthenticationError
from lambda_promote.web.render import context_of
from lambda_promote.web.security import HttpProblem, read_body, require_csrf, sign_in, signed_in

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

PENDING = "login"  # the session key of a login under way


def local_path(target: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site (``//evil``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login(request: Request) -> Response:
    from starlette.responses import RedirectResponse

    ctx = context_of(request)
    if ctx.oidc is None:
        raise HttpProblem(404, "signing in needs server.oidc in promote.yaml", code="read_only")
    start = ctx.oidc.begin()
    request.session[PENDING] = {
        "state": start.state,
        "nonce": start.nonce,
        "verifier": start.verifier,
        "next": local_path(request.query_params.get("next")),
    }
    return RedirectResponse(start.url, status_code=302)


def callback(request: Request) -> Response:
    from starlette.responses import RedirectResponse

    ctx = context_of(request)
    if ctx.oidc is None:
        raise HttpProblem(404, "signing in needs server.oidc in promote.yaml", code="read_only")
    pending = request.session.pop(PENDING, None)
    params = request.query_params
    if not isinstance(pending, dict):
        raise _refused("no sign-in is under way in this browser (or it was already used)")
    state = params.get("state", "")
    if not secrets.compare_digest(state.encode(), str(pending.get("state", "")).encode()):
        raise _refused("the state does not match the sign-in this browser started")
    if "error" in params:
        raise _refused(f"the issuer refused: {params.get('error')}")
    code = params.get("code")
    if not code:
        raise _refused("the issuer sent no authorization code")
    who = ctx.oidc.finish(code, verifier=str(pending["verifier"]), nonce=str(pending["nonce"]))
    sign_in(request, user=who.user, issuer=who.issuer, subject=who.subject)
    ctx.ui.step(f"serve: {who.user} signed in ({who.issuer}, subject {who.subject})")
    return RedirectResponse(local_path(str(pending.get("next"))), status_code=303)


def _refused(why: str) -> AuthenticationError:
    return AuthenticationError(
        f"sign-in refused: {why}", hint="start again at /login", code="login_refused"
    )


async def logout(request: Request) -> Response:
    from urllib.parse import parse_qs

    from starlette.responses import RedirectResponse

    who = signed_in(request)
    if who is not None:
        form = parse_qs((await read_body(request)).decode("utf-8", "replace"))
        submitted = form.get("csrf_token", [None])[0]
        base_url = context_of(request).server.base_url
        require_csrf(request, who, submitted=submitted, base_url=base_url)
    request.session.clear()
    return RedirectResponse("/", status_code=303)
