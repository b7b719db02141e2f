"""``state: dynamodb://TABLE?region=REGION`` end to end (DESIGN §11.6), through the real CLI in
child processes against moto's server on 127.0.0.1 (``AWS_ENDPOINT_URL``): ``state init``,
a missing table, a mistyped scheme, two working copies (two CI runners) sharing one table,
a deploy killed with SIGKILL and recovered from DynamoDB.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from cli_project import Project, make_project
from lambda_promote.ledger.dynamo import open_ledger
from ledger_fixtures import dynamodb_table


@pytest.fixture
def table_url(tmp_path: Path) -> Iterator[str]:
    with dynamodb_table(server=True, root=tmp_path) as url:
        yield url


def table_name(url: str) -> str:
    return url.removeprefix("dynamodb://").partition("?")[0]


def live(project: Project, env: str = "staging") -> dict[str, Any]:
    return project.run("status", env, check=0)[1]["environments"][env]


def test_state_init_creates_an_on_demand_table_with_recovery_and_tags_once(tmp_path: Path):
    with dynamodb_table(server=True, root=tmp_path, create=False) as url:
        project = make_project(tmp_path / "p", state=url)
        _, body = project.run("state", "init", "--tag", "team=payments", check=0)
        made = body["state"]
        assert made["created"] is True
        assert made["point_in_time_recovery"] is True

        client = boto3.client("dynamodb")
        table = client.describe_table(TableName=table_name(url))["Table"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {
            "by_prefix",
            "by_env",
            "by_kind",
            "live",
        }
        backups = client.describe_continuous_backups(TableName=table_name(url))
        recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"
        tags = client.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
        assert {t["Key"]: t["Value"] for t in tags} == {
            "app": "lambda-promote",
            "project": "tiny",
            "team": "payments",
        }

        _, again = project.run("state", "init", check=0)
        assert again["state"]["created"] is False
        assert again["state"]["arn"] == made["arn"]


def test_any_command_against_a_missing_table_exits_2_naming_state_init(tmp_path: Path):
    with dynamodb_table(server=True, root=tmp_path, create=False) as url:
        project = make_project(tmp_path / "p", state=url)
        for command in (("status",), ("history",), ("deploy", "staging")):
            _, body = project.run(*command, check=2)
            assert body["error"]["code"] == "state_missing", body
            assert "does not exist" in body["error"]["message"]
            assert "lambda-promote state init" in body["error"]["hint"]


def test_a_mistyped_state_scheme_gets_a_did_you_mean(tmp_path: Path):
    project = make_project(tmp_path / "p", state="dynamdb://ledger?region=us-east-1")
    _, body = project.run("status", check=2)
    assert body["error"]["message"].startswith("promote.yaml:3: state:"), body["error"]
    assert "did you mean dynamodb://" in body["error"]["hint"]
    # The variable overrides a valid file: refused when the ledger is opened, as clearly.
    fine = make_project(tmp_path / "q")
    _, body = fine.run("status", env={"LAMBDA_PROMOTE_STATE": "postgressql://u@h/db"}, check=2)
    assert body["error"]["code"] == "state_url"
    assert "did you mean postgresql://" in body["error"]["hint"]


def test_two_working_copies_share_history_approvals_and_one_audit_chain(
    tmp_path: Path, table_url: str
):
    """The issue's "done when": two runners, one table."""
    first = make_project(tmp_path / "runner-1", state=table_url)
    second = make_project(tmp_path / "runner-2", state=table_url)
    _, deployed = first.run("deploy", "staging", check=0)
    digest = deployed["deployment"]["digest"]

    # The second runner sees the first one's deployment, and the gate works across them.
    _, history = second.run("history", "staging", check=0)
    assert [d["id"] for d in history["deployments"]] == [deployed["deployment"]["id"]]
    _, opened = first.run("request-approval", "production", "--artifact", digest[:12], check=0)
    request_id = opened["approval_request"]["id"]
    _, status = second.run("status", check=0)
    assert [r["id"] for r in status["environments"]["production"]["approvals"]] == [request_id]
    second.run("approve", request_id[:12], "--env", "production", user="lead", check=0)

    # The second runner has no artifact store of its own here: the first one promotes.
    _, promoted = first.run("deploy", "production", "--artifact", digest[:12], check=0)
    assert promoted["deployment"]["state"] == "succeeded"
    # What is live is the target's business (each copy runs its own local emulator here);
    # what was done is the shared ledger's.
    _, history = second.run("history", "production", check=0)
    assert [(d["id"], d["state"]) for d in history["deployments"]] == [
        (promoted["deployment"]["id"], "succeeded")
    ]

    _, one = first.run("audit", "--verify", check=0)
    _, two = second.run("audit", "--verify", check=0)
    assert one["audit"] == two["audit"]
    _, events = second.run("audit", check=0)
    actions = [e["action"] for e in events["events"]]
    assert "approval.approved" in actions or any("approv" in a for a in actions)
    assert [e["seq"] for e in events["events"]] == list(range(1, len(actions) + 1))


def test_a_deploy_killed_with_sigkill_is_recovered_from_dynamodb(tmp_path: Path, table_url: str):
    project = make_project(tmp_path / "p", state=table_url)
    _, first = project.run("deploy", "staging", check=0)
    project.release("r2", sleep=30)
    victim = project.popen("deploy", "staging")
    ledger = open_ledger(table_url)
    deadline = time.monotonic() + 120
    while [d.state.value for d in ledger.unfinished("staging")] != ["verifying"]:
        assert time.monotonic() < deadline, "never reached verifying"
        assert victim.poll() is None, victim.communicate()
        time.sleep(0.2)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)
    killed = ledger.unfinished("staging")[0]
    assert ledger.lock_info("staging") is not None  # left behind by the dead process

    status = live(project)
    assert status["lock"]["stale"] is True
    assert [d["id"] for d in status["in_flight"]] == [killed.id]

    project.release("r3")
    _, body = project.run("deploy", "staging", check=0)
    assert body["deployment"]["previous_version"] == "1"  # the interrupted one was undone
    assert ledger.get_deployment(killed.id).state.value == "rolled_back"  # type: ignore[union-attr]
    assert ledger.lock_info("staging") is None
    after = live(project)
    assert after["in_flight"] == []
    assert after["version"] == body["deployment"]["version"]
    assert first["deployment"]["digest"] != after["digest"]
    project.run("audit", "--verify", check=0)
