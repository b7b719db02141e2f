"""What an AWS failure means to the person running the tool: pure wording for ``aws.translated``.

Kept apart from aws.py so it needs no botocore import (STYLE 1) and can be tested on its own:
it reads a ``ClientError``'s ``response``/``operation_name`` and a transport error's class
name and keyword arguments, and answers with a message, a hint and whether it is a conflict.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Protocol

# Someone else wrote between our read and our write: abort, never retry over them.
# (moto says ConflictException where Lambda says ResourceConflictException.)
CONFLICT_CODES = frozenset(
    {"PreconditionFailedException", "ResourceConflictException", "ConflictException"}
)
THROTTLING_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
DENIED_CODES = frozenset(
    {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "AuthorizationError"}
)
CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "RequestExpired",
    }
)
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "NoSuchBucket", "NoSuchKey", "404"})

_CREDENTIAL_ERRORS = frozenset(
    {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"}
)
_NETWORK_ERRORS = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ProxyConnectionError",
        "SSLError",
        "HTTPClientError",
    }
)
# IAM actions whose names differ from the API operation (the rest are lambda:<Operation>).
_IAM_ACTIONS = {
    "Invoke": "lambda:InvokeFunction",
    "HeadObject": "s3:GetObject",
    "GetObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "ListObjectsV2": "s3:ListBucket",
    "DescribeAlarms": "cloudwatch:DescribeAlarms",
    "AssumeRole": "sts:AssumeRole",
    "AssumeRoleWithWebIdentity": "sts:AssumeRoleWithWebIdentity",
    "GetCallerIdentity": "sts:GetCallerIdentity",
}
_SESSION_NAME_BAD = re.compile(r"[^\w+=,.@-]", re.ASCII)
_SESSION_NAME_MAX = 64  # STS RoleSessionName: 2-64 characters of [\w+=,.@-]
DOCS = "docs/aws.md"


class AwsClientError(Protocol):
    """The part of botocore's ``ClientError`` we read."""

    @property
    def response(self) -> Mapping[str, Any]: ...
    @property
    def operation_name(self) -> str: ...


def error_code(exc: AwsClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "") or "")


def iam_action(operation: str) -> str:
    return _IAM_ACTIONS.get(operation, f"lambda:{operation}")


def describe_client_error(exc: AwsClientError, *, doing: str, where: str) -> tuple[str, str, bool]:
    """``(message, hint, is_conflict)`` for an error answer from an AWS API."""
    code = error_code(exc) or "Error"
    aws_message = str(exc.response.get("Error", {}).get("Message", "") or "").strip()
    message = f"while {doing} {where}: {code}" + (f": {aws_message}" if aws_message else "")
    if code in CONFLICT_CODES:
        return (
            f"{message} (someone else changed it since we read it; nothing was overwritten)",
            "another deployment or a person changed the function or its alias; check "
            "`lambda-promote status` and run the command again",
            True,
        )
    return message, _hint_for(code, exc), False


def _hint_for(code: str, exc: AwsClientError) -> str:
    if code in DENIED_CODES:
        return (
            f"the credentials in use may not call {iam_action(exc.operation_name)}; grant it "
            f"to the deploy role (the full least-privilege policy is in {DOCS})"
        )
    if code in THROTTLING_CODES:
        attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        return (
            f"AWS kept throttling the call ({int(attempts) + 1} attempts with backoff); "
            "wait a minute and run the command again, or ask for a higher quota"
        )
    if code in CREDENTIAL_CODES:
        return (
            "the AWS credentials are expired or not valid: refresh them (`aws sso login`, "
            "or re-run the OIDC step in CI) and run the command again"
        )
    if code in NOT_FOUND_CODES:
        return (
            "check function_name, region and the account (profile/role_arn) of the "
            "environment in promote.yaml; lambda-promote deploys to existing functions only"
        )
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if status >= 500:
        return "AWS answered with an internal error; run the command again"
    return f"see {DOCS} for the permissions and settings the aws target needs"


def describe_transport_error(
    exc: BaseException, *, doing: str, where: str, environ: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """``(message, hint)`` for a botocore error raised before or instead of an answer."""
    env = os.environ if environ is None else environ
    kind = type(exc).__name__
    message = f"while {doing} {where}: {kind}: {exc}"
    if kind in _CREDENTIAL_ERRORS:
        return message, (
            "no usable AWS credentials: set AWS_PROFILE (or `profile:` for the environment in "
            "promote.yaml) and run `aws sso login` if it uses SSO; in CI use OIDC "
            f"(aws-actions/configure-aws-credentials) as shown in {DOCS}"
        )
    if kind == "ProfileNotFound":
        return message, (
            "check `profile:` in promote.yaml and AWS_PROFILE against the profiles in "
            "~/.aws/config (`aws configure list-profiles`)"
        )
    if kind == "NoRegionError":
        return message, "set `region:` for the environment in promote.yaml"
    if kind in _NETWORK_ERRORS:
        endpoint = env.get("AWS_ENDPOINT_URL")
        where_to = f"AWS_ENDPOINT_URL={endpoint}" if endpoint else "the AWS endpoint"
        return message, (
            f"could not reach {where_to}: check the network, any proxy settings, and the "
            "region; unset AWS_ENDPOINT_URL unless you mean to use a local emulator"
        )
    return message, f"this looks like a problem talking to AWS; see {DOCS}"


def sts_session_name(text: str) -> str:
    """``text`` as an STS RoleSessionName: 2-64 characters of letters, digits and ``+=,.@_-``
    (anything else becomes ``-``), so CloudTrail can show who deployed what."""
    name = _SESSION_NAME_BAD.sub("-", text.strip())[:_SESSION_NAME_MAX]
    return name if len(name) >= 2 else "lambda-promote"
