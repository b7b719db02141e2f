"""Notifications and reports of a many-function release (DESIGN §11.4): every shape names
each function's move, an approval request's evidence has each function's digest, commit and
configuration change, and a single-function deployment's messages are unchanged."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

from golden import notify_samples as samples
from lambda_promote.model import ApprovalRequest, Deployment, DeploymentState
from lambda_promote.notify import messages as m
from lambda_promote.notify.dispatch import approval_event, deployment_event
from lambda_promote.notify.redact import Redactor
from lambda_promote.reports import render
from lambda_promote.reports.data import build_report

AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
API, WORKER = "1" * 64, "2" * 64


def release() -> Deployment:
    return dataclasses.replace(
        samples.rolled_back(),
        functions={
            "api": {"digest": API, "version": "8", "previous_version": "7",
                    "function_name": "orders-api-production", "moved": True},
            "worker": {"digest": WORKER, "version": "3", "previous_version": "3",
                       "function_name": "orders-worker-production", "moved": False},
        },
    )  # fmt: skip


def test_every_shape_of_a_release_notification_lists_each_function() -> None:
    event = deployment_event("deployment.rolled_back", release(), project="orders", at=AT)
    api = f"api     orders-api-production  7 → 8  {API[:12]}  moved"
    worker = f"worker  orders-worker-production  3 → 3  {WORKER[:12]}  unchanged"
    for shown in (
        m.text_body(event),
        m.html_body(event),
        json.dumps(m.slack_payload(event), ensure_ascii=False),
    ):
        assert api in shown
        assert worker in shown
    assert m.webhook_payload(event)["deployment"]["functions"]["api"]["moved"] is True


def test_a_single_function_notification_has_no_function_lines() -> None:
    event = deployment_event("deployment.rolled_back", samples.rolled_back(), at=AT)
    assert "\nFunction " not in m.text_body(event)


def test_an_approval_of_a_release_shows_each_function_s_evidence() -> None:
    request: ApprovalRequest = samples.approval()
    evidence = dict(request.evidence)
    evidence["functions"] = {
        "api": {"digest": API, "commit": samples.COMMIT, "live_version": "7",
                "configuration": {"digest": "c" * 64, "settings": ["memory 512 MB"],
                                  "changes": ["memory 256 → 512 MB"]}},
        "worker": {"digest": WORKER, "commit": samples.COMMIT, "live_version": "3"},
    }  # fmt: skip
    event = approval_event(
        "approval.requested", dataclasses.replace(request, evidence=evidence), actor="ops", at=AT
    )
    text = m.text_body(event)
    assert f"function api: {API[:12]} from {samples.COMMIT[:12]}; live now: version 7" in text
    assert "memory 256 → 512 MB" in text
    assert f"function worker: {WORKER[:12]}" in text


def test_every_report_format_has_a_functions_part_only_for_a_release() -> None:
    redactor = Redactor.from_environ({})
    for dep, expected in ((release(), True), (samples.rolled_back(), False)):
        report = build_report(dep, generated_at=AT, redactor=redactor)
        assert bool(report.functions) is expected
        md = render(dep, "md", generated_at=AT)
        html = render(dep, "html", generated_at=AT)
        assert ("## Functions" in md) is expected
        assert ("<h2>Functions</h2>" in html) is expected
    md = render(release(), "md", generated_at=AT)
    assert f"| **worker** | orders-worker-production | 3 → 3 | `{WORKER[:12]}` | unchanged |" in md
    assert release().state is DeploymentState.ROLLED_BACK
