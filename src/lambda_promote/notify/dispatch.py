"""Notifications (DESIGN §5.8, §5.9): the dispatcher that sends one event to every notifier
configured under ``notifications:`` whose ``events`` filter matches, and the Journal listener
that turns the end of a deployment into such an event.

    dispatch(config.notifications, event)  → list[Delivery]   never raises
      ├── a notifier whose variable is unset        → Delivery(skipped=True, reason)
      ├── each other notifier, concurrently         → send_with_retries (timeout, backoff)
      └── every error                               → scrubbed of secrets (Redactor)

A notifier that fails never fails the caller: the ``Delivery`` says what happened, and
``DeliveryLog`` records it in the audit trail (``notification.sent`` / ``.failed``) and shows
failures as warnings. Notifier modules (smtplib, urllib, ssl) load only when configured.
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from lambda_promote.journal import Listener
from lambda_promote.model import AuditEvent, Deployment
from lambda_promote.notify.base import (
    DEFAULT_POLICY,
    Notifier,
    NotifyFailure,
    RetryPolicy,
    Sleep,
    delivery,
    send_with_retries,
)
from lambda_promote.notify.events import (
    EVENTS,
    Delivery,
    NotificationEvent,
    approval_event,
    deployment_event,
    event_for_journal,
    event_matches,
    lock_broken_event,
    unknown_event_patterns,
)
from lambda_promote.notify.http import HttpPost
from lambda_promote.notify.redact import NO_REDACTION, Redactor, redactor_for

if TYPE_CHECKING:
    from lambda_promote.config.schema import EmailNotifier as EmailConfig
    from lambda_promote.config.schema import Notifications
    from lambda_promote.config.schema import SlackNotifier as SlackConfig
    from lambda_promote.config.schema import WebhookNotifier as WebhookConfig

__all__ = [
    "DEFAULT_POLICY",
    "EVENTS",
    "Delivery",
    "DeliveryLog",
    "NotificationEvent",
    "Notifier",
    "NotifyFailure",
    "RetryPolicy",
    "approval_event",
    "deliver",
    "deliveries_from_audit",
    "deployment_event",
    "deployment_listener",
    "describe",
    "dispatch",
    "event_matches",
    "lock_broken_event",
    "redactor_for",
    "unknown_event_patterns",
]


@dataclass(frozen=True)
class _Setup:
    environ: Mapping[str, str]
    policy: RetryPolicy
    redactor: Redactor
    transport: HttpPost | None
    ssl_context: ssl.SSLContext | None


@dataclass(frozen=True)
class _Skipped:
    name: str
    events: Sequence[str] | None
    reason: str


# --- building notifiers from promote.yaml ----------------------------------------------------
def _slack(config: SlackConfig, setup: _Setup) -> Notifier | _Skipped:
    url = setup.environ.get(config.webhook_url_env)
    if not url:
        return _Skipped("slack", config.events, f"${config.webhook_url_env} is not set")
    from lambda_promote.notify.slack import SlackNotifier

    extra: dict[str, Any] = {"transport": setup.transport} if setup.transport else {}
    return SlackNotifier(
        url=url,
        url_env=config.webhook_url_env,
        events=config.events,
        timeout=setup.policy.timeout,
        redactor=setup.redactor,
        **extra,
    )


def _webhook(config: WebhookConfig, setup: _Setup) -> Notifier | _Skipped:
    url = setup.environ.get(config.url_env)
    if not url:
        return _Skipped("webhook", config.events, f"${config.url_env} is not set")
    secret = setup.environ.get(config.secret_env) if config.secret_env else None
    if config.secret_env and not secret:
        # Sending unsigned when a signature was configured would teach receivers to accept
        # unsigned requests.
        return _Skipped("webhook", config.events, f"${config.secret_env} is not set")
    from lambda_promote.notify.webhook import WebhookNotifier

    extra: dict[str, Any] = {"transport": setup.transport} if setup.transport else {}
    return WebhookNotifier(
        url=url,
        url_env=config.url_env,
        secret=secret,
        events=config.events,
        timeout=setup.policy.timeout,
        redactor=setup.redactor,
        **extra,
    )


def _email(config: EmailConfig, setup: _Setup) -> Notifier | _Skipped:
    credentials = [config.username_env, config.password_env]
    if any(credentials) and not all(credentials):
        return _Skipped("email", config.events, "a login needs both username_env and password_env")
    missing = [name for name in credentials if name and not setup.environ.get(name)]
    if missing:
        return _Skipped("email", config.events, f"${missing[0]} is not set")
    from lambda_promote.notify.email import CAFILE_ENV, EmailNotifier

    context = setup.ssl_context
    cafile = setup.environ.get(CAFILE_ENV)
    if context is None and cafile:
        try:
            context = ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as error:
            reason = f"${CAFILE_ENV} is not a readable CA bundle ({type(error).__name__})"
            return _Skipped("email", config.events, reason)
    return EmailNotifier(
        host=config.smtp_host,
        port=config.port,
        sender=config.from_,
        to=tuple(config.to),
        starttls=config.starttls,
        username=setup.environ.get(config.username_env) if config.username_env else None,
        password=setup.environ.get(config.password_env) if config.password_env else None,
        username_env=config.username_env,
        events=config.events,
        timeout=setup.policy.timeout,
        redactor=setup.redactor,
        ssl_context=context,
    )


def build_notifiers(
    notifications: Notifications, setup: _Setup
) -> tuple[list[Notifier], list[_Skipped]]:
    built: list[Notifier | _Skipped] = []
    if notifications.slack is not None:
        built.append(_slack(notifications.slack, setup))
    if notifications.email is not None:
        built.append(_email(notifications.email, setup))
    if notifications.webhook is not None:
        built.append(_webhook(notifications.webhook, setup))
    skipped = [b for b in built if isinstance(b, _Skipped)]
    return [b for b in built if not isinstance(b, _Skipped)], skipped


# --- sending ---------------------------------------------------------------------------------
def dispatch(
    notifications: Notifications | None,
    event: NotificationEvent,
    *,
    environ: Mapping[str, str] = os.environ,
    sleep: Sleep = time.sleep,
    policy: RetryPolicy = DEFAULT_POLICY,
    ssl_context: ssl.SSLContext | None = None,
    transport: HttpPost | None = None,
) -> list[Delivery]:
    """Send ``event`` to every configured notifier that wants it; one ``Delivery`` each
    (skipped ones included). Never raises."""
    if notifications is None:
        return []
    try:
        redactor = redactor_for(notifications, environ)
    except Exception as error:
        # Without a redactor the error's text may hold a secret: give its type only.
        message = f"could not read the notifiers' settings: {type(error).__name__}"
        return [delivery("notifications", event, ok=False, error=message, attempts=0)]
    try:
        setup = _Setup(environ, policy, redactor, transport, ssl_context)
        notifiers, skipped = build_notifiers(notifications, setup)
    except Exception as error:
        message = redactor(f"could not set up the notifiers: {type(error).__name__}: {error}")
        return [delivery("notifications", event, ok=False, error=message, attempts=0)]
    deliveries = [
        delivery(s.name, event, ok=False, error=s.reason, attempts=0, skipped=True)
        for s in skipped
        if event_matches(event.name, s.events)
    ]
    return deliveries + deliver(notifiers, event, policy=policy, sleep=sleep, redactor=redactor)


def deliver(
    notifiers: Sequence[Notifier],
    event: NotificationEvent,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Sleep = time.sleep,
    redactor: Redactor = NO_REDACTION,
) -> list[Delivery]:
    """Send to each notifier whose filter matches, concurrently (a slow one does not delay
    the others); results in the notifiers' order."""
    chosen = [n for n in notifiers if event_matches(event.name, n.events)]

    def send(notifier: Notifier) -> Delivery:
        return send_with_retries(notifier, event, policy=policy, sleep=sleep, redactor=redactor)

    if len(chosen) <= 1:
        return [send(n) for n in chosen]
    with ThreadPoolExecutor(max_workers=len(chosen), thread_name_prefix="notify") as pool:
        return list(pool.map(send, chosen))


# --- the Journal listener --------------------------------------------------------------------
def deployment_listener(
    notifications: Notifications | None,
    *,
    on_delivery: Callable[[Delivery], None],
    report_locator: Callable[[Deployment], str | None],
    project: str = "",
    commit_of: Callable[[Deployment], str | None] | None = None,
    environ: Mapping[str, str] = os.environ,
    sleep: Sleep = time.sleep,
    policy: RetryPolicy = DEFAULT_POLICY,
    ssl_context: ssl.SSLContext | None = None,
    transport: HttpPost | None = None,
) -> Listener:
    """A ``journal.Listener`` notifying the end of a deployment: succeeded, failed, rolled
    back, rollback failed (urgent), a manual rollback done, a lock broken."""

    def listen(journal_event: str, deployment: Deployment, details: dict[str, Any]) -> None:
        name = event_for_journal(journal_event, deployment)
        if name is None or notifications is None:
            return
        event = deployment_event(
            name,
            deployment,
            project=project,
            commit=_quietly(commit_of, deployment),
            report=_quietly(report_locator, deployment),
            details=details,
        )
        results = dispatch(
            notifications,
            event,
            environ=environ,
            sleep=sleep,
            policy=policy,
            ssl_context=ssl_context,
            transport=transport,
        )
        for result in results:
            on_delivery(result)

    return listen


def _quietly(
    look_up: Callable[[Deployment], str | None] | None, deployment: Deployment
) -> str | None:
    """A missing report link or commit must not stop the notification itself."""
    if look_up is None:
        return None
    try:
        return look_up(deployment)
    except Exception:
        return None


# --- recording what was sent -----------------------------------------------------------------
class AuditWriter(Protocol):
    """``Workspace.audit``: appends one event to the hash-chained trail."""

    def __call__(
        self,
        action: str,
        *,
        env: str | None = ...,
        digest: str | None = ...,
        reason: str = ...,
        details: dict[str, Any] | None = ...,
    ) -> object: ...


def describe(result: Delivery) -> str:
    """One line for people: what was (not) sent where, and why."""
    if result.ok:
        tries = f" (after {result.attempts} attempts)" if result.attempts > 1 else ""
        return f"notified {result.event} via {result.notifier}{tries}"
    if result.skipped:
        return f"{result.notifier} notifier skipped for {result.event}: {result.error}"
    return (
        f"notification {result.event} via {result.notifier} failed after "
        f"{result.attempts} attempt(s): {result.error}"
    )


@dataclass
class DeliveryLog:
    """The ``on_delivery`` callback: keeps every ``Delivery`` (for the report), records it
    in the audit trail, and shows failures. Never raises."""

    audit: AuditWriter | None = None
    warn: Callable[[str], None] | None = None
    deliveries: list[Delivery] = field(default_factory=list)

    def __call__(self, result: Delivery) -> None:
        self.deliveries.append(result)
        if not result.ok and self.warn is not None:
            self.warn(describe(result))
        if self.audit is None:
            return
        try:
            self.audit(
                "notification.sent" if result.ok else "notification.failed",
                env=result.env,
                digest=result.digest,
                reason=result.error or "",
                details=result.to_json(),
            )
        except Exception as error:
            if self.warn is not None:
                self.warn(f"could not record the notification in the audit trail: {error}")

    def notify(
        self, notifications: Notifications | None, event: NotificationEvent, **options: Any
    ) -> list[Delivery]:
        """``dispatch`` the event and record each delivery: what a command calls for an
        approval request or decision (``options`` as for ``dispatch``)."""
        results = dispatch(notifications, event, **options)
        for result in results:
            self(result)
        return results

    def for_subject(self, subject: str) -> list[dict[str, Any]]:
        """What a report of ``subject`` (a deployment id) lists under notifications."""
        return [d.to_json() for d in self.deliveries if d.subject == subject]


def deliveries_from_audit(events: Iterable[AuditEvent], subject: str) -> list[dict[str, Any]]:
    """The notifications recorded for ``subject`` (a deployment or request id), read back from
    the audit trail, for ``report`` of a past deployment."""
    found = []
    for event in events:
        if event.action not in ("notification.sent", "notification.failed"):
            continue
        details = event.details or {}
        if details.get("subject") == subject:
            found.append({**details, "at": event.at.isoformat()})
    return found
