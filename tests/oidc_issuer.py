"""A real OpenID Connect issuer on 127.0.0.1 for the tests of ``serve`` (DESIGN §11.7): discovery,
JWKS, ``/authorize`` (consents at once for the user the test sets, or shows a one-field login
form when none is set) and ``/token`` with PKCE (S256) checked, signing real RS256 ID tokens.

A test can rotate the signing key (the JWKS then holds only the new one), and shape the next
ID token (``next_claims``: wrong audience, issuer, expiry or nonce; ``forge``: signed by a key
the JWKS does not publish), as a hostile or broken issuer would.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str | None
    method: str | None
    user: str


@dataclass
class TestIssuer:
    client_id: str = "lambda-promote"
    client_secret: str | None = None
    user: str | None = "team-lead"  # None: /authorize shows a login form
    claim: str = "preferred_username"
    next_claims: dict[str, Any] = field(default_factory=dict)  # merged into the next token
    forge: bool = False  # sign the next token with a key the JWKS does not publish
    requests: list[str] = field(default_factory=list)
    _grants: dict[str, Grant] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None
    _keys: list[RSAKey] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._keys = [RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)]

    # --- control --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def rotate(self) -> str:
        """A new signing key; the JWKS publishes only it from now on. Returns its kid."""
        kid = f"k{int(self._keys[-1].kid[1:]) + 1}"  # type: ignore[index]
        self._keys = [RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)]
        return kid

    def jwks(self) -> dict[str, Any]:
        return KeySet(self._keys).as_dict(private=False)

    def mint(self, user: str, *, nonce: str | None, **overrides: Any) -> str:
        """An ID token as this issuer signs it (``overrides`` replace claims; None drops one)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": self.client_id,
            "sub": f"sub-{user}",
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            self.claim: user,
            "email": f"{user}@example.com",
        }
        claims.update(self.next_claims)
        claims.update(overrides)
        self.next_claims = {}
        claims = {k: v for k, v in claims.items() if v is not None}
        key = self._keys[-1]
        if self.forge:
            self.forge = False
            forged = RSAKey.generate_key(2048, parameters={"kid": key.kid}, private=True)
            key = forged
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    def start(self) -> TestIssuer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                issuer._get(self)

            def do_POST(self) -> None:
                issuer._post(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- HTTP ---------------------------------------------------------------------------
    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        self.requests.append(parts.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/.well-known/openid-configuration":
            _json(handler, 200, self._discovery())
        elif parts.path == "/jwks":
            _json(handler, 200, self.jwks())
        elif parts.path == "/authorize":
            self._authorize(handler, query)
        else:
            _json(handler, 404, {"error": "not_found"})

    def _post(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        self.requests.append(parts.path)
        length = int(handler.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        if parts.path == "/token":
            self._token(handler, form)
        elif parts.path == "/authorize":
            self._authorize(handler, form)
        else:
            _json(handler, 404, {"error": "not_found"})

    def _discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def _authorize(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            _json(handler, 400, {"error": "invalid_request"})
            return
        user = query.get("username") or self.user
        if user is None:
            _login_form(handler, query)
            return
        code = secrets.token_urlsafe(16)
        self._grants[code] = Grant(
            client_id=query["client_id"],
            redirect_uri=query.get("redirect_uri", ""),
            nonce=query.get("nonce"),
            challenge=query.get("code_challenge"),
            method=query.get("code_challenge_method"),
            user=user,
        )
        back = urlencode({"code": code, "state": query.get("state", "")})
        handler.send_response(302)
        handler.send_header("Location", f"{query.get('redirect_uri')}?{back}")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _token(self, handler: BaseHTTPRequestHandler, form: dict[str, str]) -> None:
        grant = self._grants.pop(form.get("code", ""), None)  # a code is used once
        if grant is None or form.get("client_id") != grant.client_id:
            _json(handler, 400, {"error": "invalid_grant"})
            return
        if form.get("redirect_uri") != grant.redirect_uri:
            _json(handler, 400, {"error": "invalid_grant"})
            return
        if self.client_secret is not None and form.get("client_secret") != self.client_secret:
            _json(handler, 401, {"error": "invalid_client"})
            return
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if grant.method != "S256" or challenge != grant.challenge:
            _json(handler, 400, {"error": "invalid_grant", "error_description": "PKCE"})
            return
        token = self.mint(grant.user, nonce=grant.nonce)
        _json(handler, 200, {"access_token": "at", "token_type": "Bearer", "id_token": token})


def _json(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _login_form(handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in query.items()
    )
    page = (
        "<!doctype html><title>Test issuer</title><form method=post action=/authorize>"
        f'{hidden}<label>User <input name="username" id="username"></label>'
        '<button type="submit" id="sign-in">Sign in</button></form>'
    ).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Content-Length", str(len(page)))
    handler.end_headers()
    handler.wfile.write(page)
