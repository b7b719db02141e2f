"""Email notifications against a real SMTP server (aiosmtpd on 127.0.0.1): the mail arrives
with its headers and both parts; STARTTLS with a certificate the client was told to trust; a
login with AUTH LOGIN over TLS; and the failures a person must be told about — a wrong
password, an untrusted certificate, a server without STARTTLS — returned, never raised."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from golden import notify_samples as samples
from golden.notify_servers import Authenticator, Mail, closed_port, self_signed, smtp_server
from lambda_promote.config.schema import EmailNotifier as EmailConfig
from lambda_promote.config.schema import Notifications
from lambda_promote.notify.dispatch import (
    Delivery,
    RetryPolicy,
    deliver,
    deployment_event,
    dispatch,
)
from lambda_promote.notify.email import EmailNotifier

QUICK = RetryPolicy(attempts=2, timeout=5.0, first_delay=0.01, max_delay=0.01)


def email_config(port: int, **fields: Any) -> Notifications:
    values = {
        "smtp_host": "127.0.0.1",
        "port": port,
        "from": "ci@example.com",
        "to": ["ops@example.com", "lead@example.com"],
        "starttls": False,
        **fields,
    }
    return Notifications(email=EmailConfig.model_validate(values))


def send(config: Notifications, *, environ: Mapping[str, str] | None = None, **kw: Any) -> Delivery:
    event = deployment_event(
        "deployment.rolled_back", samples.rolled_back(), project="orders-api", report="/r.html"
    )
    (result,) = dispatch(config, event, environ=environ or {}, policy=QUICK, **kw)
    return result


def parsed(mail: Mail) -> email.message.EmailMessage:
    message = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def test_the_mail_arrives_with_proper_headers_and_both_parts() -> None:
    with smtp_server() as (port, mailbox):
        result = send(email_config(port))
    assert result.ok, result
    assert result.attempts == 1
    (mail,) = mailbox.mails
    assert mail.mail_from == "ci@example.com"
    assert mail.rcpt_tos == ["ops@example.com", "lead@example.com"]
    message = parsed(mail)
    assert message["From"] == "ci@example.com"
    assert message["To"] == "ops@example.com, lead@example.com"
    assert "production: deployment d-0000beef failed and was rolled back" in message["Subject"]
    assert message["Date"].datetime is not None
    assert message["Message-ID"].startswith("<")
    assert message["Message-ID"].endswith(">")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "rolled back to version 7" in text
    assert "/r.html" in text
    assert "rolled back to version 7" in html
    assert html.lstrip().startswith("<!DOCTYPE html>")


def test_starttls_with_a_certificate_trusted_through_an_injected_context(tmp_path: Path) -> None:
    cert = self_signed(tmp_path)
    with smtp_server(tls_context=cert.server_context(), require_starttls=True) as (port, box):
        result = send(email_config(port, starttls=True), ssl_context=cert.client_context())
    assert result.ok, result
    assert box.mails[0].tls is True


def test_starttls_with_a_ca_bundle_named_by_the_documented_variable(tmp_path: Path) -> None:
    cert = self_signed(tmp_path)
    with smtp_server(tls_context=cert.server_context(), require_starttls=True) as (port, box):
        result = send(
            email_config(port, starttls=True),
            environ={"LAMBDA_PROMOTE_SMTP_CAFILE": str(cert.cert)},
        )
    assert result.ok, result
    assert box.mails[0].tls is True


def test_an_untrusted_certificate_fails_without_retrying_and_says_what_to_do(
    tmp_path: Path,
) -> None:
    cert = self_signed(tmp_path)
    with smtp_server(tls_context=cert.server_context(), require_starttls=True) as (port, box):
        result = send(email_config(port, starttls=True))
    assert not result.ok
    assert result.attempts == 1
    assert "could not verify the TLS certificate" in (result.error or "")
    assert "LAMBDA_PROMOTE_SMTP_CAFILE" in (result.error or "")
    assert box.mails == []


def test_a_server_without_starttls_is_refused_rather_than_sending_in_clear() -> None:
    with smtp_server() as (port, mailbox):
        result = send(email_config(port, starttls=True))
    assert not result.ok
    assert result.attempts == 1
    assert "does not offer STARTTLS" in (result.error or "")
    assert mailbox.mails == []


def login_config(port: int) -> Notifications:
    return email_config(port, starttls=True, username_env="SMTP_USER", password_env="SMTP_PASSWORD")


def test_auth_login_over_starttls_with_credentials_from_the_environment(tmp_path: Path) -> None:
    cert = self_signed(tmp_path)
    auth = Authenticator("mailer", "correct horse battery")
    server = {
        "tls_context": cert.server_context(),
        "require_starttls": True,
        "authenticator": auth,
        "auth_required": True,
        "auth_exclude_mechanism": ["PLAIN"],  # so the client must use AUTH LOGIN
    }
    environ = {"SMTP_USER": "mailer", "SMTP_PASSWORD": "correct horse battery"}
    with smtp_server(**server) as (port, mailbox):
        result = send(login_config(port), environ=environ, ssl_context=cert.client_context())
    assert result.ok, result
    assert auth.mechanisms == ["LOGIN"]
    (mail,) = mailbox.mails
    assert mail.authenticated
    assert mail.tls
    assert mail.login == b"mailer"


def test_a_wrong_password_fails_once_and_names_the_variable_not_the_password(
    tmp_path: Path,
) -> None:
    cert = self_signed(tmp_path)
    auth = Authenticator("mailer", "correct horse battery")
    server = {
        "tls_context": cert.server_context(),
        "require_starttls": True,
        "authenticator": auth,
        "auth_required": True,
    }
    environ = {"SMTP_USER": "mailer", "SMTP_PASSWORD": "wrong-password-1234"}
    with smtp_server(**server) as (port, mailbox):
        result = send(login_config(port), environ=environ, ssl_context=cert.client_context())
    assert not result.ok
    assert result.attempts == 1
    assert "refused the login of $SMTP_USER" in (result.error or "")
    assert "wrong-password-1234" not in (result.error or "")
    assert mailbox.mails == []


def test_implicit_tls_from_the_first_byte(tmp_path: Path) -> None:
    cert = self_signed(tmp_path)
    with smtp_server(ssl_context=cert.server_context()) as (port, mailbox):
        notifier = EmailNotifier(
            host="127.0.0.1",
            port=port,
            sender="ci@example.com",
            to=("ops@example.com",),
            implicit_tls=True,
            ssl_context=cert.client_context(),
        )
        event = deployment_event("deployment.succeeded", samples.succeeded())
        (result,) = deliver([notifier], event, policy=QUICK)
    assert result.ok, result
    assert mailbox.mails[0].tls is True


def test_no_smtp_server_is_a_failed_delivery_after_retries_not_an_exception() -> None:
    pauses: list[float] = []
    result = send(email_config(closed_port()), sleep=pauses.append)
    assert not result.ok
    assert result.attempts == 2
    assert "connection refused" in (result.error or "")
    assert pauses == [0.01]


@pytest.mark.parametrize("events", [["approval.*"], []])
def test_an_email_filter_keeps_other_events_away(events: list[str]) -> None:
    with smtp_server() as (port, mailbox):
        event = deployment_event("deployment.rolled_back", samples.rolled_back())
        sent = dispatch(email_config(port, events=events), event, environ={})
    assert sent == []
    assert mailbox.mails == []
