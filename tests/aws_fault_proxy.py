"""AWS under fault, on the wire: an HTTP proxy on 127.0.0.1 between a ``lambda-promote``
child process (``AWS_ENDPOINT_URL`` points at the proxy) and moto's server.

Because it sits in the test process, it sees every call of every child process and keeps one
state across them, which client-side botocore hooks (``aws_fixtures.LambdaFidelity``) cannot do
for a process that is killed and a next one that resolves what it left. It adds:

- Lambda's guards that moto 5 lacks, kept here across processes: an alias gets a new
  ``RevisionId`` on every write and ``$LATEST`` on every code or configuration update; a write
  naming a stale one (``UpdateAlias``, ``UpdateFunctionCode``, ``PublishVersion``) is answered
  ``412 PreconditionFailedException`` as Lambda does;
- faults, matched on the operation name and on how many times the tool has called it:
  ``kill`` (SIGKILL the tool's process group, before the call reaches AWS or after AWS did it
  but before the tool hears back: a power cut at that exact step), ``throttle`` (Lambda's
  ``429 TooManyRequestsException``), and ``before`` (run someone else's write first, e.g.
  move the alias between the tool's read and its guarded write).

Only requests whose User-Agent carries ``lambda-promote`` are counted and faulted: "someone
else" (``other_client``, a plain boto3 client) goes through the proxy untouched, so their
writes move the revisions like anybody's.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import threading
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import botocore.session

TOOL_AGENT = "lambda-promote"
_ALIAS_WRITES = {"CreateAlias", "UpdateAlias"}
_CODE_WRITES = {"UpdateFunctionCode", "UpdateFunctionConfiguration"}
_GUARDED = {"UpdateAlias", "UpdateFunctionCode", "PublishVersion"}


def _lambda_routes() -> list[tuple[str, re.Pattern[str], str]]:
    """``(method, path pattern, operation)`` for every Lambda operation, from botocore's own
    model, so the proxy names calls exactly as boto3 does."""
    model = botocore.session.get_session().get_service_model("lambda")
    routes = []
    for name in model.operation_names:
        op = model.operation_model(name)
        uri = op.http["requestUri"].split("?", 1)[0]
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(uri))
        routes.append((op.http["method"], re.compile(pattern), name))
    return routes


_ROUTES = _lambda_routes()


@dataclass(frozen=True)
class Call:
    operation: str  # "" for anything that is not Lambda (STS, moto's own API, …)
    function: str
    alias: str
    qualifier: str
    body: dict[str, Any]
    by_tool: bool
    nth: int  # how many times the tool has made this call, this one included


def identify(method: str, path: str) -> tuple[str, dict[str, str], dict[str, str]]:
    url = urllib.parse.urlsplit(path)
    query = dict(urllib.parse.parse_qsl(url.query))
    for route_method, pattern, name in _ROUTES:
        match = pattern.fullmatch(url.path)
        if route_method == method and match:
            params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
            return name, params, query
    return "", {}, query


def _function_name(name_or_arn: str) -> str:
    return name_or_arn.rsplit(":function:", maxsplit=1)[-1].split(":", maxsplit=1)[0]


@dataclass
class Fault:
    """What to do to the ``nth`` call of ``operation`` (every call from ``nth`` on when
    ``repeat``): ``effect`` is "kill_before", "kill_after", "throttle" or "before"."""

    operation: str
    effect: str
    nth: int = 1
    repeat: bool = False
    action: Callable[[], None] | None = None  # for "before"
    counted_from: int = 0  # the tool's calls of ``operation`` before the fault was set

    def applies(self, call: Call) -> bool:
        if call.operation != self.operation or not call.by_tool:
            return False
        nth = call.nth - self.counted_from
        return nth >= self.nth if self.repeat else nth == self.nth


@dataclass
class FaultProxy:
    upstream: str  # moto's server, http://127.0.0.1:PORT
    url: str = ""
    faults: list[Fault] = field(default_factory=list)
    victim: int | None = None  # the process group a kill fault kills
    # (operation, HTTP status) of the tool's calls; status 0: killed before it reached AWS
    seen: list[tuple[str, int]] = field(default_factory=list)
    killed: list[str] = field(default_factory=list)
    alias_revisions: dict[tuple[str, str], str] = field(default_factory=dict)
    code_revisions: dict[str, str] = field(default_factory=dict)
    _counts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _victim_set: threading.Event = field(default_factory=threading.Event)

    # --- what tests use --------------------------------------------------------------------
    def fault(self, operation: str, effect: str, **options: Any) -> FaultProxy:
        """Add a fault; ``nth`` counts the tool's calls of ``operation`` from now on."""
        with self._lock:
            counted_from = self._counts[operation]
        self.faults.append(Fault(operation, effect, counted_from=counted_from, **options))
        return self

    def clear(self) -> None:
        """No more faults (and no victim): the next command runs undisturbed."""
        self.faults.clear()
        self.victim = None
        self._victim_set.clear()

    def aim_at(self, pid: int) -> None:
        """The tool's process (started with its own session): its group is what gets killed."""
        self.victim = pid
        self._victim_set.set()

    def statuses(self, operation: str) -> list[int]:
        """The HTTP statuses the tool got for ``operation``, in order."""
        return [status for name, status in self.seen if name == operation]

    def other_client(self) -> Any:
        """Someone else (a person at the console, another pipeline) writing to the same AWS."""
        return boto3.client("lambda", endpoint_url=self.url, region_name="us-east-1")

    # --- one request ---------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        operation, params, query = identify(method, path)
        body = _json(raw)
        by_tool = TOOL_AGENT in headers.get("User-Agent", "")
        with self._lock:
            if operation and by_tool:
                self._counts[operation] += 1
            nth = self._counts[operation]
        call = Call(
            operation=operation,
            function=_function_name(params.get("FunctionName", "")),
            alias=params.get("Name", ""),
            qualifier=query.get("Qualifier", ""),
            body=body,
            by_tool=by_tool,
            nth=nth,
        )
        faults = [f for f in self.faults if f.applies(call)]
        for fault in faults:
            if fault.effect == "throttle":
                return self._seen(call, throttled())
            if fault.effect == "before" and fault.action is not None:
                fault.action()
            if fault.effect == "kill_before":
                self._kill(call, "before")
                return self._seen(call, Answer(0, {}, b""))
        answer = self._stale_revision(call) or self._forward(method, path, headers, raw)
        if 200 <= answer.status < 300:
            answer = self._track(call, answer)
        self._seen(call, answer)
        if any(f.effect == "kill_after" for f in faults):
            self._kill(call, "after")
            return Answer(0, {}, b"")
        return answer

    def _seen(self, call: Call, answer: Answer) -> Answer:
        if call.operation and call.by_tool:
            with self._lock:
                self.seen.append((call.operation, answer.status))
        return answer

    def _kill(self, call: Call, when: str) -> None:
        if not self._victim_set.wait(timeout=30) or self.victim is None:
            raise AssertionError("a kill fault fired before the test named its victim")
        self.killed.append(f"{when} {call.operation} #{call.nth}")
        os.killpg(self.victim, signal.SIGKILL)

    def _forward(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        target = urllib.parse.urlsplit(self.upstream)
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            connection.request(method, path, body=raw or None, headers=sent)
            response = connection.getresponse()
            data = response.read()
            kept = {
                k: v
                for k, v in response.getheaders()
                if k.lower() not in ("content-length", "transfer-encoding", "connection")
            }
            return Answer(response.status, kept, data)
        finally:
            connection.close()

    # --- Lambda's revision guards ----------------------------------------------------------
    def _stale_revision(self, call: Call) -> Answer | None:
        wanted = call.body.get("RevisionId")
        if call.operation not in _GUARDED or not wanted:
            return None
        with self._lock:
            if call.operation == "UpdateAlias":
                current = self.alias_revisions.get((call.function, call.alias))
            else:
                current = self.code_revisions.get(call.function)
        if current is None or wanted == current:
            return None
        return error(
            412,
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )

    def _track(self, call: Call, answer: Answer) -> Answer:
        op = call.operation
        with self._lock:
            if op == "DeleteAlias":
                self.alias_revisions.pop((call.function, call.alias), None)
                return answer
            if op in ("GetAlias", *_ALIAS_WRITES):
                parsed = _json(answer.body)
                key = (call.function, call.alias or str(parsed.get("Name", "")))
                if op in _ALIAS_WRITES or key not in self.alias_revisions:
                    self.alias_revisions[key] = str(uuid.uuid4())
                return answer.with_json({**parsed, "RevisionId": self.alias_revisions[key]})
            if op in _CODE_WRITES:
                self.code_revisions[call.function] = str(uuid.uuid4())
            latest = call.qualifier in ("", "$LATEST")
            if op in ("GetFunctionConfiguration", *_CODE_WRITES) and latest:
                revision = self.code_revisions.setdefault(call.function, str(uuid.uuid4()))
                return answer.with_json({**_json(answer.body), "RevisionId": revision})
            if op == "GetFunction" and latest:
                parsed = _json(answer.body)
                revision = self.code_revisions.setdefault(call.function, str(uuid.uuid4()))
                parsed["Configuration"] = {
                    **parsed.get("Configuration", {}),
                    "RevisionId": revision,
                }
                return answer.with_json(parsed)
        return answer


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no answer at all (the connection is dropped)
    headers: dict[str, str]
    body: bytes

    def with_json(self, parsed: dict[str, Any]) -> Answer:
        return Answer(self.status, self.headers, json.dumps(parsed).encode())


def error(status: int, code: str, message: str) -> Answer:
    """A Lambda error answer (REST-JSON: the code in ``x-amzn-ErrorType``)."""
    body = json.dumps({"Type": "User", "message": message}).encode()
    headers = {"x-amzn-ErrorType": code, "Content-Type": "application/json"}
    return Answer(status, headers, body)


def throttled() -> Answer:
    return error(429, "TooManyRequestsException", "Rate exceeded")


def _json(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    """The proxy on a free port of 127.0.0.1, in front of ``upstream``."""
    proxy = FaultProxy(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            answer = proxy.handle(self.command, self.path, dict(self.headers.items()), raw)
            if answer.status == 0:
                self.close_connection = True
                return
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
