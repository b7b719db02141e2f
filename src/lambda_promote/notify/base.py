"""The notifier boundary: what every notifier implements, how a failure is described, and
the retry loop that turns one notifier's attempts into a ``Delivery``.

    Notifier.send(event)  → returns on success, raises NotifyFailure otherwise
        NotifyFailure(retryable=True)   connection refused, timeout, HTTP 5xx/429, SMTP 4xx
        NotifyFailure(retryable=False)  HTTP 4xx, SMTP auth or recipient refused, bad TLS
    send_with_retries(...)              never raises: any other exception is a failed Delivery

Messages of ``NotifyFailure`` name the environment variable, never the URL or token it holds;
the dispatcher scrubs them once more with the ``Redactor`` before they reach a ``Delivery``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from lambda_promote.notify.events import Delivery, NotificationEvent
from lambda_promote.notify.redact import Redactor

Sleep = Callable[[float], None]


class NotifyFailure(Exception):
    """One attempt failed. ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable

    def __str__(self) -> str:
        return self.message


class Notifier(Protocol):
    """One configured destination: ``name`` is ``slack``, ``email`` or ``webhook``;
    ``events`` the filter from promote.yaml (None = every event)."""

    @property
    def name(self) -> str: ...

    @property
    def events(self) -> Sequence[str] | None: ...

    def send(self, event: NotificationEvent, /) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries, each bounded by ``timeout`` seconds; between them a pause of
    ``first_delay`` doubling up to ``max_delay`` (1 s, 2 s by default: a notifier that is
    down delays a deployment by seconds, not minutes)."""

    attempts: int = 3
    timeout: float = 10.0
    first_delay: float = 1.0
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        """The pause after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.first_delay * (2 ** (attempt - 1)), self.max_delay))


DEFAULT_POLICY = RetryPolicy()


def send_with_retries(
    notifier: Notifier,
    event: NotificationEvent,
    *,
    policy: RetryPolicy,
    sleep: Sleep = time.sleep,
    redactor: Redactor,
) -> Delivery:
    attempt, error = 0, ""
    while attempt < max(policy.attempts, 1):
        attempt += 1
        try:
            notifier.send(event)
        except NotifyFailure as failure:
            error = failure.message
            if not failure.retryable:
                break
        except Exception as unexpected:  # a bug in a notifier must not fail a deployment
            error = f"unexpected {type(unexpected).__name__}: {unexpected}"
            break
        else:
            return delivery(notifier.name, event, ok=True, error=None, attempts=attempt)
        if attempt < policy.attempts:
            sleep(policy.delay(attempt))
    return delivery(
        notifier.name, event, ok=False, error=redactor(error) or "failed", attempts=attempt
    )


def delivery(
    notifier: str,
    event: NotificationEvent,
    *,
    ok: bool,
    error: str | None,
    attempts: int,
    skipped: bool = False,
) -> Delivery:
    return Delivery(
        notifier=notifier,
        event=event.name,
        ok=ok,
        error=error,
        attempts=attempts,
        skipped=skipped,
        env=event.env,
        digest=event.digest,
        subject=event.subject,
        event_id=event.id,
    )
