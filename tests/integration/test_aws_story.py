"""The release story on the aws target, through the real deployment state machine, against moto
in-process and against moto's server on 127.0.0.1 (``AWS_ENDPOINT_URL``): deploy, promote the
same bytes, a bad release rolled back automatically (failed check; alarm), a manual rollback
from a fresh machine with an empty ledger, a conflicting writer, and throttling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from aws_fixtures import MODES, MotoWorld, Release, moto_world, release, throttled_answer
from fake_target import QuietProgress
from fakes import MemoryLedger
from lambda_promote.config.schema import Check, Environment
from lambda_promote.deploy import Deployer
from lambda_promote.errors import TargetError
from lambda_promote.journal import Journal
from lambda_promote.model import Deployment, DeploymentState, FunctionRef
from lambda_promote.release.rollback import candidate_from_good
from lambda_promote.targets.aws_lambda import code_sha256
from lambda_promote.targets.aws_target import AwsTarget

S = DeploymentState
PING = Check(name="ping", payload={"ok": True}, expect={"body": {"ok": True}})
STAGING = FunctionRef(env="staging", function_name="orders-staging", alias="live")
PRODUCTION = FunctionRef(env="production", function_name="orders-production", alias="live")
STAGING_ENV = Environment(function_name="orders-staging", checks=[PING])
PRODUCTION_ENV = Environment(function_name="orders-production", checks=[PING])


@pytest.fixture(params=MODES)
def world(request: pytest.FixtureRequest, monkeypatch, tmp_path) -> Iterator[MotoWorld]:
    with moto_world(request.param, monkeypatch, tmp_path) as made:
        made.create_function(STAGING.function_name)
        made.create_function(PRODUCTION.function_name)
        yield made


def deployer(ledger: MemoryLedger, target: AwsTarget) -> Deployer:
    return Deployer(
        ledger=ledger,
        target=target,
        journal=Journal(ledger),
        actor="alice",
        holder="alice@ci:1",
        progress=QuietProgress(),
    )


def deploy(d: Deployer, target: AwsTarget, fn: FunctionRef, env: Environment, rel: Release):
    """A deployment as the service runs it: after a verified success the function records
    the version as good (so a machine without this ledger can roll back)."""
    dep = d.deploy(fn, env, rel.artifact, rel.path)
    if dep.state is S.SUCCEEDED and dep.version is not None:
        target.record_good(fn, dep.version, dep.digest)
    return dep


def live(world: MotoWorld, fn: FunctionRef) -> tuple[str, str]:
    """The alias's version and code, as someone looking at the console would see them."""
    client = world.session().client("lambda")
    version = client.get_alias(FunctionName=fn.function_name, Name=fn.alias)["FunctionVersion"]
    code = client.get_function_configuration(FunctionName=fn.function_name, Qualifier=version)
    return version, code["CodeSha256"]


def code_sha(rel: Release) -> str:
    return code_sha256(rel.digest)


def test_release_promotion_rollbacks_and_a_fresh_machine(world: MotoWorld, tmp_path: Path):
    target = AwsTarget(session_factory=world.sessions)
    ledger = MemoryLedger()
    d = deployer(ledger, target)
    a, b, c = (release(tmp_path, n) for n in ("a", "b", "c"))

    first = deploy(d, target, STAGING, STAGING_ENV, a)
    assert (first.state, first.version, first.previous_version) == (S.SUCCEEDED, "1", None)
    assert live(world, STAGING) == ("1", code_sha(a))

    promoted = deploy(d, target, PRODUCTION, PRODUCTION_ENV, a)
    assert promoted.state is S.SUCCEEDED
    assert live(world, PRODUCTION) == ("1", code_sha(a))  # the same bytes, never rebuilt

    world.queue_invoke_results({"ok": False})  # release b answers wrongly once: its check
    bad = deploy(d, target, STAGING, STAGING_ENV, b)
    assert bad.state is S.ROLLED_BACK
    assert bad.rollback is not None
    assert bad.rollback["verified"] is True
    assert live(world, STAGING) == ("1", code_sha(a))
    assert "expected body.ok = true, got false" in bad.error

    good = deploy(d, target, STAGING, STAGING_ENV, c)
    assert (good.state, good.version) == (S.SUCCEEDED, "3")  # version 2 (b) stays, unused
    assert deploy(d, target, PRODUCTION, PRODUCTION_ENV, c).state is S.SUCCEEDED
    assert live(world, PRODUCTION) == ("2", code_sha(c))

    # A CI job on a fresh machine: no ledger history, a new target, only the function's tags.
    fresh = AwsTarget(session_factory=world.sessions)
    current = fresh.alias_state(PRODUCTION)
    assert current.version == "2"
    candidate = candidate_from_good(fresh.good_versions(PRODUCTION), current.version)
    assert candidate == ("1", a.digest)
    empty = MemoryLedger()
    undo = deployer(empty, fresh).rollback_to(
        PRODUCTION, PRODUCTION_ENV, version="1", digest=a.digest, reason="c breaks checkout"
    )
    assert undo.state is S.SUCCEEDED
    assert undo.rollback is not None
    assert undo.rollback["verified"] is True
    fresh.record_good(PRODUCTION, "1", a.digest, abandoned="2")
    assert live(world, PRODUCTION) == ("1", code_sha(a))
    assert fresh.good_versions(PRODUCTION) == [("1", a.digest)]
    # Nothing earlier is known good.
    assert candidate_from_good(fresh.good_versions(PRODUCTION), "1") is None


def test_an_alarm_firing_after_the_shift_rolls_the_release_back(world: MotoWorld, tmp_path):
    cloudwatch = world.session().client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="orders-staging-errors",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    bad_version: list[str] = []

    def errors_follow_the_bad_version(session: boto3.Session) -> None:
        def after_alias_write(parsed: dict[str, Any], **_: Any) -> None:
            state = "ALARM" if parsed.get("FunctionVersion") in bad_version else "OK"
            cloudwatch.set_alarm_state(
                AlarmName="orders-staging-errors", StateValue=state, StateReason="test"
            )

        session.events.register("after-call.lambda.UpdateAlias", after_alias_write)

    world.hooks.append(errors_follow_the_bad_version)
    target = AwsTarget(session_factory=world.sessions)
    env = Environment(
        function_name="orders-staging", checks=[PING], alarms=["orders-staging-errors"]
    )
    d = deployer(MemoryLedger(), target)
    assert deploy(d, target, STAGING, env, release(tmp_path, "a")).state is S.SUCCEEDED
    bad_version.append("2")
    dep = deploy(d, target, STAGING, env, release(tmp_path, "b"))
    assert dep.state is S.ROLLED_BACK
    assert (
        "check alarm:orders-staging-errors failed: alarm orders-staging-errors is in ALARM"
        in dep.error
    )
    assert target.alias_state(STAGING).version == "1"


def test_an_alias_moved_by_someone_else_is_never_overwritten(world: MotoWorld, tmp_path):
    target = AwsTarget(session_factory=world.sessions)
    d = deployer(MemoryLedger(), target)
    assert deploy(d, target, STAGING, STAGING_ENV, release(tmp_path, "a")).state is S.SUCCEEDED
    other = world.session().client("lambda")
    other.update_function_code(
        FunctionName=STAGING.function_name, ZipFile=release(tmp_path, "hotfix").path.read_bytes()
    )
    hotfix = other.publish_version(FunctionName=STAGING.function_name)["Version"]
    moved: list[str] = []

    def someone_moves_the_alias_first(session: boto3.Session) -> None:
        def before_update_alias(**_: Any) -> None:
            if not moved:
                moved.append(hotfix)
                other.update_alias(
                    FunctionName=STAGING.function_name, Name="live", FunctionVersion=hotfix
                )

        session.events.register_first("before-call.lambda.UpdateAlias", before_update_alias)

    world.hooks.append(someone_moves_the_alias_first)
    racing = AwsTarget(session_factory=world.sessions)
    dep = deployer(MemoryLedger(), racing).deploy(
        STAGING, STAGING_ENV, release(tmp_path, "b").artifact, release(tmp_path, "b").path
    )
    assert dep.state is S.FAILED
    assert "PreconditionFailedException" in dep.error
    assert "orders-staging (staging)" in dep.error
    assert racing.alias_state(STAGING).version == hotfix  # their change stands
    assert len(world.log.of("UpdateAlias")) == 2  # theirs and our refused one: no retry


def test_throttled_calls_are_retried_and_the_deployment_goes_through(world: MotoWorld, tmp_path):
    answered: list[int] = []

    def throttle_once(session: boto3.Session) -> None:
        def before_send(**_: Any) -> Any:
            answered.append(429 if not answered else 200)
            return throttled_answer() if answered[-1] == 429 else None

        session.events.register_first("before-send.lambda.PublishVersion", before_send)

    world.hooks.append(throttle_once)
    target = AwsTarget(session_factory=world.sessions)
    dep = deploy(
        deployer(MemoryLedger(), target), target, STAGING, STAGING_ENV, release(tmp_path, "a")
    )
    assert dep.state is S.SUCCEEDED
    assert answered == [429, 200]


def test_throttling_that_never_ends_fails_the_deployment_before_traffic_moves(
    world: MotoWorld, tmp_path
):
    def always_throttle(session: boto3.Session) -> None:
        def before_send(**_: Any) -> Any:
            return throttled_answer()

        session.events.register_first("before-send.lambda.PublishVersion", before_send)

    world.hooks.append(always_throttle)
    target = AwsTarget(session_factory=world.sessions, max_attempts=2)
    dep: Deployment = deployer(MemoryLedger(), target).deploy(
        STAGING, STAGING_ENV, release(tmp_path, "a").artifact, release(tmp_path, "a").path
    )
    assert dep.state is S.FAILED
    assert "while publishing a version of orders-staging (staging): TooManyRequestsException" in (
        dep.error
    )
    assert target.alias_state(STAGING).version is None
    with pytest.raises(TargetError, match="TooManyRequestsException") as caught:
        target.publish(STAGING, release(tmp_path, "a").artifact, release(tmp_path, "a").path)
    assert "2 attempts" in caught.value.hint
