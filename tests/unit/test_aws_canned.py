"""The aws target against scripted AWS answers (botocore level, nothing sent): the Lambda
behaviours moto cannot produce — handler errors with their logs, a code update refused
because the function changed, an update Lambda reports as failed, missing credentials."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from aws_fixtures import Canned, isolate_aws_env, zip_bytes
from lambda_promote.errors import ConflictError, TargetError
from lambda_promote.model import Artifact, FunctionRef
from lambda_promote.targets.aws_lambda import code_sha256
from lambda_promote.targets.aws_target import AwsTarget

FN = FunctionRef(env="staging", function_name="orders-staging", alias="live")
ARN = "arn:aws:lambda:us-east-1:111111111111:function:orders-staging"


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch, tmp_path):
    isolate_aws_env(monkeypatch, tmp_path)  # whatever ~/.aws says, nothing is read from it


def latest(code: bytes, *, revision: str = "rev-1", status: str = "Successful") -> dict:
    return {
        "FunctionArn": ARN,
        "Version": "$LATEST",
        "CodeSha256": base64.b64encode(hashlib.sha256(code).digest()).decode(),
        "RevisionId": revision,
        "LastUpdateStatus": status,
        "Architectures": ["x86_64"],
        "Runtime": "python3.12",
    }


def release(tmp_path: Path, text: str) -> tuple[Artifact, Path]:
    data = zip_bytes(text)
    path = tmp_path / "release.zip"
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    return Artifact(digest=digest, size=len(data), path=str(path)), path


def test_a_handler_error_comes_back_with_its_type_message_and_log_tail():
    aws = Canned().answer(
        "Invoke",
        {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "LogResult": base64.b64encode(b"START RequestId: 1\nboom\nEND RequestId: 1").decode(),
            "ExecutedVersion": "7",
            "Payload": b'{"errorMessage": "boom", "errorType": "ValueError"}',
        },
    )
    result = AwsTarget(session_factory=aws.sessions).invoke(FN, {"action": "ping"})
    assert result.function_error == "Unhandled"
    assert result.payload == {"errorMessage": "boom", "errorType": "ValueError"}
    assert "boom" in result.logs
    assert result.version == "7"
    (call,) = aws.log.of("Invoke")
    assert (call["Qualifier"], call["LogType"], call["Payload"]) == (
        "live",
        "Tail",
        b'{"action": "ping"}',
    )


def test_code_changed_since_we_read_it_is_a_conflict_and_nothing_is_published(tmp_path):
    artifact, path = release(tmp_path, "new")
    aws = (
        Canned()
        .answer("GetFunctionConfiguration", latest(b"old", revision="rev-we-read"))
        .fail(
            "UpdateFunctionCode",
            412,
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id.",
        )
    )
    with pytest.raises(ConflictError) as caught:
        AwsTarget(session_factory=aws.sessions).publish(FN, artifact, path)
    assert caught.value.message.startswith(
        "while updating the code of orders-staging (staging): PreconditionFailedException"
    )
    (update,) = aws.log.of("UpdateFunctionCode")
    assert update["RevisionId"] == "rev-we-read"
    assert update["ZipFile"] == path.read_bytes()
    assert aws.log.of("PublishVersion") == []


def test_a_version_is_published_only_for_our_code_and_revision(tmp_path):
    artifact, path = release(tmp_path, "new")
    published = {**latest(zip_bytes("new")), "Version": "8", "FunctionArn": f"{ARN}:8"}
    aws = (
        Canned()
        .answer("GetFunctionConfiguration", latest(b"old"))
        .answer("UpdateFunctionCode", latest(zip_bytes("new"), status="InProgress"))
        # The waiter's last answer is the settled $LATEST, with its new revision.
        .answer(
            "GetFunction", {"Configuration": latest(zip_bytes("new"), revision="rev-after-update")}
        )
        .answer("PublishVersion", {**published, "State": "Active"})
    )
    version = AwsTarget(session_factory=aws.sessions).publish(FN, artifact, path)
    assert (version.version, version.digest) == ("8", artifact.digest)
    (publish,) = aws.log.of("PublishVersion")
    assert publish["CodeSha256"] == code_sha256(artifact.digest)
    assert publish["RevisionId"] == "rev-after-update"
    assert len(aws.log.of("GetFunctionConfiguration")) == 1  # not read again after the wait


def test_an_update_lambda_reports_as_failed_gives_lambdas_reason(tmp_path):
    artifact, path = release(tmp_path, "new")
    failed = {
        **latest(zip_bytes("new"), status="Failed"),
        "LastUpdateStatusReason": "The role defined for the function cannot be assumed",
    }
    aws = (
        Canned()
        .answer("GetFunctionConfiguration", latest(b"old"))
        .answer("UpdateFunctionCode", latest(zip_bytes("new"), status="InProgress"))
        .answer("GetFunction", {"Configuration": failed})
    )
    with pytest.raises(TargetError) as caught:
        AwsTarget(session_factory=aws.sessions).publish(FN, artifact, path)
    assert caught.value.message == (
        "while waiting for the code update of orders-staging (staging): LastUpdateStatus "
        "Failed: The role defined for the function cannot be assumed"
    )
    assert aws.log.of("PublishVersion") == []


def test_access_denied_on_the_alias_names_the_call_and_the_permission():
    aws = Canned().fail(
        "UpdateAlias",
        403,
        "AccessDeniedException",
        "User: arn:aws:sts::1:assumed-role/ci/x is not authorized to perform: lambda:UpdateAlias",
    )
    with pytest.raises(TargetError) as caught:
        AwsTarget(session_factory=aws.sessions).point_alias(FN, "8", expected_revision="rev-1")
    assert caught.value.message.startswith(
        "while pointing the alias live at version 8 of orders-staging (staging): "
        "AccessDeniedException: User: arn:aws:sts::1:assumed-role/ci/x is not authorized"
    )
    assert "lambda:UpdateAlias" in caught.value.hint


def test_no_credentials_at_all_is_explained(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never reached: no signature
    with pytest.raises(TargetError) as caught:
        AwsTarget(max_attempts=1).alias_state(FN)
    assert "while reading the alias live of orders-staging (staging): NoCredentialsError" in (
        caught.value.message
    )
    assert "AWS_PROFILE" in caught.value.hint
