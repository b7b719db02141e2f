"""Receivers on 127.0.0.1 for ``demo``, so every gate and failure of the story produces a real
message: an HTTP server standing in for Slack's incoming webhook and for a webhook receiver
(which verifies the HMAC signature, as a real one would), and an SMTP server (aiosmtpd, when
installed — ``make demo`` installs it) keeping the mail.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Inbox:
    """What arrived, as ``(channel, event)`` pairs; ``bad_signatures`` counts webhook posts
    whose HMAC did not verify."""

    received: list[tuple[str, str]] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, channel: str, event: str) -> None:
        with self.lock:
            self.received.append((channel, event))

    def events(self, channel: str) -> list[str]:
        return [event for ch, event in self.received if ch == channel]


@dataclass
class Receivers:
    inbox: Inbox
    environ: dict[str, str]  # the variables promote.yaml names
    smtp_port: int | None

    def notifications_yaml(self) -> str:
        lines = [
            "notifications:",
            "  slack: {webhook_url_env: DEMO_SLACK_WEBHOOK_URL}",
            "  webhook: {url_env: DEMO_WEBHOOK_URL, secret_env: DEMO_WEBHOOK_SECRET}",
        ]
        if self.smtp_port is not None:
            lines.append(
                f"  email: {{smtp_host: 127.0.0.1, port: {self.smtp_port}, starttls: false, "
                "from: lambda-promote@example.com, to: [ops@example.com]}"
            )
        return "\n".join(lines) + "\n"


@contextmanager
def running() -> Iterator[Receivers]:
    inbox = Inbox()
    secret = secrets.token_hex(16)
    http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(inbox, secret))
    http.daemon_threads = True
    thread = threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    base = f"http://127.0.0.1:{http.server_address[1]}"
    environ = {
        "DEMO_SLACK_WEBHOOK_URL": f"{base}/slack",
        "DEMO_WEBHOOK_URL": f"{base}/webhook",
        "DEMO_WEBHOOK_SECRET": secret,
    }
    smtp = _start_smtp(inbox)
    try:
        yield Receivers(inbox, environ, smtp.port if smtp else None)
    finally:
        http.shutdown()
        http.server_close()
        if smtp is not None:
            smtp.stop()


def _handler(inbox: Inbox, secret: str) -> type[BaseHTTPRequestHandler]:
    from lambda_promote.notify.webhook import (
        EVENT_HEADER,
        SIGNATURE_HEADER,
        TIMESTAMP_HEADER,
        verify_signature,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/webhook":
                signed = verify_signature(
                    secret.encode(),
                    timestamp=self.headers.get(TIMESTAMP_HEADER, ""),
                    body=body,
                    header=self.headers.get(SIGNATURE_HEADER, ""),
                    now=time.time(),
                )
                if not signed:
                    inbox.bad_signatures += 1
                inbox.add("webhook", self.headers.get(EVENT_HEADER, "?"))
            else:
                inbox.add("slack", "message")  # Slack posts carry no event name; count them
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the demo tells its own story

    return Handler


class _Smtp:
    def __init__(self, controller: Any, port: int) -> None:
        self.controller, self.port = controller, port

    def stop(self) -> None:
        self.controller.stop()


def _start_smtp(inbox: Inbox) -> _Smtp | None:
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        return None

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            message = message_from_bytes(envelope.content)
            inbox.add("email", str(message.get("Subject", "")))
            return "250 OK"

    port = _free_port()  # aiosmtpd's readiness probe cannot follow port 0
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    return _Smtp(controller, port)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
