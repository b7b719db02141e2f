"""The AWS edge: the one module that imports boto3 and botocore (STYLE 1).

Here ``Connector`` turns an environment's ``region``/``profile``/``role_arn`` into boto3 clients
(assuming the role through STS with a session name that names the deployment), and
``translated`` turns botocore failures into our errors. The calls themselves are small typed
classes that receive a client: ``aws_lambda.LambdaApi``/``CloudWatchApi`` (used by
``aws_target.AwsTarget``) and ``aws_s3.S3Api`` (used by the S3 artifact store). boto3 honours
``AWS_ENDPOINT_URL`` itself, so the same code runs against moto's server.

Throttling is retried by botocore's ``standard`` retry mode (backoff with jitter), 8 attempts in
all unless ``AWS_MAX_ATTEMPTS`` says otherwise (as in every AWS SDK). Nothing else is retried:
a conflict means someone else wrote first, and we never write over them.
Every botocore failure is translated at this boundary (``translated``) into an error for
people, naming the call, the function and the environment::

    botocore failure                                  error raised here
    ├── ClientError PreconditionFailedException       ConflictError (the RevisionId moved)
    ├── ClientError ResourceConflictException         ConflictError (e.g. the alias now exists)
    ├── ClientError AccessDenied…                     TargetError, hint: the IAM action to grant
    ├── ClientError ResourceNotFoundException         TargetError, hint: function_name / region
    ├── ClientError throttled (retries exhausted)     TargetError, hint: try again later
    ├── ClientError expired/invalid credentials       TargetError, hint: refresh them
    ├── NoCredentialsError, PartialCredentialsError   TargetError, hint: AWS_PROFILE or OIDC
    ├── ProfileNotFound                               TargetError, hint: the profile names
    ├── EndpointConnectionError, timeouts             TargetError, hint: network / endpoint
    └── WaiterError (the code update failed)          TargetError with Lambda's own reason
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from lambda_promote.errors import ConflictError, TargetError, UsageError
from lambda_promote.model import FunctionRef
from lambda_promote.targets.aws_errors import (
    describe_client_error,
    describe_transport_error,
    error_code,
    sts_session_name,
)

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.client import CloudWatchClient
    from mypy_boto3_lambda.client import LambdaClient
    from mypy_boto3_s3.client import S3Client

DEFAULT_MAX_ATTEMPTS = 8  # in all; botocore backs off up to 20 s between attempts when throttled
_REFRESH_MARGIN_SECONDS = 300  # assume the role again this long before its credentials expire
# Invoke waits for the handler; Lambda's longest timeout is 900 s.
_LAMBDA_READ_TIMEOUT = 910
_USER_AGENT = "lambda-promote"


@dataclass(frozen=True)
class TemporaryCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


class SessionFactory(Protocol):
    """Makes a boto3 session; tests pass one that registers botocore event handlers."""

    def __call__(
        self,
        *,
        region: str,
        profile: str | None = None,
        credentials: TemporaryCredentials | None = None,
    ) -> boto3.Session: ...


def default_session(
    *,
    region: str,
    profile: str | None = None,
    credentials: TemporaryCredentials | None = None,
) -> boto3.Session:
    """A session on the default credential chain (or ``profile``), or on assumed credentials."""
    with translated("opening an AWS session for", where=f"the profile {profile or 'default'}"):
        if credentials is not None:
            return boto3.Session(
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
                region_name=region,
            )
        return boto3.Session(profile_name=profile, region_name=region)


def client_config(*, max_attempts: int | None, read_timeout: int = 60) -> Config:
    """Our clients' settings; ``max_attempts=None``: ``AWS_MAX_ATTEMPTS`` or our default
    (botocore would ignore the variable once a config names its own number)."""
    if max_attempts is None:
        max_attempts = max_attempts_from(os.environ)
    return Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        read_timeout=read_timeout,
        user_agent_extra=_USER_AGENT,
    )


def max_attempts_from(environ: Mapping[str, str]) -> int:
    text = environ.get("AWS_MAX_ATTEMPTS", "").strip()
    if not text:
        return DEFAULT_MAX_ATTEMPTS
    if not text.isdigit() or int(text) < 1:
        raise UsageError(
            f"AWS_MAX_ATTEMPTS={text!r} is not a whole number of attempts (1 or more)",
            hint=f"unset it for the default ({DEFAULT_MAX_ATTEMPTS} attempts in all) or set, "
            "e.g., AWS_MAX_ATTEMPTS=3",
        )
    return int(text)


@dataclass
class Call:
    """What ``translated`` saw: ``missing`` is set when AWS answered that the thing does not
    exist (one of the ``absent`` codes), which is an answer rather than an error."""

    missing: bool = False
    code: str = ""


@contextmanager
def translated(doing: str, *, where: str, absent: Collection[str] = ()) -> Iterator[Call]:
    """Turn any botocore failure inside the block into a ``TargetError``/``ConflictError``
    whose message reads ``while <doing> <where>: <Code>: <AWS message>``; an error whose code
    is in ``absent`` ends the block quietly with ``Call.missing`` set."""
    call = Call()
    try:
        yield call
    except ClientError as exc:
        if error_code(exc) in absent:
            call.missing, call.code = True, error_code(exc)
            return
        message, hint, conflict = describe_client_error(exc, doing=doing, where=where)
        raise (ConflictError if conflict else TargetError)(message, hint=hint) from None
    except WaiterError as exc:
        raise TargetError(
            f"while {doing} {where}: {waiter_failure(exc)}",
            hint="Lambda's reason is above; fix the function's settings (or its code) in AWS "
            "and run the command again",
        ) from None
    except BotoCoreError as exc:
        message, hint = describe_transport_error(exc, doing=doing, where=where)
        raise TargetError(message, hint=hint) from None


def waiter_failure(exc: WaiterError) -> str:
    """Lambda's own words for a failed update (LastUpdateStatusReason), else botocore's."""
    last: Any = exc.last_response or {}
    config = last.get("Configuration", last) if isinstance(last, dict) else {}
    for status, reason in (
        ("LastUpdateStatus", "LastUpdateStatusReason"),
        ("State", "StateReason"),
    ):
        if config.get(reason):
            return f"{status} {config.get(status)}: {config[reason]}"
    return str(exc.kwargs.get("reason") or exc)


# --- who we are in an environment ------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """An environment's way into AWS: promote.yaml's region, profile and role_arn."""

    region: str
    profile: str | None = None
    role_arn: str | None = None
    session_name: str = "lambda-promote"

    @classmethod
    def of(cls, fn: FunctionRef) -> Access:
        return cls(fn.region, fn.profile, fn.role_arn, sts_session_name(fn.session_name))


@dataclass
class _Connection:
    session: boto3.Session
    expires_at: float | None  # epoch seconds; None: the credential chain refreshes itself
    clients: dict[str, Any]


class Connector:
    """One boto3 session per ``Access``, its role assumed once and again before it expires.
    Safe to share between threads (checks invoke concurrently); boto3 clients are, sessions
    are not, so sessions and clients are made under a lock."""

    def __init__(
        self,
        *,
        session_factory: SessionFactory | None = None,
        max_attempts: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session_factory: SessionFactory = session_factory or default_session
        self._max_attempts = max_attempts
        self._clock = clock
        self._connections: dict[Access, _Connection] = {}
        self._lock = threading.Lock()

    def lambda_client(self, fn: FunctionRef) -> LambdaClient:
        client: LambdaClient = self._client(fn, "lambda")
        return client

    def cloudwatch_client(self, fn: FunctionRef) -> CloudWatchClient:
        client: CloudWatchClient = self._client(fn, "cloudwatch")
        return client

    def client(self, fn: FunctionRef, service: str) -> Any:
        """A client of any other service, on the same credentials (``doctor`` reads IAM)."""
        return self._client(fn, service)

    def caller_arn(self, fn: FunctionRef) -> str:
        """Who AWS thinks we are in ``fn.env`` (an assumed-role ARN names the session)."""
        sts = self._client(fn, "sts")
        with translated("asking STS who we are for", where=where_text(fn)):
            return str(sts.get_caller_identity()["Arn"])

    def _client(self, fn: FunctionRef, service: str) -> Any:
        access = Access.of(fn)
        with self._lock:
            connection = self._connections.get(access)
            if connection is None or self._expiring(connection):
                connection = self._connect(access, where=where_text(fn))
                self._connections[access] = connection
            if service not in connection.clients:
                timeout = _LAMBDA_READ_TIMEOUT if service == "lambda" else 60
                config = client_config(max_attempts=self._max_attempts, read_timeout=timeout)
                with translated(f"creating the {service} client for", where=where_text(fn)):
                    connection.clients[service] = connection.session.client(
                        service,  # type: ignore[call-overload]
                        config=config,
                    )
            return connection.clients[service]

    def _expiring(self, connection: _Connection) -> bool:
        if connection.expires_at is None:
            return False
        return self._clock() > connection.expires_at - _REFRESH_MARGIN_SECONDS

    def _connect(self, access: Access, *, where: str) -> _Connection:
        base = self._session_factory(region=access.region, profile=access.profile)
        if access.role_arn is None:
            return _Connection(base, None, {})
        config = client_config(max_attempts=self._max_attempts)
        with translated(f"assuming the role {access.role_arn} for", where=where):
            answer = base.client("sts", config=config).assume_role(
                RoleArn=access.role_arn, RoleSessionName=access.session_name
            )
        found = answer["Credentials"]
        credentials = TemporaryCredentials(
            access_key_id=found["AccessKeyId"],
            secret_access_key=found["SecretAccessKey"],
            session_token=found["SessionToken"],
            expiration=found["Expiration"],
        )
        session = self._session_factory(region=access.region, credentials=credentials)
        return _Connection(session, credentials.expiration.timestamp(), {})


def where_text(fn: FunctionRef) -> str:
    return f"{fn.function_name} ({fn.env})"


def s3_client(
    *, session_factory: SessionFactory | None = None, max_attempts: int | None = None
) -> S3Client:
    """The artifact store's S3 client: the default credential chain (AWS_PROFILE, OIDC in
    CI) in the default region; botocore follows a bucket to its own region."""
    region = boto3.Session().region_name or "us-east-1"
    session = (session_factory or default_session)(region=region)
    with translated("creating the S3 client in", where=region):
        client: S3Client = session.client("s3", config=client_config(max_attempts=max_attempts))
    return client
