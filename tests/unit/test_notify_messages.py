"""What people read in a notification: the approval request carries the evidence and the exact
command to approve; a failed rollback is loud everywhere; user text cannot inject markup or
ping a Slack channel; every event has a proper message in every shape."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime

import pytest

from golden import notify_samples as samples
from lambda_promote.model import RequestState
from lambda_promote.notify import messages as m
from lambda_promote.notify.dispatch import (
    EVENTS,
    NotificationEvent,
    approval_event,
    deployment_event,
    lock_broken_event,
)
from lambda_promote.notify.email import build_message

AT = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def event_named(name: str) -> NotificationEvent:
    """A realistic event for each name, as the tool would build it."""
    if name.startswith("approval."):
        state = RequestState.OPEN if name == "approval.requested" else RequestState.CONSUMED
        return approval_event(
            name, samples.approval(state), actor="team-lead", project="orders-api", at=AT
        )
    if name == "lock.broken":
        return lock_broken_event(
            "production", actor="ops", holder="bob@ci:42", deployment_id="d-1", at=AT
        )
    details = {
        "traffic.started": {"strategy": "canary 10% 5m"},
        "traffic.failed": {"percent": 10, "why": "alarm orders-errors in ALARM"},
    }.get(name)
    dep = {
        "traffic.started": samples.succeeded,
        "traffic.failed": samples.succeeded,
        "deployment.succeeded": samples.succeeded,
        "deployment.failed": samples.failed,
        "deployment.rolled_back": samples.rolled_back,
        "rollback.failed": samples.rollback_failed,
        "rollback.manual": samples.manual_rollback,
    }[name]()
    return deployment_event(
        name,
        dep,
        project="orders-api",
        commit=samples.COMMIT,
        report="/r/d.html",
        at=AT,
        details=details,
    )


def all_text(payload: object) -> str:
    return json.dumps(payload, ensure_ascii=False)


@pytest.mark.parametrize("name", EVENTS)
def test_every_event_has_its_own_headline_in_every_shape(name: str) -> None:
    event = event_named(name)
    title = m.headline(event)
    assert not title.startswith(f"{event.env}: {name}"), "fell back to the generic headline"
    assert title in all_text(m.slack_payload(event))
    assert title in m.text_body(event)
    assert m.webhook_payload(event)["summary"] == title
    assert m.webhook_payload(event)["event"] == name
    message = build_message(event, sender="ci@example.com", to=["ops@example.com"])
    assert title in str(message["Subject"])


def test_an_approval_request_shows_the_evidence_and_the_exact_command_to_approve() -> None:
    event = event_named("approval.requested")
    command = "lambda-promote approve r-00c0ffee --env production"
    slack = all_text(m.slack_payload(event))
    for shown in (slack, m.text_body(event), m.html_body(event)):
        assert command in shown
        assert "a rollback would restore version 7" in shown
        assert "staging: 1/1 checks passed" in shown
        assert "0123456 release 1.2.0" in shown
    assert m.webhook_payload(event)["approval_request"]["approve_command"] == command


def test_a_failed_rollback_is_marked_urgent_in_every_shape() -> None:
    event = event_named("rollback.failed")
    slack = m.slack_payload(event)
    assert slack["text"].startswith("<!here>")
    assert ":rotating_light:" in slack["blocks"][0]["text"]["text"]
    assert "needs a person now" in all_text(slack)
    assert "URGENT" in m.text_body(event).splitlines()[1]
    message = build_message(event, sender="ci@example.com", to=["ops@example.com"])
    assert "NEEDS A PERSON" in str(message["Subject"])
    assert message["X-Priority"].startswith("1")
    assert message["Importance"] == "high"
    assert m.webhook_payload(event)["urgent"] is True
    assert "version 7 fails too" in m.text_body(event)


def test_only_a_failed_rollback_is_urgent() -> None:
    assert [name for name in EVENTS if event_named(name).urgent] == ["rollback.failed"]


def test_user_text_cannot_ping_a_channel_or_inject_markup() -> None:
    dep = samples.manual_rollback()
    dep.reason = "<!channel> see <https://evil.example|this> & <b>bold</b>"
    event = deployment_event("rollback.manual", dep, at=AT)
    slack = all_text(m.slack_payload(event))
    assert "<!channel>" not in slack
    assert "&lt;!channel&gt;" in slack
    assert "<https://evil.example" not in slack
    html = m.html_body(event)
    assert "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_slack_blocks_stay_within_slack_limits() -> None:
    dep = samples.rolled_back()
    dep.error = "x" * 10_000
    payload = m.slack_payload(deployment_event("deployment.rolled_back", dep, at=AT))
    for block in payload["blocks"]:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "section" and "fields" in block:
            assert len(block["fields"]) <= 10


def test_the_report_is_linked_when_known() -> None:
    event = event_named("deployment.rolled_back")
    assert "/r/d.html" in all_text(m.slack_payload(event))
    linked = deployment_event(
        "deployment.succeeded", samples.succeeded(), report="https://ci.example/r/1", at=AT
    )
    assert "<https://ci.example/r/1|Open the report>" in all_text(m.slack_payload(linked))


def test_an_email_has_proper_headers_and_both_parts() -> None:
    event = event_named("deployment.rolled_back")
    raw = build_message(event, sender="ci@example.com", to=["a@example.com", "b@example.com"])
    parsed = email.message_from_bytes(raw.as_bytes(), policy=email.policy.default)
    assert parsed["From"] == "ci@example.com"
    assert parsed["To"] == "a@example.com, b@example.com"
    assert parsed["Date"].datetime == AT.replace(microsecond=0)
    assert parsed["Message-ID"].endswith("@example.com>")
    assert event.id in parsed["Message-ID"]
    assert parsed.get_content_type() == "multipart/alternative"
    types = [part.get_content_type() for part in parsed.iter_parts()]
    assert types == ["text/plain", "text/html"]
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert "rolled back to version 7" in text
    assert "rolled back to version 7" in html


def test_a_newline_in_user_text_cannot_add_an_email_header() -> None:
    request = samples.approval(RequestState.OPEN)
    event = approval_event(
        "approval.rejected", request, actor="eve\nBcc: victim@example.com", at=AT
    )
    raw = build_message(event, sender="ci@example.com", to=["ops@example.com"]).as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Bcc"] is None


def test_times_in_messages_are_utc_to_the_second() -> None:
    event = event_named("deployment.succeeded")
    assert "2024-05-01T12:00:00Z" in m.text_body(event)
    assert ".123456" not in m.text_body(event)
