"""``serve`` for the tests of DESIGN §11.7: a project on the local target (cli_project) whose
release succeeded in staging and waits for production's approval, a real OIDC issuer on
127.0.0.1 (oidc_issuer), and the dashboard served by a real uvicorn on 127.0.0.1 — its port
chosen first, so ``server.base_url`` and the issuer's redirect URI name it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from cli_project import Project, make_project
from lambda_promote.config import snapshot
from lambda_promote.ui import UI
from lambda_promote.web.app import create_app
from lambda_promote.web.context import WebContext, open_context
from lambda_promote.workspace import Workspace
from oidc_issuer import TestIssuer

SECRET = "s" * 40
SECRET_ENV = "LP_TEST_SESSION_SECRET"


def server_block(base_url: str, issuer: str | None, *, require_login: bool = False) -> str:
    lines = [
        "server:",
        f"  base_url: {base_url}",
        f"  session_secret_env: {SECRET_ENV}",
        f"  require_login: {'true' if require_login else 'false'}",
    ]
    if issuer is not None:
        lines += [
            "  oidc:",
            f"    issuer: {issuer}",
            "    client_id: lambda-promote",
            "    username_claim: preferred_username",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Served:
    project: Project
    url: str
    ctx: WebContext
    issuer: TestIssuer | None
    request_id: str
    digest: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)

    def login(self, client: httpx.Client, user: str) -> httpx.Response:
        """The whole authorization-code flow, as a browser follows it; the last answer."""
        assert self.issuer is not None
        self.issuer.user = user
        answer = client.get("/login")
        assert answer.status_code == 302, answer.text
        at_issuer = httpx.get(answer.headers["location"], follow_redirects=False)
        assert at_issuer.status_code == 302, at_issuer.text
        return client.get(at_issuer.headers["location"])

    def session(self, client: httpx.Client) -> dict[str, Any]:
        body: dict[str, Any] = client.get("/api/session").json()
        return body

    def decide(self, client: httpx.Client, decision: str, **headers: str) -> httpx.Response:
        token = self.session(client)["csrf_token"] or ""
        return client.post(
            f"/api/approvals/{self.request_id}/decision",
            json={"decision": decision, "comment": "looks good"},
            headers={"X-CSRF-Token": token, **headers},
        )

    def absolute(self, path: str) -> str:
        return urljoin(self.url, path)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def prepared_project(
    root: Path, server: str, *, requester: str = "alice", state: str | None = None
) -> tuple[Project, str, str]:
    """Staging holds a release; production waits on an approval request by ``requester``."""
    project = make_project(root, state=state)
    with (root / "promote.yaml").open("a") as config:
        config.write(server)
    _, body = project.run("deploy", "staging", check=0)
    _, asked = project.run("request-approval", "production", user=requester, check=0)
    return project, asked["approval_request"]["id"], body["deployment"]["digest"]


@contextmanager
def serving(
    root: Path,
    *,
    issuer: TestIssuer | None,
    require_login: bool = False,
    requester: str = "alice",
    state: str | None = None,
    base_url: str | None = None,
) -> Iterator[Served]:
    import uvicorn

    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    public = base_url or url  # a proxy's https address, say; the tests still reach ``url``
    server = server_block(public, issuer.url if issuer else None, require_login=require_login)
    project, request_id, digest = prepared_project(root, server, requester=requester, state=state)
    os.environ[SECRET_ENV] = SECRET
    config = snapshot.load(root / "promote.yaml", check_source=False)
    ws = Workspace(config=config, ui=UI(), actor="web")
    ctx = open_context(ws)
    app = create_app(ctx, session_secret=SECRET)
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started, "uvicorn did not start"
    try:
        yield Served(project, url, ctx, issuer, request_id, digest)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        ctx.close()
        sock.close()
        os.environ.pop(SECRET_ENV, None)


@contextmanager
def running_issuer() -> Iterator[TestIssuer]:
    issuer = TestIssuer().start()
    try:
        yield issuer
    finally:
        issuer.stop()
