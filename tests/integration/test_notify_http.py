"""Slack and the generic webhook against a real HTTP server on 127.0.0.1: what arrives, a
signature verified the way a receiver would, and servers that fail, recover, hang or are not
there — each a ``Delivery`` that says so, never an exception, and quickly."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from golden import notify_samples as samples
from golden.notify_servers import HANG, Receiver, closed_port
from lambda_promote.config.schema import Notifications, SlackNotifier, WebhookNotifier
from lambda_promote.model import RequestState
from lambda_promote.notify.dispatch import (
    RetryPolicy,
    approval_event,
    deployment_event,
    dispatch,
)

QUICK = RetryPolicy(attempts=3, timeout=2.0, first_delay=0.01, max_delay=0.02)
SECRET = "whsec-test-0123456789"


def slack() -> Notifications:
    return Notifications(slack=SlackNotifier(webhook_url_env="SLACK_WEBHOOK_URL"))


def webhook() -> Notifications:
    return Notifications(webhook=WebhookNotifier(url_env="HOOK_URL", secret_env="HOOK_SECRET"))


def rolled_back_event():
    return deployment_event(
        "deployment.rolled_back", samples.rolled_back(), project="orders-api", report="/r.html"
    )


def test_slack_receives_a_block_kit_message() -> None:
    with Receiver() as server:
        environ = {"SLACK_WEBHOOK_URL": server.url("/services/T0/B0/token")}
        event = approval_event(
            "approval.requested", samples.approval(RequestState.OPEN), actor="devops-admin"
        )
        (result,) = dispatch(slack(), event, environ=environ, policy=QUICK)
    assert result.ok
    assert result.attempts == 1
    (request,) = server.requests
    assert request.path == "/services/T0/B0/token"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    body = json.loads(request.body)
    assert body["blocks"][0]["type"] == "header"
    assert "lambda-promote approve r-00c0ffee --env production" in request.body.decode()


def receiver_accepts(headers: dict[str, str], body: bytes, secret: bytes, now: float) -> bool:
    """What the docs tell a receiver to do, written independently of the sender's code."""
    timestamp = headers["X-Lambda-Promote-Timestamp"]
    if abs(now - int(timestamp)) > 300:
        return False
    expected = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", headers["X-Lambda-Promote-Signature"])


def test_a_webhook_receiver_can_verify_the_signature_and_refuse_a_replay() -> None:
    with Receiver() as server:
        environ = {"HOOK_URL": server.url("/hook"), "HOOK_SECRET": SECRET}
        (result,) = dispatch(webhook(), rolled_back_event(), environ=environ, policy=QUICK)
    assert result.ok
    (request,) = server.requests
    now = time.time()
    assert receiver_accepts(request.headers, request.body, SECRET.encode(), now)
    assert not receiver_accepts(request.headers, request.body + b" ", SECRET.encode(), now)
    assert not receiver_accepts(request.headers, request.body, b"another secret", now)
    # Replayed an hour later, or with the timestamp swapped for a fresh one: refused.
    assert not receiver_accepts(request.headers, request.body, SECRET.encode(), now + 3600)
    fresh = {**request.headers, "X-Lambda-Promote-Timestamp": str(int(now + 3600))}
    assert not receiver_accepts(fresh, request.body, SECRET.encode(), now + 3600)
    body = json.loads(request.body)
    assert body["event"] == "deployment.rolled_back"
    assert body["id"] == request.headers["X-Lambda-Promote-Delivery"]
    assert body["deployment"]["rollback"]["to_version"] == "7"
    assert SECRET not in request.body.decode()


def test_a_server_error_then_success_is_retried_into_a_delivery() -> None:
    with Receiver([500, 200]) as server:
        environ = {"SLACK_WEBHOOK_URL": server.url("/s")}
        (result,) = dispatch(slack(), rolled_back_event(), environ=environ, policy=QUICK)
    assert result.ok
    assert result.attempts == 2
    assert len(server.requests) == 2
    assert server.requests[0].body == server.requests[1].body


def test_a_server_that_always_fails_gives_a_failed_delivery_after_every_attempt() -> None:
    with Receiver([500]) as server:
        environ = {"HOOK_URL": server.url("/hook"), "HOOK_SECRET": SECRET}
        (result,) = dispatch(webhook(), rolled_back_event(), environ=environ, policy=QUICK)
    assert not result.ok
    assert result.attempts == 3
    assert result.error == "$HOOK_URL answered HTTP 500"
    assert len(server.requests) == 3


def test_a_server_that_hangs_times_out_quickly() -> None:
    policy = RetryPolicy(attempts=2, timeout=0.3, first_delay=0.01, max_delay=0.01)
    with Receiver([HANG]) as server:
        environ = {"SLACK_WEBHOOK_URL": server.url("/s")}
        (result,) = dispatch(slack(), rolled_back_event(), environ=environ, policy=policy)
    assert not result.ok
    assert result.attempts == 2
    assert result.error == "no answer from $SLACK_WEBHOOK_URL within 0.3s"


def test_nobody_listening_is_a_failed_delivery() -> None:
    environ = {"SLACK_WEBHOOK_URL": f"http://127.0.0.1:{closed_port()}/s"}
    (result,) = dispatch(slack(), rolled_back_event(), environ=environ, policy=QUICK)
    assert not result.ok
    assert result.attempts == 3
    assert result.error == "could not connect to $SLACK_WEBHOOK_URL: connection refused"


def test_a_redirect_is_not_followed() -> None:
    with Receiver([302]) as server:
        environ = {"SLACK_WEBHOOK_URL": server.url("/s")}
        (result,) = dispatch(slack(), rolled_back_event(), environ=environ, policy=QUICK)
    assert not result.ok
    assert result.attempts == 1
    assert result.error == "$SLACK_WEBHOOK_URL answered HTTP 302"


def test_slack_and_webhook_are_both_served_when_one_of_them_hangs() -> None:
    policy = RetryPolicy(attempts=1, timeout=0.5)
    with Receiver([HANG]) as stuck, Receiver() as fine:
        environ = {
            "SLACK_WEBHOOK_URL": stuck.url("/s"),
            "HOOK_URL": fine.url("/hook"),
            "HOOK_SECRET": SECRET,
        }
        config = Notifications(slack=slack().slack, webhook=webhook().webhook)
        results = dispatch(config, rolled_back_event(), environ=environ, policy=policy)
    assert [(r.notifier, r.ok) for r in results] == [("slack", False), ("webhook", True)]
