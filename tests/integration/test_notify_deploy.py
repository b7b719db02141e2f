"""Notifications and reports wired into a real deployment, the way the commands wire them: a
SQLite ledger, the Journal with the audit, notification and report listeners, and real
receivers on 127.0.0.1. A notifier that fails or hangs never fails the deployment (DESIGN
§5.9): the failure is in the audit trail, in the command's warnings and in the report."""

from __future__ import annotations

import io
import json
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from fake_target import FakeTarget
from golden.notify_servers import HANG, Receiver, closed_port, smtp_server
from lambda_promote.config import load_config
from lambda_promote.deploy import Deployer
from lambda_promote.journal import Journal
from lambda_promote.model import Artifact, Deployment, DeploymentState
from lambda_promote.notify.dispatch import DeliveryLog, RetryPolicy, deployment_listener
from lambda_promote.release.execute import audit_listener
from lambda_promote.reports.gather import report_listener, report_locator
from lambda_promote.ui import UI
from lambda_promote.workspace import Workspace

QUICK = RetryPolicy(attempts=2, timeout=0.3, first_delay=0.01, max_delay=0.01)
CONFIG = """\
project: shop
target: local
function: {{}}
state: sqlite:///.lambda-promote/state.db
environments:
  staging:
    function_name: shop-staging
    checks:
      - name: ping
        payload: {{}}
        expect: {{body: {{ok: true}}}}
notifications:
  slack: {{webhook_url_env: SLACK_WEBHOOK_URL}}
  webhook: {{url_env: HOOK_URL, secret_env: HOOK_SECRET}}
  email:
    smtp_host: 127.0.0.1
    port: {smtp_port}
    from: ci@example.com
    to: [ops@example.com]
    starttls: false
"""


@dataclass
class Wired:
    ws: Workspace
    deployer: Deployer
    target: FakeTarget
    log: DeliveryLog
    err: io.StringIO

    def deploy(self, n: int) -> Deployment:
        artifact = Artifact(digest=f"{n:x}".rjust(64, "e"), size=1, path="x.zip")
        fn = self.ws.function_ref("staging")
        spec = self.ws.config.environment("staging")
        dep = self.deployer.deploy(fn, spec, artifact, Path("x.zip"))
        return self.ws.ledger.get_deployment(dep.id) or dep


def wire(root: Path, *, environ: Mapping[str, str], smtp_port: int) -> Wired:
    (root / "promote.yaml").write_text(textwrap.dedent(CONFIG.format(smtp_port=smtp_port)))
    err = io.StringIO()
    ui = UI(err=err, out=io.StringIO(), color=False)
    config = load_config(root / "promote.yaml", check_source=False)
    ws = Workspace(config=config, ui=ui, actor="alice")
    log = DeliveryLog(audit=ws.audit, warn=ui.warn)
    journal = Journal(
        ws.ledger,
        listeners=[
            audit_listener(ws),
            deployment_listener(
                ws.config.notifications,
                on_delivery=log,
                report_locator=report_locator(ws),
                project=ws.config.project,
                environ=environ,
                policy=QUICK,
            ),
            report_listener(ws, environ=environ),
        ],
        on_listener_error=lambda event, error: ui.warn(f"while recording {event}: {error}"),
    )
    target = FakeTarget()
    deployer = Deployer(
        ledger=ws.ledger,
        target=target,
        journal=journal,
        actor="alice",
        holder="alice@elsewhere:1",
        progress=ui,
    )
    return Wired(ws, deployer, target, log, err)


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    with Receiver() as slack, Receiver() as hook:
        yield slack, hook


def test_a_deployment_succeeds_while_every_notifier_fails_and_says_so(tmp_path: Path) -> None:
    with Receiver([500]) as broken, Receiver([HANG]) as stuck:
        environ = {
            "SLACK_WEBHOOK_URL": broken.url("/s"),
            "HOOK_URL": stuck.url("/hook"),
            "HOOK_SECRET": "whsec-0123456789",
        }
        wired = wire(tmp_path, environ=environ, smtp_port=closed_port())
        try:
            dep = wired.deploy(1)
        finally:
            wired.ws.close()
    assert dep.state is DeploymentState.SUCCEEDED
    failed = [e for e in wired.ws.ledger.audit_events() if e.action == "notification.failed"]
    assert sorted(e.details["notifier"] for e in failed) == ["email", "slack", "webhook"]
    assert {e.details["subject"] for e in failed} == {dep.id}
    warnings = wired.err.getvalue()
    assert "via slack failed after 2 attempt(s): $SLACK_WEBHOOK_URL answered HTTP 500" in warnings
    assert "no answer from $HOOK_URL within 0.3s" in warnings
    assert "connection refused" in warnings
    report = json.loads((tmp_path / f".lambda-promote/reports/{dep.id}.json").read_text())
    assert [(n["notifier"], n["ok"]) for n in report["notifications"]] == [
        ("slack", False),
        ("email", False),
        ("webhook", False),
    ]
    html = (tmp_path / f".lambda-promote/reports/{dep.id}.html").read_text()
    assert "$SLACK_WEBHOOK_URL answered HTTP 500" in html


def test_a_rolled_back_deployment_is_announced_with_a_link_to_its_report(
    tmp_path: Path, receivers: tuple[Receiver, Receiver]
) -> None:
    slack, hook = receivers
    environ = {
        "SLACK_WEBHOOK_URL": slack.url("/s"),
        "HOOK_URL": hook.url("/hook"),
        "HOOK_SECRET": "whsec-0123456789",
    }
    with smtp_server() as (port, mailbox):
        wired = wire(tmp_path, environ=environ, smtp_port=port)
        try:
            first = wired.deploy(1)
            wired.target.unhealthy_digests.add("2".rjust(64, "e"))
            second = wired.deploy(2)
        finally:
            wired.ws.close()
    assert first.state is DeploymentState.SUCCEEDED
    assert second.state is DeploymentState.ROLLED_BACK
    events = [json.loads(r.body)["event"] for r in hook.requests]
    assert events == ["deployment.succeeded", "deployment.rolled_back"]
    assert len(slack.requests) == 2
    assert len(mailbox.mails) == 2
    report = tmp_path / f".lambda-promote/reports/{second.id}.html"
    assert report.exists()
    assert str(report) in slack.requests[1].body.decode()
    assert json.loads(hook.requests[1].body)["report"] == str(report)
    page = report.read_text()
    assert "Rolled back" in page
    assert "✓ sent" in page
    sent = [e for e in wired.ws.ledger.audit_events() if e.action == "notification.sent"]
    assert len(sent) == 6


def test_a_failed_rollback_sends_the_urgent_message(
    tmp_path: Path, receivers: tuple[Receiver, Receiver]
) -> None:
    slack, hook = receivers
    environ = {
        "SLACK_WEBHOOK_URL": slack.url("/s"),
        "HOOK_URL": hook.url("/hook"),
        "HOOK_SECRET": "whsec-0123456789",
    }
    wired = wire(tmp_path, environ=environ, smtp_port=closed_port())
    try:
        wired.deploy(1)
        wired.target.unhealthy_versions.update({"1", "2"})
        dep = wired.deploy(2)
    finally:
        wired.ws.close()
    assert dep.state is DeploymentState.ROLLBACK_FAILED
    last = json.loads(slack.requests[-1].body)
    assert last["text"].startswith("<!here>")
    assert json.loads(hook.requests[-1].body)["event"] == "rollback.failed"
    markdown = (tmp_path / f".lambda-promote/reports/{dep.id}.md").read_text()
    assert "Rollback failed — needs a person" in markdown
