"""``lambda-promote serve [--host 127.0.0.1] [--port 8000]`` (DESIGN §11.7): the dashboard
and authenticated approvals, from the ledger of promote.yaml. Needs the ``web`` extra; the
configuration problems it can meet (``server.require_login`` without ``oidc``, a missing
session secret) exit 2 before anything listens.
"""

from __future__ import annotations

import importlib.util

import click

from lambda_promote.invocation import Invocation, Outcome, command

WEB_MODULES = ("starlette", "jinja2", "uvicorn", "httpx", "joserfc", "itsdangerous")


def require_web() -> None:
    from lambda_promote.errors import UsageError

    missing = [m for m in WEB_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(
            f"serve needs {', '.join(missing)}, which is not installed",
            hint="install the web extra: pip install 'lambda-promote[web]'",
        )


@command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
def serve_command(inv: Invocation, host: str, port: int) -> Outcome:
    """The dashboard: environments, history, reports, approvals (OIDC), audit, metrics."""
    require_web()
    import uvicorn

    from lambda_promote.web.app import create_app
    from lambda_promote.web.context import open_context, session_secret

    ws = inv.workspace()
    secret = session_secret(ws.config.server)  # exit 2 before anything opens or listens
    ctx = open_context(ws)
    app = create_app(ctx, session_secret=secret)
    mode = "approvals by " + ctx.server.oidc.issuer if ctx.server.oidc else "read-only"
    inv.ui.ok(f"serving {ws.config.project} on http://{host}:{port} ({mode})")
    try:
        uvicorn.run(
            app, host=host, port=port, log_level="warning", proxy_headers=True, server_header=False
        )
    finally:
        ctx.close()
    return Outcome(data={"served": {"host": host, "port": port}})
