"""A tiny GitHub REST client: the only module of ``lambda_promote.github`` that touches the
network (``environments.py`` and ``approvals.py`` call it).

The base URL comes from ``GITHUB_API_URL`` (set by GitHub Actions; GitHub Enterprise Server
has its own; tests point it at a server on 127.0.0.1), default https://api.github.com. The
token comes from ``GITHUB_TOKEN`` and goes into the Authorization header only: it is never
part of a message, an error or ``repr``. Sending is one function (``Transport``) so unit tests
pass a fake instead of patching urllib.

    PromoteError(code="github_api")   GitHub answered with an error status not asked for
    PromoteError(code="github_unreachable")   no answer at all
"""

from __future__ import annotations

import ipaddress
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lambda_promote import __version__
from lambda_promote.errors import PromoteError, UsageError

DEFAULT_BASE_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Response:
    status: int
    body: Any  # the decoded JSON, or None for an empty answer

    @property
    def message(self) -> str:
        """GitHub's own explanation of an error answer, for people."""
        if isinstance(self.body, dict):
            parts = [str(self.body.get("message") or "")]
            for error in self.body.get("errors") or []:
                parts.append(
                    str(error.get("message", error)) if isinstance(error, dict) else str(error)
                )
            return "; ".join(p for p in parts if p)
        return ""


# (method, url, headers, body bytes) → (status, body bytes)
Transport = Callable[[str, str, Mapping[str, str], bytes | None], tuple[int, bytes]]


def urllib_transport(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise PromoteError(
            f"cannot reach the GitHub API at {_origin(url)}: {reason}",
            hint="check the network and GITHUB_API_URL",
            code="github_unreachable",
        ) from None


@dataclass
class GitHubApi:
    base_url: str = DEFAULT_BASE_URL
    token: str | None = field(default=None, repr=False)
    transport: Transport = urllib_transport

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, *, transport: Transport | None = None
    ) -> GitHubApi:
        env = os.environ if environ is None else environ
        return cls(
            base_url=(env.get("GITHUB_API_URL") or DEFAULT_BASE_URL).rstrip("/"),
            token=env.get("GITHUB_TOKEN") or None,
            transport=transport or urllib_transport,
        )

    def require_token(self, *, why: str) -> None:
        if not self.token:
            raise UsageError(
                f"GITHUB_TOKEN is not set; it is needed to {why}",
                hint="export GITHUB_TOKEN (a token with the repository's administration "
                "permission for environments, actions: read for approvals); in a workflow, "
                "pass ${{ github.token }} through env:",
            )

    def call(
        self, method: str, path: str, body: Any = None, *, accept: tuple[int, ...] = ()
    ) -> Response:
        """One API call. A 2xx answer, or a status listed in ``accept``, is returned;
        any other raises ``PromoteError`` with GitHub's message (never the token)."""
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"lambda-promote/{__version__}",
        }
        data = None
        if body is not None:
            data = json.dumps(body, sort_keys=True).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        status, raw = self.transport(method, self.base_url + path, headers, data)
        response = Response(status, _decode(raw))
        if 200 <= status < 300 or status in accept:
            return response
        raise PromoteError(
            f"GitHub refused {method} {path}: HTTP {status}"
            + (f": {response.message}" if response.message else ""),
            hint=_hint_for(status),
            code="github_api",
            payload={"github": {"method": method, "path": path, "status": status}},
        )


def in_clear(base_url: str) -> bool:
    """True when ``base_url`` would be reached without TLS on a host other than this machine's
    loopback: the token would cross the network in clear and anyone on the way could answer."""
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme == "https":
        return False
    host = parts.hostname or ""
    if parts.scheme != "http" or not host:
        return True
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"message": raw[:200].decode("utf-8", "replace")}


def _hint_for(status: int) -> str:
    if status == 401:
        return "GITHUB_TOKEN is missing, expired or wrong"
    if status in (403, 404):
        return (
            "check the repository name and that the token may do this (environments need "
            "administration: write; a run's approvals need actions: read)"
        )
    return "see GitHub's message above"


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def split_repo(repo: str) -> tuple[str, str]:
    owner, _, name = repo.partition("/")
    if not owner or not name or "/" in name:
        raise UsageError(f"--repo {repo!r} is not OWNER/NAME", hint="e.g. --repo acme/orders-api")
    return owner, name
