"""Email over SMTP with the standard library: a multipart/alternative message (plain text and
HTML from ``messages``) with From, To, Subject, Date and Message-ID, sent with STARTTLS (or
implicit TLS on port 465) and a login when promote.yaml names the credentials' variables.

The TLS certificate is verified against the system's CAs, or the bundle named by
``LAMBDA_PROMOTE_SMTP_CAFILE`` (an internal relay with its own CA); the dispatcher builds that
context, tests pass their own. STARTTLS that the server does not offer is a failure, never a
silent fall back to sending the credentials in clear.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from lambda_promote.notify.base import NotifyFailure
from lambda_promote.notify.events import NotificationEvent
from lambda_promote.notify.messages import html_body, subject, text_body
from lambda_promote.notify.redact import NO_REDACTION, Redactor

CAFILE_ENV = "LAMBDA_PROMOTE_SMTP_CAFILE"
IMPLICIT_TLS_PORT = 465


def build_message(
    event: NotificationEvent,
    *,
    sender: str,
    to: Sequence[str],
    redactor: Redactor = NO_REDACTION,
) -> EmailMessage:
    message = EmailMessage()
    # Header values must stay on one line: a newline in user text would start a new header.
    message["Subject"] = " ".join(redactor(subject(event)).split())
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(event.at, usegmt=True)
    domain = re.sub(r"[^A-Za-z0-9.-]", "", parseaddr(sender)[1].rpartition("@")[2])
    domain = domain or "lambda-promote.invalid"
    # The event's id: a retry of the same notification is recognisably the same message.
    message["Message-ID"] = f"<{event.id}.lambda-promote@{domain}>"
    message["X-Lambda-Promote-Event"] = event.name
    if event.urgent:
        message["X-Priority"] = "1 (Highest)"
        message["Importance"] = "high"
    message.set_content(redactor(text_body(event)))
    message.add_alternative(redactor(html_body(event)), subtype="html")
    return message


@dataclass(frozen=True)
class EmailNotifier:
    host: str
    port: int
    sender: str
    to: tuple[str, ...]
    starttls: bool = True
    username: str | None = None
    password: str | None = None
    username_env: str | None = None
    events: Sequence[str] | None = None
    timeout: float = 10.0
    redactor: Redactor = NO_REDACTION
    ssl_context: ssl.SSLContext | None = None
    local_hostname: str | None = None
    implicit_tls: bool | None = None  # None: on port 465, as is customary
    name: str = "email"

    def send(self, event: NotificationEvent, /) -> None:
        message = build_message(event, sender=self.sender, to=self.to, redactor=self.redactor)
        try:
            self._deliver(message)
        except NotifyFailure:
            raise
        except (smtplib.SMTPException, OSError) as error:
            raise self._failure(error) from None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def tls_from_start(self) -> bool:
        if self.implicit_tls is not None:
            return self.implicit_tls
        return self.port == IMPLICIT_TLS_PORT

    def _deliver(self, message: EmailMessage) -> None:
        context = self.ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.tls_from_start:
            smtp = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=context,
            )
        else:
            smtp = smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
        with smtp:
            smtp.ehlo()
            if self.starttls and not self.tls_from_start:
                if not smtp.has_extn("starttls"):
                    raise NotifyFailure(
                        f"the SMTP server {self.where} does not offer STARTTLS "
                        "(set `starttls: false` only for a relay you trust in clear)",
                        retryable=False,
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username is not None and self.password is not None:
                smtp.login(self.username, self.password)
            smtp.send_message(message)

    def _failure(self, error: BaseException) -> NotifyFailure:
        where = self.where
        if isinstance(error, smtplib.SMTPAuthenticationError):
            return NotifyFailure(
                f"the SMTP server {where} refused the login of ${self.username_env}: "
                f"{error.smtp_code} {_text(error.smtp_error)}",
                retryable=False,
            )
        if isinstance(error, smtplib.SMTPRecipientsRefused):
            refused = ", ".join(sorted(error.recipients))
            return NotifyFailure(
                f"the SMTP server {where} refused the recipients {refused}", retryable=False
            )
        if isinstance(error, smtplib.SMTPResponseException):
            transient = 400 <= error.smtp_code < 500
            return NotifyFailure(
                f"the SMTP server {where} answered {error.smtp_code} {_text(error.smtp_error)}",
                retryable=transient,
            )
        if isinstance(error, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
            return NotifyFailure(f"the SMTP server {where} closed the connection", retryable=True)
        if isinstance(error, smtplib.SMTPNotSupportedError):
            return NotifyFailure(
                f"the SMTP server {where} does not support what was asked of it: {error}",
                retryable=False,
            )
        if isinstance(error, ssl.SSLCertVerificationError):
            return NotifyFailure(
                f"could not verify the TLS certificate of {where}: {error.verify_message}; "
                f"point {CAFILE_ENV} at the CA bundle that signed it",
                retryable=False,
            )
        if isinstance(error, ssl.SSLError):
            return NotifyFailure(f"TLS with {where} failed: {error.reason}", retryable=False)
        return _network_failure(where, error, self.timeout)


def _network_failure(where: str, error: BaseException, timeout: float) -> NotifyFailure:
    if isinstance(error, TimeoutError):
        return NotifyFailure(f"no answer from {where} within {timeout:g}s", retryable=True)
    if isinstance(error, ConnectionRefusedError):
        return NotifyFailure(f"could not connect to {where}: connection refused", retryable=True)
    if isinstance(error, OSError):
        return NotifyFailure(
            f"could not reach {where}: {error.strerror or type(error).__name__}", retryable=True
        )
    return NotifyFailure(f"sending to {where} failed: {type(error).__name__}", retryable=False)


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
