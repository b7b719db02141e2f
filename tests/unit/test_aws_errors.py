"""The pure pieces of the aws target: what an AWS failure tells the user, Lambda's CodeSha256
against our digests, STS session names, and the good-versions tag on the function."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from lambda_promote.targets.aws_errors import (
    describe_client_error,
    describe_transport_error,
    sts_session_name,
)
from lambda_promote.targets.aws_lambda import code_sha256, decode_log_tail, digest_of
from lambda_promote.targets.aws_target import GOOD_KEEP, format_good, parse_good

DIGEST = hashlib.sha256(b"release").hexdigest()
OTHER = hashlib.sha256(b"other").hexdigest()


def client_error(code: str, message: str, operation: str, **metadata: Any) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": metadata},  # type: ignore[typeddict-item]
        operation,
    )


def test_code_sha256_is_lambdas_base64_of_the_raw_digest_and_back():
    expected = base64.b64encode(hashlib.sha256(b"release").digest()).decode()
    assert code_sha256(DIGEST) == expected
    assert digest_of(expected) == DIGEST


@pytest.mark.parametrize("value", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_a_code_sha256_that_is_not_a_sha256_gives_no_digest(value):
    assert digest_of(value) == ""


def test_log_tail_is_decoded_and_undecodable_text_kept():
    assert decode_log_tail(base64.b64encode(b"START\nhello\nEND").decode()) == "START\nhello\nEND"
    assert decode_log_tail("") == ""


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        ("alice d-1a2b/ci run", "alice-d-1a2b-ci-run"),
        ("bob@example.com+d-1,x=y.z_w", "bob@example.com+d-1,x=y.z_w"),
        ("zoë", "zo-"),
        ("", "lambda-promote"),
        ("x" * 100, "x" * 64),
    ],
)
def test_session_names_follow_sts_rules(wanted, expected):
    assert sts_session_name(wanted) == expected


def test_a_conflict_says_nothing_was_overwritten():
    error = client_error(
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id.",
        "UpdateAlias",
    )
    message, hint, conflict = describe_client_error(
        error, doing="pointing the alias live at version 3 of", where="orders-staging (staging)"
    )
    assert conflict is True
    assert message.startswith(
        "while pointing the alias live at version 3 of orders-staging (staging): "
        "PreconditionFailedException: The Revision Id provided does not match"
    )
    assert "nothing was overwritten" in message
    assert "lambda-promote status" in hint


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("UpdateFunctionCode", "lambda:UpdateFunctionCode"),
        ("Invoke", "lambda:InvokeFunction"),
        ("HeadObject", "s3:GetObject"),
        ("DescribeAlarms", "cloudwatch:DescribeAlarms"),
    ],
)
def test_access_denied_names_the_iam_action_to_grant(operation, action):
    error = client_error("AccessDeniedException", "User is not authorized", operation)
    message, hint, conflict = describe_client_error(error, doing="doing", where="fn (staging)")
    assert not conflict
    assert message == "while doing fn (staging): AccessDeniedException: User is not authorized"
    assert f"may not call {action}" in hint
    assert "docs/aws.md" in hint


def test_throttling_that_outlasted_the_retries_says_how_often_it_tried():
    error = client_error(
        "TooManyRequestsException", "Rate exceeded", "UpdateAlias", RetryAttempts=7
    )
    _, hint, _ = describe_client_error(error, doing="x", where="y")
    assert "8 attempts" in hint


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("ExpiredTokenException", "expired or not valid"),
        ("ResourceNotFoundException", "function_name, region and the account"),
        ("ServiceException", "internal error"),
    ],
)
def test_other_aws_errors_get_a_hint_that_fits(code, words):
    status = 500 if code == "ServiceException" else 400
    error = client_error(code, "m", "GetAlias", HTTPStatusCode=status)
    assert words in describe_client_error(error, doing="x", where="y")[1]


def test_missing_credentials_point_to_profiles_and_oidc():
    message, hint = describe_transport_error(
        NoCredentialsError(), doing="reading the alias live of", where="fn (staging)"
    )
    assert message.startswith("while reading the alias live of fn (staging): NoCredentialsError")
    assert "AWS_PROFILE" in hint
    assert "OIDC" in hint


def test_an_unreachable_endpoint_names_aws_endpoint_url_when_it_is_set():
    error = EndpointConnectionError(endpoint_url="http://127.0.0.1:5000/")
    _, hint = describe_transport_error(
        error, doing="x", where="y", environ={"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}
    )
    assert "AWS_ENDPOINT_URL=http://127.0.0.1:5000" in hint
    _, hint = describe_transport_error(error, doing="x", where="y", environ={})
    assert "the AWS endpoint" in hint


def test_the_good_versions_tag_round_trips_and_fits_a_tag_value():
    entries = [("4294967295", DIGEST), ("4294967294", OTHER)][:GOOD_KEEP]
    value = format_good(entries)
    assert len(value) <= 256
    assert set(value) <= set("0123456789abcdef= ")  # only characters tag values allow
    assert parse_good(value) == entries


def test_a_tag_edited_by_hand_keeps_only_what_makes_sense():
    value = f"12={DIGEST} x={OTHER} 11=abc 12={OTHER} 10={OTHER.upper()} 9={OTHER}"
    assert parse_good(value) == [("12", DIGEST), ("9", OTHER)]
    assert parse_good("") == []
