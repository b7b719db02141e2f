"""The generic webhook: a JSON POST (``messages.webhook_payload``), signed so the receiver
can tell it came from us and is not a replay. The scheme (documented in
docs/notifications.md, with a receiver's snippet):

    X-Lambda-Promote-Timestamp: <unix seconds>
    X-Lambda-Promote-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

The timestamp is inside the signed content, so an old request cannot be re-sent with a fresh
timestamp; receivers refuse timestamps older than a few minutes and drop repeated ``id``s.
Without ``secret_env`` the body is sent unsigned (no signature header).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lambda_promote.notify.events import NotificationEvent
from lambda_promote.notify.http import HttpPost, post, urllib_post
from lambda_promote.notify.messages import webhook_payload
from lambda_promote.notify.redact import NO_REDACTION, Redactor

SIGNATURE_HEADER = "X-Lambda-Promote-Signature"
TIMESTAMP_HEADER = "X-Lambda-Promote-Timestamp"
EVENT_HEADER = "X-Lambda-Promote-Event"
DELIVERY_HEADER = "X-Lambda-Promote-Delivery"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The header value for ``body`` sent at ``timestamp``."""
    signed = timestamp.encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()


def verify_signature(
    secret: bytes,
    *,
    timestamp: str,
    body: bytes,
    header: str,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: the timestamp is recent and the signature matches the raw body
    (compared in constant time)."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent_at) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


@dataclass(frozen=True)
class WebhookNotifier:
    url: str
    url_env: str
    secret: str | None = None
    events: Sequence[str] | None = None
    timeout: float = 10.0
    redactor: Redactor = NO_REDACTION
    transport: HttpPost = urllib_post
    clock: Callable[[], float] = time.time
    name: str = "webhook"

    def send(self, event: NotificationEvent, /) -> None:
        body = json.dumps(
            self.redactor.deep(webhook_payload(event)), ensure_ascii=False, sort_keys=True
        ).encode()
        # A fresh timestamp per attempt: a retry a few seconds later is still in the window.
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "lambda-promote",
            EVENT_HEADER: event.name,
            DELIVERY_HEADER: event.id,
            TIMESTAMP_HEADER: timestamp,
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = signature(self.secret.encode(), timestamp, body)
        post(
            self.transport,
            self.url,
            body,
            headers=headers,
            timeout=self.timeout,
            label=f"${self.url_env}",
        )
