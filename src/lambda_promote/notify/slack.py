"""Slack through an incoming webhook: one POST of a Block Kit message
(``messages.slack_payload``). The webhook URL is the secret; it comes from the environment
variable promote.yaml names (``webhook_url_env``) and is never part of an error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from lambda_promote.notify.events import NotificationEvent
from lambda_promote.notify.http import HttpPost, post, urllib_post
from lambda_promote.notify.messages import slack_payload
from lambda_promote.notify.redact import NO_REDACTION, Redactor


@dataclass(frozen=True)
class SlackNotifier:
    url: str
    url_env: str
    events: Sequence[str] | None = None
    timeout: float = 10.0
    redactor: Redactor = NO_REDACTION
    transport: HttpPost = urllib_post
    name: str = "slack"

    def send(self, event: NotificationEvent, /) -> None:
        body = json.dumps(self.redactor.deep(slack_payload(event)), ensure_ascii=False).encode()
        post(
            self.transport,
            self.url,
            body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "lambda-promote",
            },
            timeout=self.timeout,
            label=f"${self.url_env}",
        )
