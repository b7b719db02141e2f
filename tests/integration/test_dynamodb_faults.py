"""What AWS does to a DynamoDB ledger, on moto with botocore hooks for what moto does not do:
throttling is retried with backoff (AWS_MAX_ATTEMPTS in all) and then named; a role that may
only read keeps every reading command working and stops a writing one at its first write,
saying so (as ``access.py`` does for SQL); a missing table is a usage error naming
``state init``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from aws_fixtures import _Raw, error_answer
from lambda_promote import audit
from lambda_promote.errors import ConfigError, LedgerError
from lambda_promote.ledger.dynamo import DynamoLedger
from lambda_promote.ledger.dynamo_table import DynamoTable
from lambda_promote.ledger.dynamo_url import parse_dynamodb
from lambda_promote.model import Artifact, Deployment, DeploymentState
from lambda_promote.targets.aws import client_config
from ledger_fixtures import dynamodb_table

DIGEST = "cd" * 32
_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with dynamodb_table(server=False, root=tmp_path) as made:
        yield made


def ledger_with(url: str, register: Any = None, *, attempts: int | None = None) -> DynamoLedger:
    session = boto3.Session(region_name="us-east-1")
    if register is not None:
        register(session.events)
    client = session.client("dynamodb", config=client_config(max_attempts=attempts))
    return DynamoLedger(DynamoTable(parse_dynamodb(url), client=client))


class Throttle:
    """Answers the first ``times`` calls of ``operation`` as DynamoDB does when throttling."""

    def __init__(self, operation: str, times: int) -> None:
        self.operation, self.left, self.seen = operation, times, 0

    def register(self, events: Any) -> None:
        events.register(f"before-send.dynamodb.{self.operation}", self._answer)

    def _answer(self, **_: Any) -> AWSResponse | None:
        self.seen += 1
        if self.left <= 0:
            return None
        self.left -= 1
        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "The level of configured provisioned throughput was exceeded",
            }
        ).encode()
        return AWSResponse("https://fake", 400, {}, _Raw(body))


def test_throttling_is_retried_with_backoff(url: str):
    throttle = Throttle("PutItem", times=2)
    ledger = ledger_with(url, throttle.register)
    ledger.record_artifact(Artifact(digest=DIGEST, size=1, path="a.zip"))
    assert throttle.seen == 3
    assert ledger.find_artifact(DIGEST) is not None


def test_throttling_past_aws_max_attempts_is_named(url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    throttle = Throttle("PutItem", times=10)
    ledger = ledger_with(url, throttle.register)
    with pytest.raises(LedgerError) as failed:
        ledger.record_artifact(Artifact(digest=DIGEST, size=1, path="a.zip"))
    assert failed.value.code == "ledger_throttled"
    assert throttle.seen == 2
    assert "AWS_MAX_ATTEMPTS" in failed.value.hint


def test_a_role_that_may_only_read_reads_and_is_stopped_at_the_first_write(url: str):
    writer = ledger_with(url)
    writer.create_deployment(
        Deployment(id="d-1", env="staging", digest=DIGEST, state=DeploymentState.SUCCEEDED)
    )
    writer.append_audit(
        lambda last: audit.chain(last, at=datetime.now(UTC), actor="ci", action="deploy")
    )

    def deny(events: Any) -> None:
        for operation in _WRITES:
            events.register(
                f"before-call.dynamodb.{operation}",
                lambda **_: error_answer(
                    400, "AccessDeniedException", "not authorized to perform this action"
                ),
            )

    reader = ledger_with(url, deny)
    assert [d.id for d in reader.deployments("staging")] == ["d-1"]
    assert len(reader.audit_events()) == 1
    assert reader.lock_info("staging") is None
    with pytest.raises(LedgerError) as refused:
        reader.acquire_lock("staging", holder="ci@h:1", deployment_id="d-2")
    assert refused.value.code == "ledger_read_only"
    assert "dynamodb:PutItem" in refused.value.hint
    assert "reading commands" in refused.value.hint


def test_a_missing_table_is_a_usage_error_naming_state_init(url: str):
    missing = url.replace("lp-test-", "lp-gone-")
    ledger = ledger_with(missing)
    for call in (
        lambda: ledger.deployments("staging"),
        ledger.audit_head,
        lambda: ledger.record_artifact(Artifact(digest=DIGEST, size=1, path="a.zip")),
    ):
        with pytest.raises(ConfigError) as refused:
            call()
        assert refused.value.code == "state_missing"
        assert "lambda-promote state init" in refused.value.hint


def test_a_transaction_refused_for_another_reason_is_named(url: str):
    def refuse(events: Any) -> None:
        def answer(**_: Any) -> Any:
            response, parsed = error_answer(400, "TransactionCanceledException", "cancelled")
            parsed["CancellationReasons"] = [{"Code": "None"}, {"Code": "ValidationError"}]
            return response, parsed

        events.register("before-call.dynamodb.TransactWriteItems", answer)

    ledger = ledger_with(url, refuse)
    with pytest.raises(LedgerError, match="refused a transaction: ValidationError"):
        ledger.create_deployment(
            Deployment(id="d-1", env="staging", digest=DIGEST, state=DeploymentState.PENDING)
        )
    assert ledger_with(url).get_deployment("d-1") is None
