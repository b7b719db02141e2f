"""What every request of ``serve`` works with: the project's config, one ledger and one target
shared by all requests (both are safe across threads), the OIDC client when ``server.oidc`` is
set, and a per-request ``Workspace`` acting as the signed-in reviewer — so a decision made here
goes through ``promotion.decide`` exactly as ``lambda-promote approve`` does.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lambda_promote.errors import ConfigError
from lambda_promote.workspace import Parts, Workspace

if TYPE_CHECKING:
    from lambda_promote.config.schema import Config, Server
    from lambda_promote.ledger.base import Ledger
    from lambda_promote.targets.base import Target
    from lambda_promote.ui import UI
    from lambda_promote.web.oidc import OidcClient

MIN_SECRET_LENGTH = 32
READER = "web"  # the actor of a read-only workspace (reads record nothing)
SECRET_HINT = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def session_secret(server: Server, environ: dict[str, str] | None = None) -> str:
    """The key that signs session cookies, from ``server.session_secret_env``. Without
    ``oidc`` nobody signs in, so a random key serves; with it a missing or short key is a
    configuration error (exit 2): sessions must survive a restart and never be guessable."""
    values = os.environ if environ is None else environ
    name = server.session_secret_env
    secret = values.get(name, "")
    if server.oidc is None:
        return secret or secrets.token_urlsafe(32)
    if len(secret) < MIN_SECRET_LENGTH:
        said = "is not set" if not secret else f"is shorter than {MIN_SECRET_LENGTH} characters"
        raise ConfigError(
            f"server.session_secret_env: ${name} {said}; it signs the session cookies of serve",
            hint=f"export {name}=$({SECRET_HINT})",
        )
    return secret


def check_server(server: Server) -> None:
    if server.require_login and server.oidc is None:
        raise ConfigError(
            "server.require_login is true but server.oidc is not set: nobody could sign in",
            hint="configure server.oidc (issuer, client_id), or drop require_login",
        )


class Latest:
    """The newest answer of a slow computation (verifying the whole audit chain takes seconds
    at 60,000 events), recomputed in a background thread when its key (the chain's head)
    moves — one run at a time — so a page waits at most ``wait`` seconds and otherwise shows
    the last answer, saying it is not for the current head yet."""

    def __init__(self, compute: Callable[[], dict[str, Any]]) -> None:
        self._compute = compute
        self._lock = threading.Lock()
        self._key: str | None = None
        self._value: dict[str, Any] | None = None
        self._running: threading.Event | None = None

    def covers(self, prefix: str) -> bool:
        """Whether the answer kept was computed for a key starting with ``prefix``."""
        with self._lock:
            return self._key is not None and self._key.startswith(f"{prefix}:")

    def get(self, key: str, *, wait: float) -> tuple[dict[str, Any] | None, bool]:
        """``(answer, fresh)``: the answer for ``key`` if ready within ``wait`` seconds
        (fresh), else the previous one (or None) while the new one is computed."""
        with self._lock:
            if self._key == key:
                return self._value, True
            if self._running is None:
                self._running = threading.Event()
                threading.Thread(target=self._run, args=(key, self._running), daemon=True).start()
            running = self._running
        running.wait(wait)
        with self._lock:
            return self._value, self._key == key

    def _run(self, key: str, done: threading.Event) -> None:
        try:
            value = self._compute()
        except Exception as failed:  # reported on the page; the next request tries again
            value = {"ok": False, "problem": f"could not verify: {failed}", "count": 0}
        with self._lock:
            self._key, self._value, self._running = key, value, None
        done.set()


@dataclass
class WebContext:
    config: Config
    ui: UI
    ledger: Ledger
    target: Target
    oidc: OidcClient | None = None
    audit_check: Latest | None = None
    # The newest metrics answer (web/metrics_view.py ``Kept``), by env, window and head.
    charts: dict[str, Any] = field(default_factory=dict)

    @property
    def server(self) -> Server:
        return self.config.server

    @property
    def secure_cookies(self) -> bool:
        return self.server.base_url.startswith("https://")

    @property
    def can_decide(self) -> bool:
        return self.oidc is not None

    def workspace(self, actor: str = READER) -> Workspace:
        """A workspace over the shared parts, acting as ``actor``."""
        return Workspace(
            config=self.config,
            ui=self.ui,
            actor=actor,
            parts=Parts(ledger=self.ledger, target=self.target),
        )

    def close(self) -> None:
        if self.oidc is not None:
            self.oidc.close()
        close = getattr(self.ledger, "close", None)
        if close is not None:
            close()


def open_context(ws: Workspace, *, oidc_http: Any = None) -> WebContext:
    """The context for serving ``ws``'s project (its ledger and target are shared)."""
    server = ws.config.server
    check_server(server)
    oidc = None
    if server.oidc is not None:
        from lambda_promote.web.oidc import OidcClient

        secret_env = server.oidc.client_secret_env
        oidc = OidcClient(
            server.oidc,
            redirect_uri=f"{server.base_url.rstrip('/')}/auth/callback",
            client_secret=os.environ.get(secret_env) if secret_env else None,
            http=oidc_http,
        )
    return WebContext(config=ws.config, ui=ws.ui, ledger=ws.ledger, target=ws.target, oidc=oidc)
