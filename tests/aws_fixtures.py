"""AWS for the tests, without AWS: moto in-process (``mock_aws``) and moto's server on
127.0.0.1 reached through ``AWS_ENDPOINT_URL``, plus botocore event hooks (no mock.patch).

Test modules wrap ``moto_world`` in their own fixtures. Every world runs with fake
credentials, ``~/.aws`` hidden and the instance-metadata lookup off, so nothing can reach
the internet or a real account; Lambda uses moto's "lambda-simple" backend (no docker): an
invocation answers with its own payload unless results were queued
(``MotoWorld.queue_invoke_results``, moto's ``/moto-api/static/lambda-simple/response``).

moto 5 lacks four Lambda behaviours the aws target relies on; ``LambdaFidelity`` adds them
at the botocore level, on the client side, so they work the same against both kinds of moto:

- an alias gets a new ``RevisionId`` on every write, and ``UpdateAlias`` with a stale one
  fails with ``412 PreconditionFailedException`` (moto ignores RevisionId);
- so does the function ($LATEST): code and configuration updates change its ``RevisionId``, and
  ``UpdateFunctionCode``/``UpdateFunctionConfiguration``/``PublishVersion`` with a stale one
  fail with 412 (moto sends none);
- ``ListVersionsByFunction`` answers in pages of at most 50 with ``NextMarker`` (moto returns
  every version in one page, which would hide a one-page reader);
- ``UpdateFunctionConfiguration`` keeps ``EphemeralStorage`` for $LATEST and ``PublishVersion``
  copies it onto the new version (moto ignores the key and always answers 512). Memory, timeout,
  layers and variables moto keeps per version itself.

moto keeps an alias's ``RoutingConfig`` as it is given (and keeps it when an update leaves it
out, as Lambda does) but accepts any weights; ``LambdaFidelity`` also refuses what Lambda
refuses with ``InvalidParameterValueException``: more than one weighted version, a weight
outside 0.0–1.0, or the alias's own version weighted.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import json
import logging
import os
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer

from lambda_promote.model import Artifact
from lambda_promote.targets.aws import TemporaryCredentials, default_session

MODES = ["in-process", "server"]
REGION = "us-east-1"
EXEC_ROLE = "lambda-exec"
SessionHook = Callable[[boto3.Session], None]


def isolate_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials and no way to a real account: no ~/.aws, no instance metadata."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    absent = tmp_path / "no-aws-config"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(absent))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(absent))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# --- botocore hooks ------------------------------------------------------------------------


def error_answer(status: int, code: str, message: str) -> tuple[AWSResponse, dict[str, Any]]:
    """What a ``before-call`` handler returns to answer a call with an AWS error."""
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": 0},
    }
    return AWSResponse("https://fake", status, {}, _Raw(b"")), parsed


def throttled_answer() -> AWSResponse:
    """What a ``before-send`` handler returns for Lambda's 429: botocore parses it and its
    standard retry mode backs off and tries again, as with the real service."""
    body = json.dumps({"message": "Rate exceeded", "Type": "User"}).encode()
    headers = {"x-amzn-ErrorType": "TooManyRequestsException"}
    return AWSResponse("https://fake", 429, headers, _Raw(body))


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


_FUNCTION_WRITES = ("UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion")


def _stale_revision(read_with: str) -> Any:
    """Lambda's answer to a write naming a RevisionId that is no longer the latest."""
    return error_answer(
        412,
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. "
        f"Call the {read_with} API to retrieve the latest Revision Id",
    )


def _function_name(name_or_arn: str) -> str:
    return name_or_arn.rsplit(":function:", maxsplit=1)[-1].split(":", maxsplit=1)[0]


@dataclass
class LambdaFidelity:
    """Real Lambda's alias revisions and version pages on top of moto (see the module doc)."""

    page_size: int = 50
    revisions: dict[tuple[str, str], str] = field(default_factory=dict)
    storage: dict[tuple[str, str], int] = field(default_factory=dict)  # (function, version) → MB
    function_revisions: dict[str, str] = field(default_factory=dict)  # function → $LATEST's
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, session: boto3.Session) -> None:
        events = session.events
        events.register("provide-client-params.lambda", self._stash_params)
        events.register("before-call.lambda.UpdateAlias", self._refuse_stale_revision)
        events.register("before-call.lambda.UpdateAlias", self._refuse_bad_routing)
        for op in ("GetAlias", "CreateAlias", "UpdateAlias", "DeleteAlias"):
            events.register(f"after-call.lambda.{op}", self._track_revision)
        events.register("after-call.lambda.ListVersionsByFunction", self._page_versions)
        for op in (
            "UpdateFunctionConfiguration",
            "PublishVersion",
            "GetFunctionConfiguration",
            "GetFunction",  # the waiter's answer: its Configuration
        ):
            events.register(f"after-call.lambda.{op}", self._ephemeral_storage)
        for op in _FUNCTION_WRITES:
            events.register(f"before-call.lambda.{op}", self._refuse_stale_function_revision)
        for op in (*_FUNCTION_WRITES, "GetFunctionConfiguration", "GetFunction"):
            events.register(f"after-call.lambda.{op}", self._track_function_revision)

    def _refuse_stale_function_revision(self, context: dict[str, Any], **_: Any) -> Any:
        params = context.get("api_params", {})
        wanted = params.get("RevisionId")
        with self.lock:
            current = self.function_revisions.get(_function_name(params.get("FunctionName", "")))
        if wanted and current and wanted != current:
            return _stale_revision("GetFunction/GetAlias")
        return None

    def _track_function_revision(
        self,
        http_response: Any,
        parsed: dict[str, Any],
        model: Any,
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        if http_response.status_code >= 300:
            return
        params = context.get("api_params", {})
        if params.get("Qualifier") not in (None, "$LATEST"):
            return  # a published version's revision is its own; nothing here reads it
        name = _function_name(params.get("FunctionName", ""))
        with self.lock:
            if model.name in ("UpdateFunctionCode", "UpdateFunctionConfiguration"):
                self.function_revisions[name] = str(uuid.uuid4())
            revision = self.function_revisions.setdefault(name, str(uuid.uuid4()))
        if model.name == "GetFunction" and isinstance(parsed.get("Configuration"), dict):
            parsed["Configuration"]["RevisionId"] = revision
        elif model.name != "PublishVersion":
            parsed["RevisionId"] = revision

    def _ephemeral_storage(
        self,
        http_response: Any,
        parsed: dict[str, Any],
        model: Any,
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        if http_response.status_code >= 300:
            return
        params = context.get("api_params", {})
        name = _function_name(params.get("FunctionName", ""))
        if model.name == "GetFunction":
            parsed = parsed.get("Configuration")
            if not isinstance(parsed, dict):
                return
        version = str(parsed.get("Version", "$LATEST"))
        with self.lock:
            if model.name == "UpdateFunctionConfiguration" and "EphemeralStorage" in params:
                self.storage[(name, "$LATEST")] = int(params["EphemeralStorage"]["Size"])
            elif model.name == "PublishVersion" and (name, "$LATEST") in self.storage:
                self.storage.setdefault((name, version), self.storage[(name, "$LATEST")])
            size = self.storage.get((name, version))
        if size is not None:
            parsed["EphemeralStorage"] = {"Size": size}

    def _stash_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["api_params"] = dict(params)

    def _key(self, context: dict[str, Any]) -> tuple[str, str]:
        params = context.get("api_params", {})
        return _function_name(params.get("FunctionName", "")), params.get("Name", "")

    def _refuse_stale_revision(self, context: dict[str, Any], **_: Any) -> Any:
        wanted = context.get("api_params", {}).get("RevisionId")
        with self.lock:
            current = self.revisions.get(self._key(context))
        if wanted and current and wanted != current:
            return _stale_revision("GetAlias")
        return None

    def _refuse_bad_routing(self, context: dict[str, Any], **_: Any) -> Any:
        params = context.get("api_params", {})
        weights = (params.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        problem = None
        if len(weights) > 1:
            problem = "Only one additional version can be specified in the routing config"
        elif any(not 0.0 <= float(w) <= 1.0 for w in weights.values()):
            problem = "Weight must be between 0.0 and 1.0"
        elif str(params.get("FunctionVersion")) in weights:
            problem = "Cannot route traffic to the primary version of the alias"
        return error_answer(400, "InvalidParameterValueException", problem) if problem else None

    def _track_revision(
        self,
        http_response: Any,
        parsed: dict[str, Any],
        model: Any,
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        if http_response.status_code >= 300:
            return
        key = self._key(context)
        with self.lock:
            if model.name == "DeleteAlias":
                self.revisions.pop(key, None)
                return
            if model.name != "GetAlias" or key not in self.revisions:
                self.revisions[key] = str(uuid.uuid4())
            parsed["RevisionId"] = self.revisions[key]

    def _page_versions(
        self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        if http_response.status_code >= 300:
            return
        params = context.get("api_params", {})
        start = int(params.get("Marker") or 0)
        size = min(int(params.get("MaxItems") or self.page_size), self.page_size)
        every = parsed.get("Versions", [])
        parsed["Versions"] = every[start : start + size]
        parsed.pop("NextMarker", None)
        if start + size < len(every):
            parsed["NextMarker"] = str(start + size)


@dataclass
class CallLog:
    """Every API call made through the sessions it is attached to: ``(operation, params)``."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def attach(self, session: boto3.Session) -> None:
        session.events.register("provide-client-params", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def of(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]


# --- the worlds ----------------------------------------------------------------------------


@dataclass
class MotoWorld:
    """One moto, in-process or a server; ``sessions`` is a ``SessionFactory`` for AwsTarget
    whose sessions carry ``fidelity``, ``log`` and any ``hooks`` a test adds."""

    mode: str
    api_url: str
    fidelity: LambdaFidelity = field(default_factory=LambdaFidelity)
    log: CallLog = field(default_factory=CallLog)
    hooks: list[SessionHook] = field(default_factory=list)

    def sessions(
        self,
        *,
        region: str,
        profile: str | None = None,
        credentials: TemporaryCredentials | None = None,
    ) -> boto3.Session:
        session = default_session(region=region, profile=profile, credentials=credentials)
        self.fidelity.attach(session)
        self.log.attach(session)
        for hook in self.hooks:
            hook(session)
        return session

    def session(self, *, role_arn: str | None = None) -> boto3.Session:
        """A session of "someone else" (another person or CI job), optionally in a role."""
        base = self.sessions(region=REGION)
        if role_arn is None:
            return base
        found = base.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="someone-else")
        c = found["Credentials"]
        return self.sessions(
            region=REGION,
            credentials=TemporaryCredentials(
                c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], c["Expiration"]
            ),
        )

    def moto_api(self, path: str, body: dict[str, Any]) -> None:
        with requests.Session() as http:
            http.trust_env = False  # no proxy between us and 127.0.0.1 (or moto's interceptor)
            answer = http.post(f"{self.api_url}{path}", json=body, timeout=10)
        assert answer.status_code in (200, 201), answer.text

    def queue_invoke_results(
        self, *results: Any, account_id: str = DEFAULT_ACCOUNT_ID, region: str = REGION
    ) -> None:
        """The next invocations (any function of the account and region) answer these."""
        texts = [r if isinstance(r, str) else json.dumps(r) for r in results]
        self.moto_api(
            "/moto-api/static/lambda-simple/response",
            {"results": texts, "account_id": account_id, "region": region},
        )

    def create_alarm(self, name: str) -> Any:
        """A CloudWatch alarm on the functions' errors (state OK until a test sets it);
        returns the CloudWatch client, for ``set_alarm_state``."""
        cloudwatch = self.session().client("cloudwatch")
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="Errors",
            Namespace="AWS/Lambda",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        return cloudwatch

    def create_function(
        self, name: str, *, role_arn: str | None = None, architecture: str = "x86_64"
    ) -> str:
        """A function as a team creates it before the first deployment; returns its ARN."""
        session = self.session(role_arn=role_arn)
        iam = session.client("iam")
        try:
            role = iam.get_role(RoleName=EXEC_ROLE)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            role = iam.create_role(RoleName=EXEC_ROLE, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        made = session.client("lambda").create_function(
            FunctionName=name,
            Role=role,
            Runtime="python3.12",
            Handler="app.handler",
            Code={"ZipFile": zip_bytes("def handler(event, context):\n    return event\n")},
            Architectures=[architecture],
        )
        return str(made["FunctionArn"])


_server_lock = threading.Lock()
_server: list[tuple[ThreadedMotoServer, str]] = []


def shared_server_url() -> str:
    """moto's server on 127.0.0.1 (a free port), started once for the test process."""
    with _server_lock:
        if not _server:
            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a log line per request
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            _server.append((server, f"http://{host}:{port}"))
            atexit.register(server.stop)
        return _server[0][1]


@contextmanager
def moto_world(mode: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[MotoWorld]:
    """A fresh, empty AWS of the given kind for one test."""
    isolate_aws_env(monkeypatch, tmp_path)
    if mode == "in-process":
        with mock_aws(config={"lambda": {"use_docker": False}}):
            yield MotoWorld(mode, "http://motoapi.amazonaws.com")
        return
    url = shared_server_url()
    world = MotoWorld(mode, url)
    world.moto_api("/moto-api/reset", {})
    world.moto_api("/moto-api/config", {"lambda": {"use_docker": False}})
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    try:
        yield world
    finally:
        world.moto_api("/moto-api/reset", {})
        world.moto_api("/moto-api/config", {"lambda": {"use_docker": True}})


# --- releases ------------------------------------------------------------------------------


def zip_bytes(source: str, *, extra: bytes = b"") -> bytes:
    """A deterministic function zip: same source, same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("app.py", date_time=(2024, 1, 1, 0, 0, 0))
        archive.writestr(info, source)
        if extra:
            archive.writestr(zipfile.ZipInfo("data.bin", date_time=(2024, 1, 1, 0, 0, 0)), extra)
    return buffer.getvalue()


@dataclass(frozen=True)
class Release:
    artifact: Artifact
    path: Path

    @property
    def digest(self) -> str:
        return self.artifact.digest


def release(tmp_path: Path, name: str, *, extra: bytes = b"", architecture: str = "") -> Release:
    """A built release: its zip in tmp_path and the Artifact naming it."""
    data = zip_bytes(f"def handler(event, context):\n    return event  # {name}\n", extra=extra)
    path = tmp_path / f"{name}.zip"
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    artifact = Artifact(
        digest=digest,
        size=len(data),
        path=str(path),
        commit=f"commit-{name}",
        runtime="python3.12",
        architecture=architecture,
    )
    return Release(artifact, path)


# --- canned answers, for unit tests --------------------------------------------------------


class Canned:
    """A ``SessionFactory`` whose clients answer from a script at the botocore level and
    never send a request: unit tests of the aws target without moto or a socket. An operation
    answers its queued answers in order, the last one again and again; an operation with no
    answer fails the test."""

    def __init__(self) -> None:
        self.answers: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.log = CallLog()

    def answer(self, operation: str, parsed: dict[str, Any], *, status: int = 200) -> Canned:
        self.answers.setdefault(operation, []).append((status, parsed))
        return self

    def fail(self, operation: str, status: int, code: str, message: str) -> Canned:
        return self.answer(operation, error_answer(status, code, message)[1], status=status)

    def sessions(
        self,
        *,
        region: str,
        profile: str | None = None,
        credentials: TemporaryCredentials | None = None,
    ) -> boto3.Session:
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        )
        self.log.attach(session)
        session.events.register("before-call", self._answer)
        session.events.register_first("before-send", self._no_network)
        return session

    def _answer(self, model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        queue = self.answers.get(model.name)
        if not queue:
            raise AssertionError(f"the test has no answer for {model.name}")
        status, parsed = queue.pop(0) if len(queue) > 1 else queue[0]
        answer = dict(parsed)
        if isinstance(answer.get("Payload"), bytes):  # Invoke answers with a stream
            data = answer["Payload"]
            answer["Payload"] = StreamingBody(io.BytesIO(data), len(data))
        return AWSResponse("https://canned", status, {}, _Raw(b"")), answer

    def _no_network(self, request: Any, **_: Any) -> None:
        raise AssertionError(f"a unit test tried to send {request.url}")
