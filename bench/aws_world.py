"""AWS for the deploy benchmark, without AWS: moto's server in its own process on 127.0.0.1,
and in front of it a small counting proxy (also on 127.0.0.1) that every timed process talks
to through ``AWS_ENDPOINT_URL``. The proxy sees each request whole, so it counts API calls and
uploaded bytes of any client — our CLI and the raw boto3 script alike — without touching them.

Each request is named by its Lambda REST route (``PUT …/aliases/live`` → ``UpdateAlias``) or
by the ``Action``/``X-Amz-Target`` of the query and JSON protocols (STS, IAM, CloudWatch).
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REGION = "us-east-1"
_FN = r"/\d{4}-\d{2}-\d{2}/functions/[^/]+"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(p + r"/?$"), op)
    for m, p, op in [
        ("GET", _FN + "/aliases/[^/]+", "GetAlias"),
        ("PUT", _FN + "/aliases/[^/]+", "UpdateAlias"),
        ("DELETE", _FN + "/aliases/[^/]+", "DeleteAlias"),
        ("POST", _FN + "/aliases", "CreateAlias"),
        ("GET", _FN + "/aliases", "ListAliases"),
        ("PUT", _FN + "/code", "UpdateFunctionCode"),
        ("GET", _FN + "/configuration", "GetFunctionConfiguration"),
        ("PUT", _FN + "/configuration", "UpdateFunctionConfiguration"),
        ("POST", _FN + "/versions", "PublishVersion"),
        ("GET", _FN + "/versions", "ListVersionsByFunction"),
        ("POST", _FN + "/invocations", "Invoke"),
        ("GET", _FN, "GetFunction"),
        ("POST", r"/\d{4}-\d{2}-\d{2}/functions", "CreateFunction"),
        ("GET", r"/\d{4}-\d{2}-\d{2}/tags/.+", "ListTags"),
        ("POST", r"/\d{4}-\d{2}-\d{2}/tags/.+", "TagResource"),
        ("DELETE", r"/\d{4}-\d{2}-\d{2}/tags/.+", "UntagResource"),
    ]
]


def operation(method: str, path: str, headers: dict[str, str], body: bytes) -> str:
    """The API operation of one request, as AWS names it."""
    route = urllib.parse.urlsplit(path).path
    for wanted, pattern, name in ROUTES:
        if method == wanted and pattern.match(route):
            return name
    target = headers.get("x-amz-target", "")
    if target:
        return target.rsplit(".", 1)[-1]
    if body:
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return action[0]
    return f"{method} {route}"


@dataclass(frozen=True)
class Request:
    op: str
    status: int
    sent_bytes: int  # the request body
    code_bytes: int  # of which zip bytes (base64-decoded size of a ZipFile upload)


@dataclass
class CallLog:
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)

    def mark(self) -> int:
        with self.lock:
            return len(self.requests)

    def since(self, mark: int) -> list[Request]:
        with self.lock:
            return list(self.requests[mark:])


def summary(requests: list[Request]) -> dict[str, Any]:
    ops: dict[str, int] = {}
    for r in requests:
        ops[r.op] = ops.get(r.op, 0) + 1
    return {
        "api_calls": len(requests),
        "by_operation": dict(sorted(ops.items())),
        "request_bytes": sum(r.sent_bytes for r in requests),
        "code_bytes_uploaded": sum(r.code_bytes for r in requests),
        "alias_writes": ops.get("UpdateAlias", 0) + ops.get("CreateAlias", 0),
        "errors": sum(1 for r in requests if r.status >= 400),
    }


def _code_bytes(op: str, body: bytes) -> int:
    if op not in ("UpdateFunctionCode", "CreateFunction") or not body:
        return 0
    try:
        document = json.loads(body)
    except ValueError:
        return 0
    encoded = document.get("ZipFile") or (document.get("Code") or {}).get("ZipFile") or ""
    return len(encoded) * 3 // 4 - encoded[-2:].count("=")


_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "expect", "upgrade"}
)


class _Forwarder(BaseHTTPRequestHandler):
    upstream: tuple[str, int]
    log: CallLog
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        connection = http.client.HTTPConnection(*self.upstream, timeout=120)
        try:
            forwarded = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(self.command, self.path, body=body, headers=forwarded)
            answer = connection.getresponse()
            data = answer.read()
        finally:
            connection.close()
        op = operation(self.command, self.path, headers, body)
        self.log.add(Request(op, answer.status, len(body), _code_bytes(op, body)))
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _forward

    def log_message(self, format: str, *args: Any) -> None:
        return


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoWorld:
    """moto's server (a child process) behind the counting proxy (a thread of ours)."""

    def __init__(self, scratch: Path) -> None:
        self.log = CallLog()
        self.moto_port = free_port()
        self._moto_log = (scratch / "moto.log").open("w")
        self._moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.moto_port)],
            stdout=self._moto_log,
            stderr=subprocess.STDOUT,
        )
        handler = type(
            "Forwarder", (_Forwarder,), {"upstream": ("127.0.0.1", self.moto_port), "log": self.log}
        )
        self._proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._proxy.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._proxy.server_address[1]}"
        self.moto_url = f"http://127.0.0.1:{self.moto_port}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._moto.poll() is not None:
                raise RuntimeError(f"moto's server exited with {self._moto.returncode}")
            try:
                self.moto_api("/moto-api/config", {"lambda": {"use_docker": False}})
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"moto's server did not answer on {self.moto_url} in {timeout:.0f} s")

    def moto_api(self, path: str, body: dict[str, Any]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.moto_port, timeout=10)
        try:
            connection.request(
                "POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"}
            )
            answer = connection.getresponse()
            answer.read()
        finally:
            connection.close()
        if answer.status not in (200, 201):
            raise OSError(f"moto-api {path} answered {answer.status}")

    def close(self) -> None:
        self._proxy.shutdown()
        self._proxy.server_close()
        self._moto.terminate()
        try:
            self._moto.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._moto.kill()
        self._moto_log.close()


def aws_env(endpoint: str, scratch: Path) -> dict[str, str]:
    """Fake credentials and no way to a real account (no ~/.aws, no instance metadata)."""
    absent = str(scratch / "no-aws-config")
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": absent,
        "AWS_SHARED_CREDENTIALS_FILE": absent,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
