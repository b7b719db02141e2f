"""`lambda-promote doctor` on moto: an event source that invokes `$LATEST` (which keeps a failed
release's code) is a problem with a hint to use the alias; a clean setup passes; a missing
function or alarm is named; the real command exits 1 with the findings in --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from aws_fixtures import MotoWorld, moto_world
from lambda_promote.config.schema import Config, Environment
from lambda_promote.doctor import examine, role_of
from lambda_promote.model import FunctionRef
from lambda_promote.targets.aws_doctor import AwsDoctorReads

STAGING = FunctionRef(env="staging", function_name="orders-staging", alias="live")
CONFIG = Config(
    project="orders",
    environments={"staging": Environment(function_name="orders-staging", alarms=["errs"])},
)


@pytest.fixture(params=["in-process", "server"])
def world(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[MotoWorld]:
    with moto_world(request.param, monkeypatch, tmp_path) as made:
        arn = made.create_function(STAGING.function_name)
        client = made.session().client("lambda")
        version = client.publish_version(FunctionName=STAGING.function_name)["Version"]
        client.create_alias(FunctionName=arn, Name="live", FunctionVersion=version)
        made.session().client("cloudwatch").put_metric_alarm(
            AlarmName="errs", Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum",
            Period=60, EvaluationPeriods=1, Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )  # fmt: skip
        yield made


def queue_feeding(world: MotoWorld, function: str) -> str:
    sqs = world.session().client("sqs")
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    world.session().client("lambda").create_event_source_mapping(
        EventSourceArn=queue["QueueArn"], FunctionName=function
    )
    return str(queue["QueueArn"])


def findings(world: MotoWorld) -> list[tuple[str, str]]:
    found = examine(
        CONFIG, ["staging"], AwsDoctorReads(session_factory=world.sessions), {"staging": [STAGING]}
    )
    return [(f.check, f.level) for f in found]


def test_a_clean_setup_has_no_problem(world: MotoWorld) -> None:
    queue_feeding(world, "orders-staging:live")
    result = findings(world)
    assert ("invokers", "ok") in result
    assert ("alarms", "ok") in result
    assert not [f for f in result if f[1] == "problem"]


def test_an_event_source_invoking_latest_is_a_problem_with_the_alias_as_the_fix(
    world: MotoWorld,
) -> None:
    queue = queue_feeding(world, "orders-staging")
    found = examine(
        CONFIG, ["staging"], AwsDoctorReads(session_factory=world.sessions), {"staging": [STAGING]}
    )
    problem = next(f for f in found if f.check == "invokers" and f.level == "problem")
    assert problem.level == "problem"
    assert queue in problem.message
    assert "$LATEST" in problem.message
    assert "orders-staging:live" in problem.hint


def test_a_missing_alarm_is_named(world: MotoWorld) -> None:
    boto3.client("cloudwatch", endpoint_url=os.environ.get("AWS_ENDPOINT_URL")).delete_alarms(
        AlarmNames=["errs"]
    )
    assert ("alarms", "problem") in findings(world)


def test_the_command_exits_1_and_lists_the_findings(world: MotoWorld, tmp_path: Path) -> None:
    if world.mode != "server":
        pytest.skip("the command runs in a child process: it needs moto's server")
    queue_feeding(world, "orders-staging")
    (tmp_path / "promote.yaml").write_text(
        "project: orders\nfunction: {}\nenvironments:\n  staging: {function_name: orders-staging}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "lambda_promote", "doctor", "staging", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    body = json.loads(done.stdout)
    assert (done.returncode, body["error"]["code"]) == (1, "doctor_found_problems")
    levels = {(f["check"], f["level"]) for f in body["findings"]}
    assert {("invokers", "problem"), ("credentials", "ok")} <= levels


def test_a_missing_function_is_a_problem_naming_it(world: MotoWorld) -> None:
    ghost = FunctionRef(env="staging", function_name="ghost", alias="live")
    found = examine(
        CONFIG, ["staging"], AwsDoctorReads(session_factory=world.sessions), {"staging": [ghost]}
    )
    function = next(f for f in found if f.check == "function")
    assert function.level == "problem"
    assert "ghost does not exist" in function.message


def test_an_assumed_role_session_is_simulated_as_its_role() -> None:
    caller = "arn:aws:sts::111111111111:assumed-role/deploy-staging/lambda-promote-42"
    assert role_of(caller) == "arn:aws:iam::111111111111:role/deploy-staging"


def _doctor(tmp_path: Path, state: str) -> tuple[int, dict[str, Any]]:
    (tmp_path / "promote.yaml").write_text(
        f"project: orders\ntarget: local\nfunction: {{}}\nstate: {state}\n"
        "environments:\n  staging: {function_name: orders-staging}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "lambda_promote", "doctor", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "LAMBDA_PROMOTE_STATE"},
    )
    return done.returncode, json.loads(done.stdout)


def test_an_unreachable_ledger_is_a_problem_naming_the_state_setting(tmp_path: Path) -> None:
    code, body = _doctor(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:9/test")
    assert (code, body["error"]["code"]) == (1, "doctor_found_problems")
    state = [f for f in body["findings"] if f["check"] == "state"]
    assert [f["level"] for f in state] == ["problem"]
    assert "127.0.0.1" in state[0]["message"]
    assert "state" in state[0]["hint"]


def test_a_readable_ledger_is_reported_and_nothing_is_created(tmp_path: Path) -> None:
    code, body = _doctor(tmp_path, "sqlite:///.lambda-promote/state.db")
    assert code == 0
    assert [f["level"] for f in body["findings"] if f["check"] == "state"] == ["ok"]
    assert not (tmp_path / ".lambda-promote").exists()


def test_every_function_of_a_release_is_examined(world: MotoWorld) -> None:
    """DESIGN §11.4: doctor looks at each function of the environment, not only the first."""
    worker = FunctionRef(env="staging", function_name="orders-worker-staging", alias="live")
    found = examine(
        CONFIG,
        ["staging"],
        AwsDoctorReads(session_factory=world.sessions),
        {"staging": [STAGING, worker]},
    )
    assert [f.check for f in found].count("credentials") == 1
    alias_ok = [f for f in found if f.check == "function" and f.level == "ok"]
    assert [f.message.split()[0] for f in alias_ok] == ["orders-staging"]
    missing = [f for f in found if f.check == "function" and f.level == "problem"]
    assert [f.message for f in missing] == ["orders-worker-staging does not exist in us-east-1"]
    assert ("alarms", "ok") in [(f.check, f.level) for f in found]
