"""The one HTTP call notifiers make (Slack and the generic webhook): POST a body, get a
status. Standard library only, so notifications add no dependency.

``HttpPost`` is the transport boundary (one method, like httpx's transports): tests pass a
fake; ``urllib_post`` is the real one. ``post`` turns a status or an error into success or a
``NotifyFailure`` whose message names ``label`` (the environment variable holding the URL)
instead of the URL, because the URL of a Slack or webhook endpoint is itself the secret.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Protocol

from lambda_promote.notify.base import NotifyFailure

_MAX_READ = 64 * 1024


class HttpPost(Protocol):
    def __call__(
        self, url: str, body: bytes, *, headers: Mapping[str, str], timeout: float
    ) -> int: ...


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A notification endpoint that redirects is misconfigured; following it would send the
    body (and, for webhooks, a valid signature) somewhere nobody configured."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_RefuseRedirects())


def urllib_post(url: str, body: bytes, *, headers: Mapping[str, str], timeout: float) -> int:
    """POST ``body``; the HTTP status (also for 4xx/5xx). Raises ``OSError``/``ValueError``
    and ``http.client.HTTPException`` for anything that is not an answer."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(_MAX_READ)
            return int(response.status)
    except urllib.error.HTTPError as answer:
        with answer:
            return int(answer.code)


def post(
    transport: HttpPost,
    url: str,
    body: bytes,
    *,
    headers: Mapping[str, str],
    timeout: float,
    label: str,
) -> None:
    """Send once; ``NotifyFailure`` unless the endpoint answered 2xx."""
    try:
        scheme = urllib.parse.urlsplit(url).scheme.lower() if "://" in url else ""
    except ValueError:
        scheme = ""
    if scheme not in ("http", "https"):
        raise NotifyFailure(f"{label} does not hold an http(s) URL", retryable=False)
    try:
        status = transport(url, body, headers=headers, timeout=timeout)
    except TimeoutError:
        raise NotifyFailure(f"no answer from {label} within {timeout:g}s", retryable=True) from None
    except urllib.error.URLError as error:
        raise NotifyFailure(_unreachable(label, error.reason, timeout), retryable=True) from None
    except (OSError, http.client.HTTPException) as error:
        raise NotifyFailure(_unreachable(label, error, timeout), retryable=True) from None
    except ValueError:
        # urllib's message repeats the URL; say what is wrong without it.
        raise NotifyFailure(f"{label} does not hold a valid URL", retryable=False) from None
    if 200 <= status < 300:
        return
    retryable = status >= 500 or status in (408, 429)
    raise NotifyFailure(f"{label} answered HTTP {status}", retryable=retryable)


def _unreachable(label: str, reason: object, timeout: float) -> str:
    if isinstance(reason, TimeoutError):
        return f"no answer from {label} within {timeout:g}s"
    if isinstance(reason, ConnectionRefusedError):
        return f"could not connect to {label}: connection refused"
    if isinstance(reason, OSError) and reason.strerror:
        return f"could not reach {label}: {reason.strerror}"
    return f"could not reach {label}: {type(reason).__name__}"
