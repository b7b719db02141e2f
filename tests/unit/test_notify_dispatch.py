"""The dispatcher over fake transports: filters, retries with backoff, skipped notifiers, and
the promise that a notifier never fails the caller and never repeats a secret in an error."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from golden import notify_samples as samples
from lambda_promote.audit import chain
from lambda_promote.config.schema import (
    EmailNotifier,
    Notifications,
    SlackNotifier,
    WebhookNotifier,
)
from lambda_promote.model import DeploymentState
from lambda_promote.notify.dispatch import (
    Delivery,
    DeliveryLog,
    NotificationEvent,
    NotifyFailure,
    RetryPolicy,
    deliver,
    deliveries_from_audit,
    deployment_event,
    deployment_listener,
    describe,
    dispatch,
    event_matches,
    lock_broken_event,
    unknown_event_patterns,
)
from lambda_promote.notify.events import event_for_journal
from lambda_promote.notify.redact import Redactor
from lambda_promote.notify.webhook import signature, verify_signature

SLACK_URL = "https://hooks.slack.example/services/T000/B000/slackTOKENvalue123"
ENV = {"SLACK_WEBHOOK_URL": SLACK_URL, "HOOK_URL": "https://hooks.example/in", "HOOK_KEY": "k3y!"}
FAST = RetryPolicy(attempts=3, timeout=1.0, first_delay=1.0, max_delay=8.0)


@dataclass
class FakeHttp:
    """An ``HttpPost`` answering from a script: a status or an exception per call."""

    answers: list[int | BaseException] = field(default_factory=lambda: [200])
    calls: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    def __call__(self, url: str, body: bytes, *, headers: Mapping[str, str], timeout: float) -> int:
        self.calls.append((url, body, dict(headers)))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer


@dataclass
class FakeNotifier:
    """A ``Notifier`` whose ``send`` runs a script of outcomes."""

    name: str = "fake"
    events: list[str] | None = None
    outcomes: list[BaseException | None] = field(default_factory=lambda: [None])
    sent: list[str] = field(default_factory=list)

    def send(self, event: NotificationEvent, /) -> None:
        self.sent.append(event.name)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if outcome is not None:
            raise outcome


def slack_only(events: list[str] | None = None) -> Notifications:
    return Notifications(slack=SlackNotifier(webhook_url_env="SLACK_WEBHOOK_URL", events=events))


def succeeded_event() -> NotificationEvent:
    return deployment_event("deployment.succeeded", samples.succeeded())


# --- filters -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "patterns", "expected"),
    [
        ("deployment.failed", None, True),
        ("deployment.failed", ["deployment.*"], True),
        ("approval.requested", ["deployment.*"], False),
        ("rollback.failed", ["*.failed"], True),
        ("rollback.failed", ["rollback.failed"], True),
        ("rollback.manual", ["rollback.failed"], False),
        ("lock.broken", [], False),
    ],
)
def test_a_notifier_gets_only_the_events_its_filter_names(name, patterns, expected) -> None:
    assert event_matches(name, patterns) is expected


def test_a_filter_entry_that_matches_no_event_is_pointed_out() -> None:
    assert unknown_event_patterns(["deployment.*", "deploy.failed", "approval.granted"]) == [
        "deploy.failed"
    ]


def test_a_filtered_out_event_is_not_sent_at_all() -> None:
    http = FakeHttp()
    sent = dispatch(
        slack_only(["approval.*"]), succeeded_event(), environ=ENV, transport=http, sleep=no_sleep
    )
    assert sent == []
    assert http.calls == []


# --- skipped and failing notifiers ------------------------------------------------------------
def no_sleep(seconds: float) -> None:
    pass


def test_an_unset_variable_skips_that_notifier_with_a_reason_instead_of_failing() -> None:
    http = FakeHttp()
    config = Notifications(
        slack=SlackNotifier(webhook_url_env="MISSING_SLACK"),
        webhook=WebhookNotifier(url_env="HOOK_URL"),
    )
    results = dispatch(config, succeeded_event(), environ=ENV, transport=http, sleep=no_sleep)
    skipped = [r for r in results if r.skipped]
    assert [(r.notifier, r.ok, r.attempts, r.error) for r in skipped] == [
        ("slack", False, 0, "$MISSING_SLACK is not set")
    ]
    assert [r.notifier for r in results if r.ok] == ["webhook"]
    assert "skipped" in describe(skipped[0])
    assert "$MISSING_SLACK" in describe(skipped[0])


def test_a_configured_signing_secret_that_is_unset_skips_the_webhook() -> None:
    config = Notifications(webhook=WebhookNotifier(url_env="HOOK_URL", secret_env="NOPE"))
    (result,) = dispatch(config, succeeded_event(), environ=ENV, transport=FakeHttp())
    assert result.skipped
    assert result.error == "$NOPE is not set"


def test_email_with_half_a_login_or_a_missing_password_is_skipped() -> None:
    half = EmailNotifier.model_validate(
        {"smtp_host": "h", "from": "a@b.c", "to": ["d@e.f"], "username_env": "U"}
    )
    (result,) = dispatch(Notifications(email=half), succeeded_event(), environ={"U": "u"})
    assert result.skipped
    assert "both username_env and password_env" in (result.error or "")
    full = half.model_copy(update={"password_env": "P"})
    (result,) = dispatch(Notifications(email=full), succeeded_event(), environ={"U": "u"})
    assert result.skipped
    assert result.error == "$P is not set"


def test_an_unreadable_ca_bundle_skips_email_with_a_reason() -> None:
    config = EmailNotifier.model_validate({"smtp_host": "h", "from": "a@b.c", "to": ["d@e.f"]})
    environ = {"LAMBDA_PROMOTE_SMTP_CAFILE": "/nonexistent/ca.pem"}
    (result,) = dispatch(Notifications(email=config), succeeded_event(), environ=environ)
    assert result.skipped
    assert "LAMBDA_PROMOTE_SMTP_CAFILE" in (result.error or "")


def test_a_server_error_is_retried_with_growing_pauses_until_it_works() -> None:
    http = FakeHttp(answers=[500, 503, 200])
    pauses: list[float] = []
    (result,) = dispatch(
        slack_only(),
        succeeded_event(),
        environ=ENV,
        transport=http,
        sleep=pauses.append,
        policy=FAST,
    )
    assert result.ok
    assert result.attempts == 3
    assert result.error is None
    assert pauses == [1.0, 2.0]


def test_a_notifier_that_keeps_failing_returns_a_failed_delivery_and_does_not_raise() -> None:
    http = FakeHttp(answers=[ConnectionRefusedError(111, "Connection refused")])
    (result,) = dispatch(
        slack_only(), succeeded_event(), environ=ENV, transport=http, sleep=no_sleep, policy=FAST
    )
    assert not result.ok
    assert result.attempts == 3
    assert result.error == "could not connect to $SLACK_WEBHOOK_URL: connection refused"


def test_a_client_error_is_not_retried() -> None:
    http = FakeHttp(answers=[404])
    (result,) = dispatch(slack_only(), succeeded_event(), environ=ENV, transport=http)
    assert not result.ok
    assert result.attempts == 1
    assert result.error == "$SLACK_WEBHOOK_URL answered HTTP 404"


def test_a_timeout_is_retried_and_reported_as_such() -> None:
    http = FakeHttp(answers=[TimeoutError("timed out")])
    (result,) = dispatch(
        slack_only(), succeeded_event(), environ=ENV, transport=http, sleep=no_sleep, policy=FAST
    )
    assert result.attempts == 3
    assert result.error == "no answer from $SLACK_WEBHOOK_URL within 1s"


def test_an_error_that_repeats_the_url_is_reported_without_it() -> None:
    http = FakeHttp(answers=[ValueError(f"unknown url type: {SLACK_URL!r}")])
    (result,) = dispatch(slack_only(), succeeded_event(), environ=ENV, transport=http)
    assert result.error == "$SLACK_WEBHOOK_URL does not hold a valid URL"


def test_a_url_that_is_not_http_is_refused_before_any_request() -> None:
    http = FakeHttp()
    environ = {"SLACK_WEBHOOK_URL": "file:///etc/passwd"}
    (result,) = dispatch(slack_only(), succeeded_event(), environ=environ, transport=http)
    assert result.error == "$SLACK_WEBHOOK_URL does not hold an http(s) URL"
    assert http.calls == []


def test_an_unexpected_exception_in_a_notifier_becomes_a_scrubbed_failed_delivery() -> None:
    secret = "sk-live-0123456789abcdef"
    notifier = FakeNotifier(outcomes=[RuntimeError(f"boom with {secret}")])
    redactor = Redactor.from_environ({"API_TOKEN": secret})
    (result,) = deliver([notifier], succeeded_event(), redactor=redactor, sleep=no_sleep)
    assert not result.ok
    assert result.attempts == 1
    assert secret not in (result.error or "")
    assert "$API_TOKEN" in (result.error or "")


def test_a_notify_failure_message_is_scrubbed_too() -> None:
    notifier = FakeNotifier(outcomes=[NotifyFailure(f"bad {SLACK_URL}", retryable=False)])
    redactor = Redactor.from_environ(ENV, names=["SLACK_WEBHOOK_URL"])
    (result,) = deliver([notifier], succeeded_event(), redactor=redactor)
    assert result.error == "bad $SLACK_WEBHOOK_URL"


def test_notifiers_are_sent_to_in_their_order_and_each_once() -> None:
    fakes = [FakeNotifier(name=n) for n in ("a", "b", "c")]
    fakes[1].events = ["approval.*"]
    results = deliver(fakes, succeeded_event())
    assert [r.notifier for r in results] == ["a", "c"]
    assert [f.sent for f in fakes] == [["deployment.succeeded"], [], ["deployment.succeeded"]]


def test_a_delivery_names_what_it_was_about() -> None:
    (result,) = deliver([FakeNotifier()], succeeded_event())
    assert (result.env, result.subject, result.event) == (
        "staging",
        "d-00000001",
        "deployment.succeeded",
    )
    assert result.to_json()["subject"] == "d-00000001"


# --- the Journal listener ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("journal_event", "sample", "expected"),
    [
        ("deployment.succeeded", samples.succeeded, "deployment.succeeded"),
        ("deployment.succeeded", samples.manual_rollback, "rollback.manual"),
        ("deployment.failed", samples.failed, "deployment.failed"),
        ("deployment.rolled_back", samples.rolled_back, "deployment.rolled_back"),
        ("deployment.rollback_failed", samples.rollback_failed, "rollback.failed"),
        ("deployment.publishing", samples.succeeded, None),
        ("deployment.created", samples.succeeded, None),
        ("checks.recorded", samples.succeeded, None),
        ("lock.broken", samples.succeeded, "lock.broken"),
    ],
)
def test_journal_events_map_to_the_notifications_people_want(
    journal_event, sample, expected
) -> None:
    assert event_for_journal(journal_event, sample()) == expected


def test_the_listener_sends_the_end_of_a_deployment_with_its_report_link() -> None:
    http = FakeHttp()
    got: list[Delivery] = []
    listen = deployment_listener(
        slack_only(),
        on_delivery=got.append,
        report_locator=lambda dep: f"/reports/{dep.id}.html",
        commit_of=lambda dep: samples.COMMIT,
        environ=ENV,
        transport=http,
    )
    dep = samples.rolled_back()
    listen("deployment.rolling_back", dep, {})
    assert http.calls == []
    listen("deployment.rolled_back", dep, {})
    (url, body, headers) = http.calls[0]
    text = body.decode()
    assert url == SLACK_URL
    assert headers["Content-Type"].startswith("application/json")
    assert "/reports/d-0000beef.html" in text
    assert samples.COMMIT in text
    assert [(d.notifier, d.event, d.ok) for d in got] == [("slack", "deployment.rolled_back", True)]


def test_a_broken_report_locator_does_not_stop_the_notification() -> None:
    http = FakeHttp()
    got: list[Delivery] = []

    def broken(dep: Any) -> str:
        raise OSError("disk gone")

    listen = deployment_listener(
        slack_only(), on_delivery=got.append, report_locator=broken, environ=ENV, transport=http
    )
    listen("deployment.succeeded", samples.succeeded(), {})
    assert got[0].ok


def test_without_notifiers_the_listener_does_nothing() -> None:
    got: list[Delivery] = []
    listen = deployment_listener(
        Notifications(), on_delivery=got.append, report_locator=lambda d: None
    )
    listen("deployment.succeeded", samples.succeeded(), {})
    assert got == []


# --- recording -------------------------------------------------------------------------------
@dataclass
class AuditTrail:
    """``Workspace.audit`` over a list, hash-chained like the real one."""

    events: list[Any] = field(default_factory=list)
    fail: bool = False

    def __call__(self, action: str, *, env=None, digest=None, reason="", details=None) -> Any:
        if self.fail:
            raise RuntimeError("ledger is read-only")
        event = chain(
            self.events[-1] if self.events else None,
            at=datetime(2024, 5, 1, tzinfo=UTC),
            actor="alice",
            action=action,
            env=env,
            digest=digest,
            reason=reason,
            details=details,
        )
        self.events.append(event)
        return event


def failed_delivery() -> Delivery:
    return Delivery(
        notifier="email",
        event="deployment.succeeded",
        ok=False,
        error="could not connect to smtp:587: connection refused",
        attempts=3,
        env="staging",
        subject="d-00000001",
    )


def test_every_delivery_is_audited_and_failures_are_shown() -> None:
    trail, warnings = AuditTrail(), []
    log = DeliveryLog(audit=trail, warn=warnings.append)
    ok = Delivery("slack", "deployment.succeeded", True, None, 1, subject="d-00000001")
    log(ok)
    log(failed_delivery())
    assert [e.action for e in trail.events] == ["notification.sent", "notification.failed"]
    assert trail.events[1].details["error"] == "could not connect to smtp:587: connection refused"
    assert warnings == [
        "notification deployment.succeeded via email failed after 3 attempt(s): "
        "could not connect to smtp:587: connection refused"
    ]
    assert [d["notifier"] for d in log.for_subject("d-00000001")] == ["slack", "email"]
    from_trail = deliveries_from_audit(trail.events, "d-00000001")
    assert [(d["notifier"], d["ok"]) for d in from_trail] == [("slack", True), ("email", False)]


def test_an_audit_trail_that_cannot_be_written_is_a_warning_not_an_error() -> None:
    warnings: list[str] = []
    log = DeliveryLog(audit=AuditTrail(fail=True), warn=warnings.append)
    log(failed_delivery())
    assert any("could not record the notification" in w for w in warnings)


# --- webhook signature -------------------------------------------------------------------------
def test_the_signature_is_an_hmac_of_timestamp_dot_body() -> None:
    body = b'{"event":"deployment.succeeded"}'
    expected = hmac.new(b"k3y!", b"1714564800." + body, hashlib.sha256).hexdigest()
    assert signature(b"k3y!", "1714564800", body) == f"sha256={expected}"


def test_a_receiver_accepts_a_fresh_signed_body_and_refuses_tampering_and_replays() -> None:
    body = b'{"a":1}'
    header = signature(b"k3y!", "1000", body)
    assert verify_signature(b"k3y!", timestamp="1000", body=body, header=header, now=1010)
    assert not verify_signature(b"k3y!", timestamp="1000", body=b'{"a":2}', header=header, now=1010)
    assert not verify_signature(b"other", timestamp="1000", body=body, header=header, now=1010)
    # The same request sent again later, or with a fresher timestamp, is refused.
    assert not verify_signature(b"k3y!", timestamp="1000", body=body, header=header, now=2000)
    assert not verify_signature(b"k3y!", timestamp="1990", body=body, header=header, now=2000)
    assert not verify_signature(b"k3y!", timestamp="soon", body=body, header=header, now=1000)


def test_the_webhook_signs_what_it_sends() -> None:
    http = FakeHttp()
    config = Notifications(webhook=WebhookNotifier(url_env="HOOK_URL", secret_env="HOOK_KEY"))
    (result,) = dispatch(config, succeeded_event(), environ=ENV, transport=http)
    assert result.ok
    _, body, headers = http.calls[0]
    stamp = headers["X-Lambda-Promote-Timestamp"]
    assert headers["X-Lambda-Promote-Signature"] == signature(b"k3y!", stamp, body)
    assert headers["X-Lambda-Promote-Event"] == "deployment.succeeded"
    payload = json.loads(body)
    assert payload["id"] == headers["X-Lambda-Promote-Delivery"]
    assert payload["deployment"]["state"] == DeploymentState.SUCCEEDED.value


def test_a_webhook_without_a_secret_sends_no_signature() -> None:
    http = FakeHttp()
    config = Notifications(webhook=WebhookNotifier(url_env="HOOK_URL"))
    event = lock_broken_event("staging", actor="ops", holder="x@y:1", deployment_id="d-9")
    (result,) = dispatch(config, event, environ=ENV, transport=http)
    assert result.ok
    assert "X-Lambda-Promote-Signature" not in http.calls[0][2]


def test_a_malformed_url_in_a_variable_is_a_failed_delivery_not_a_crash() -> None:
    environ = {"SLACK_WEBHOOK_URL": "http://[::1/services/oops"}
    (result,) = dispatch(slack_only(), succeeded_event(), environ=environ, transport=FakeHttp())
    assert not result.ok
    assert result.error == "$SLACK_WEBHOOK_URL does not hold an http(s) URL"


def test_a_command_notifies_and_records_in_one_call() -> None:
    trail = AuditTrail()
    log = DeliveryLog(audit=trail)
    event = lock_broken_event("staging", actor="ops", holder="x@y:1", deployment_id="d-9")
    results = log.notify(slack_only(), event, environ=ENV, transport=FakeHttp())
    assert [r.ok for r in results] == [True]
    assert [e.action for e in trail.events] == ["notification.sent"]
    assert trail.events[0].details["subject"] == "d-9"
