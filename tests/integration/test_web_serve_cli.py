"""``lambda-promote serve`` as a user starts it (DESIGN §11.7): a configuration it cannot serve
safely exits 2 with a hint before anything listens; a good one serves the ledger's status on
the port asked for, the same JSON as ``status --json``."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx

from cli_project import make_project
from web_fixtures import free_socket, server_block


def test_serve_with_oidc_and_no_session_secret_exits_2_with_a_hint(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    with (project.root / "promote.yaml").open("a") as config:
        config.write(server_block("https://deploys.example.com", "https://id.example.com"))
    code, body = project.run("serve", env={"LP_TEST_SESSION_SECRET": ""})
    assert code == 2
    assert body["error"]["code"] == "config"
    assert "LP_TEST_SESSION_SECRET" in body["error"]["message"]
    assert "export LP_TEST_SESSION_SECRET=" in body["error"]["hint"]


def test_require_login_without_oidc_exits_2(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    with (project.root / "promote.yaml").open("a") as config:
        config.write(server_block("http://127.0.0.1:8000", None, require_login=True))
    code, body = project.run("serve")
    assert code == 2
    assert "nobody could sign in" in body["error"]["message"]


def test_serve_answers_api_status_as_status_json(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    project.run("deploy", "staging", check=0)
    _, status = project.run("status", check=0)
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    served = project.popen("serve", "--port", str(port))
    try:
        deadline, answer = time.monotonic() + 60, None
        while answer is None and time.monotonic() < deadline:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=5)
            except httpx.TransportError:
                assert served.poll() is None, served.communicate()
                time.sleep(0.2)
        assert answer is not None, "serve did not answer within a minute"
        assert answer.status_code == 200
        assert answer.json()["environments"] == status["environments"]
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert "tiny-staging" in page.text
    finally:
        served.send_signal(signal.SIGINT)
        served.communicate(timeout=30)
