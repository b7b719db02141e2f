"""``serve`` in a real browser (DESIGN §11.7, issue 19): Chromium signs in through the test OIDC
issuer's login form, reads the evidence, approves by clicking — and the next `deploy
production` through the CLI goes through with the decision recorded as proven. A cross-site
page's POST changes nothing; a deployment's page follows its progress without a reload; the
metrics page shows the four charts. Screenshots of the main pages are kept as test artifacts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import browser_fixtures
from browser_fixtures import artifacts_dir
from web_fixtures import Served, running_issuer, serving

browser_page = browser_fixtures.browser_page  # the fixture, shared with other browser tests


@pytest.fixture
def shots(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Any:
    folder = artifacts_dir(tmp_path_factory)

    def shoot(page: Any, name: str) -> Path:
        path = folder / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with running_issuer() as issuer, serving(tmp_path / "p", issuer=issuer) as served:
        issuer.user = None  # the issuer shows its login form: the reviewer types a name
        yield served


def sign_in(page: Any, served: Served, user: str, *, next_path: str = "/") -> None:
    page.goto(served.absolute(next_path))
    page.click("#login")
    page.fill("#username", user)
    page.click("#sign-in")
    page.wait_for_selector("#user")
    assert user in page.inner_text("#user")


def test_a_reviewer_signs_in_reads_the_evidence_approves_and_production_deploys(
    browser_page: Any, served: Served, shots: Any
) -> None:
    page = browser_page
    page.goto(served.url)
    assert "staging" in page.inner_text("#environments")
    shots(page, "environments")
    sign_in(page, served, "lead", next_path=f"/approvals/{served.request_id}")
    assert page.url.endswith(f"/approvals/{served.request_id}")
    evidence = page.inner_text("#evidence")
    assert served.digest in evidence
    assert "1 of 1 checks passed" in evidence
    shots(page, "approval-request")
    page.fill("#comment", "checks green in staging")
    page.click("#approve")
    page.wait_for_selector(".flash.ok")
    assert page.inner_text("#request-state") == "granted"
    assert "proven by" in page.inner_text("#decisions")
    shots(page, "approval-granted")

    _, deployed = served.project.run("deploy", "production", user="lead", check=0)
    assert deployed["deployment"]["digest"] == served.digest
    row = served.project.sql("select reviewer, source, subject from approval_decisions")
    assert row == [("lead", "web", "sub-lead")]
    served.project.run("audit", "--verify", check=0)

    page.goto(served.absolute("/"))
    assert "production" in page.inner_text("#env-production")
    assert deployed["deployment"]["version"] in page.inner_text("#env-production")
    shots(page, "environments-after")
    for path, name in (("/history", "history"), ("/audit", "audit"), ("/approvals", "approvals")):
        page.goto(served.absolute(path))
        shots(page, name)
    assert "intact" in page.goto(served.absolute("/audit")).text()

    page.goto(served.absolute("/metrics?env=production"))
    charts = page.locator("#charts figure svg")
    assert charts.count() == 4
    assert charts.first.bounding_box()["width"] > 200  # drawn, not an empty box
    assert "1 succeeded" in page.inner_text("#figures")
    shots(page, "metrics")


class _Evil(BaseHTTPRequestHandler):
    target = ""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        page = (
            "<!doctype html><form id=f method=post action='" + self.target + "'>"
            "<input name=decision value=approve></form>"
            "<script>document.getElementById('f').submit()</script>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)


def test_a_cross_site_post_from_another_page_changes_nothing(
    browser_page: Any, served: Served
) -> None:
    page = browser_page
    sign_in(page, served, "lead")
    before = served.project.counts()
    _Evil.target = served.absolute(f"/approvals/{served.request_id}/decision")
    evil = ThreadingHTTPServer(("127.0.0.1", 0), _Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        # "localhost" is another site than 127.0.0.1: SameSite=Lax keeps the cookie home.
        answer = page.goto(f"http://localhost:{evil.server_address[1]}/")
        page.wait_for_load_state("load")
        page.wait_for_timeout(500)
    finally:
        evil.shutdown()
        evil.server_close()
    assert answer is not None
    assert served.project.counts() == before
    page.goto(served.absolute(f"/approvals/{served.request_id}"))
    assert page.inner_text("#request-state") == "open"


def test_a_deployment_page_follows_its_progress_live(
    browser_page: Any, served: Served, shots: Any
) -> None:
    page = browser_page
    project = served.project
    project.release("slow", sleep=4)
    deploying = project.popen("deploy", "staging")
    try:
        deployment_id = _in_flight(project)
        page.goto(served.absolute(f"/deployments/{deployment_id}"))
        loaded = page.evaluate("performance.timeOrigin")
        assert page.get_attribute("#progress", "data-state") != "succeeded"
        shots(page, "in-flight")
        page.wait_for_selector('#progress[data-state="succeeded"]', timeout=60_000)
        assert page.evaluate("performance.timeOrigin") == loaded, "the page must not reload"
        shots(page, "finished")
    finally:
        deploying.communicate(timeout=120)
    assert deploying.returncode == 0


def _in_flight(project: Any) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = project.sql(
            "select id from deployments where state not in "
            "('succeeded','failed','rolled_back','rollback_failed') and env = 'staging'"
        )
        if rows:
            return str(rows[0][0])
        time.sleep(0.1)
    raise AssertionError("the deployment never showed up in the ledger")
