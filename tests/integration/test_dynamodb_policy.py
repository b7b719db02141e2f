"""The IAM of a DynamoDB ledger (DESIGN §11.6, §11.9): every call each role's jobs make to the
ledger table, recorded with botocore's events on moto, is granted by that role's generated
policy — and the policy grants nothing those calls do not use; the statement is scoped to
the table and its indexes. ``doctor`` judges the table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from cli_project import make_project
from lambda_promote import audit
from lambda_promote.aws_policy import Where, build_role, iam_action, roles_for
from lambda_promote.config.schema import Approval, Config, Environment
from lambda_promote.ledger.dynamo import DynamoLedger
from lambda_promote.ledger.dynamo_table import DynamoTable
from lambda_promote.ledger.dynamo_url import parse_dynamodb
from lambda_promote.model import (
    ApprovalDecision,
    ApprovalRequest,
    Artifact,
    CheckResult,
    Deployment,
    DeploymentState,
    RequestState,
)
from ledger_fixtures import dynamodb_table

WHERE = Where("123456789012", "acme/orders")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
DIGEST = "ab" * 32


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with dynamodb_table(server=False, root=tmp_path) as made:
        yield made


class Recorder:
    def __init__(self) -> None:
        self.calls: set[tuple[str, str]] = set()

    def ledger(self, url: str) -> DynamoLedger:
        session = boto3.Session(region_name="us-east-1")
        session.events.register("provide-client-params.dynamodb", self._record)
        return DynamoLedger(DynamoTable(parse_dynamodb(url), client=session.client("dynamodb")))

    def _record(self, event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".")
        self.calls.add((service, operation))

    def actions(self) -> set[str]:
        unknown = sorted(o for s, o in self.calls if iam_action(s, o) is None)
        assert not unknown, f"calls missing from aws_policy.CALLS: {unknown}"
        return {str(iam_action(s, o)) for s, o in self.calls}


def config(url: str) -> Config:
    return Config(
        project="orders",
        state=url,
        environments={
            "staging": Environment(function_name="orders-staging"),
            "production": Environment(
                function_name="orders-production",
                promote_from="staging",
                approval=Approval(reviewers=["lead"]),
            ),
        },
    )


def table_statement(policy: dict[str, Any]) -> dict[str, Any]:
    (found,) = [s for s in policy["Statement"] if s["Sid"] == "TheLedgerTable"]
    return found


def granted(policy: dict[str, Any]) -> set[str]:
    action = table_statement(policy)["Action"]
    return {action} if isinstance(action, str) else set(action)


def audited(ledger: DynamoLedger, action: str) -> None:
    ledger.append_audit(lambda last: audit.chain(last, at=NOW, actor="ci", action=action))


def build_story(ledger: DynamoLedger) -> None:
    ledger.record_artifact(Artifact(digest=DIGEST, size=1, path="a.zip"))
    audited(ledger, "build")


def request_story(ledger: DynamoLedger) -> None:
    assert ledger.find_artifact(DIGEST[:12]) is not None
    ledger.deployments("staging", states=[DeploymentState.SUCCEEDED])
    ledger.create_request(
        ApprovalRequest(
            id="r-1",
            env="production",
            digest=DIGEST,
            requested_by="ci",
            requested_at=NOW,
            expires_at=NOW + timedelta(days=3),
        )
    )
    ledger.requests(env="production", states=[RequestState.OPEN])
    audited(ledger, "approval.requested")


def deploy_story(ledger: DynamoLedger) -> None:
    ledger.add_decision("r-1", ApprovalDecision(reviewer="lead", approve=True, at=NOW))
    ledger.acquire_lock("production", holder="ci@runner:1", deployment_id="d-1")
    ledger.create_deployment(
        Deployment(id="d-1", env="production", digest=DIGEST, state=DeploymentState.PENDING)
    )
    ledger.set_request_state("r-1", RequestState.CONSUMED, consumed_by="d-1")
    ledger.transition("d-1", DeploymentState.PUBLISHING)
    ledger.add_checks("d-1", [CheckResult("ping", True, 1.0, "ok")])
    ledger.transition("d-1", DeploymentState.SUCCEEDED, version="2")
    ledger.release_lock("production", "d-1")
    ledger.acquire_lock("production", holder="ci@gone:2", deployment_id="d-2")
    ledger.break_lock("production", "d-2")
    assert ledger.unfinished("production") == []
    assert ledger.get_deployment("d-1") is not None
    audited(ledger, "deploy.succeeded")
    ledger.table.health()  # doctor


def test_each_role_is_granted_exactly_the_ledger_calls_its_jobs_make(url: str):
    build, read, deploy = Recorder(), Recorder(), Recorder()
    build_story(build.ledger(url))
    request_story(read.ledger(url))
    deploy_story(deploy.ledger(url))

    made = config(url)
    assert build.actions() == granted(build_role(made, WHERE)["policy"])
    roles = roles_for(made, "production", WHERE)
    assert read.actions() == granted(roles["read"]["policy"])
    assert deploy.actions() | read.actions() == granted(roles["deploy"]["policy"])
    # Scoped to the one table and its indexes, in the URL's region.
    table = parse_dynamodb(url).table
    arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}"
    assert table_statement(roles["deploy"]["policy"])["Resource"] == [arn, f"{arn}/index/*"]


def test_without_a_dynamodb_state_no_role_gets_the_table(url: str):
    made = config(url).model_copy(update={"state": "sqlite:///.lambda-promote/state.db"})
    for role in roles_for(made, "production", WHERE).values():
        assert "TheLedgerTable" not in {s["Sid"] for s in role["policy"]["Statement"]}


def test_doctor_looks_at_the_state_table(tmp_path: Path):
    with dynamodb_table(server=True, root=tmp_path) as url:
        project = make_project(tmp_path / "p", state=url)
        _, body = project.run("doctor", check=0)
        (table,) = [f for f in body["findings"] if f["check"] == "state table"]
        assert table["level"] == "ok"
        assert "point-in-time recovery on" in table["message"]

        name = parse_dynamodb(url).table
        boto3.client("dynamodb").update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False},
        )
        _, body = project.run("doctor", check=0)
        (table,) = [f for f in body["findings"] if f["check"] == "state table"]
        assert table["level"] == "warning"
        assert "state init" in table["hint"]

        boto3.client("dynamodb").delete_table(TableName=name)
        _, body = project.run("doctor", check=1)
        (table,) = [f for f in body["findings"] if f["check"] == "state table"]
        assert table["level"] == "problem"
        assert "state init" in table["hint"]
