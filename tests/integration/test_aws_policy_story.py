"""`lambda-promote aws policy` grants exactly what the aws target uses: every AWS call of a
whole release story on moto — builds into an S3 store, a failed first deployment, deploys,
a promotion, a check failure and an alarm rolled back, the good-versions tag, a rollback from
a fresh machine — is recorded with botocore's events and must be allowed by the generated
policy of its role, and every action the policy grants must have been used."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from aws_fixtures import MotoWorld, moto_world, release
from fake_target import QuietProgress
from fakes import MemoryLedger
from lambda_promote.artifacts_s3 import S3Store
from lambda_promote.aws_policy import CALLS, Where, build_role, iam_action, roles_for
from lambda_promote.config.schema import Approval, Check, Config, Environment
from lambda_promote.deploy import Deployer
from lambda_promote.journal import Journal
from lambda_promote.model import DeploymentState, FunctionRef
from lambda_promote.release.rollback import candidate_from_good
from lambda_promote.targets.aws import TemporaryCredentials, default_session
from lambda_promote.targets.aws_s3 import S3Api
from lambda_promote.targets.aws_target import AwsTarget

S = DeploymentState
BUCKET = "orders-builds"
PING = Check(name="ping", payload={"ok": True}, expect={"body": {"ok": True}})
CONFIG = Config(
    project="orders",
    artifacts=f"s3://{BUCKET}/builds",
    environments={
        "staging": Environment(function_name="orders-staging", checks=[PING], alarms=["errs"]),
        "production": Environment(
            function_name="orders-production",
            checks=[PING],
            promote_from="staging",
            approval=Approval(reviewers=["team-lead"]),
        ),
    },
)
STAGING = FunctionRef(env="staging", function_name="orders-staging", alias="live")
PRODUCTION = FunctionRef(env="production", function_name="orders-production", alias="live")


class Recorder:
    """Every AWS call made through the sessions it makes: (service, operation)."""

    def __init__(self) -> None:
        self.calls: set[tuple[str, str]] = set()

    def sessions(
        self,
        *,
        region: str,
        profile: str | None = None,
        credentials: TemporaryCredentials | None = None,
    ) -> boto3.Session:
        session = default_session(region=region, profile=profile, credentials=credentials)
        session.events.register("provide-client-params", self._record)
        return session

    def _record(self, event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".")
        self.calls.add((service, operation))

    def actions(self) -> set[str]:
        found = {iam_action(service, op) for service, op in self.calls}
        unknown = sorted(f"{s}:{o}" for s, o in self.calls if iam_action(s, o) is None)
        assert not unknown, f"calls missing from aws_policy.CALLS: {unknown}"
        return {a for a in found if a}


def granted(policy: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for statement in policy["Statement"]:
        action = statement["Action"]
        out |= {action} if isinstance(action, str) else set(action)
    return out


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[MotoWorld]:
    with moto_world("in-process", monkeypatch, tmp_path) as made:
        made.create_function(STAGING.function_name)
        made.create_function(PRODUCTION.function_name)
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("cloudwatch").put_metric_alarm(
            AlarmName="errs", Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum",
            Period=60, EvaluationPeriods=1, Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )  # fmt: skip
        yield made


def store(recorder: Recorder, cache: Path) -> S3Store:
    client = recorder.sessions(region="us-east-1").client("s3")
    return S3Store(S3Api(client, bucket=BUCKET), prefix="builds", cache_dir=cache)


def test_the_policies_grant_exactly_the_calls_of_a_whole_story(
    world: MotoWorld, tmp_path: Path
) -> None:
    builder, deployer_calls = Recorder(), Recorder()
    built = store(builder, tmp_path / "build-cache")
    releases = [release(tmp_path, n) for n in ("a", "b", "c")]
    for rel in releases:
        built.put(rel.path, rel.artifact)
    assert built.resolve(releases[0].digest[:8]).digest == releases[0].digest

    fetched = store(deployer_calls, tmp_path / "deploy-cache")
    target = AwsTarget(session_factory=deployer_calls.sessions)
    d = Deployer(
        ledger=MemoryLedger(), target=target, journal=Journal(MemoryLedger()), actor="ci",
        holder="ci@runner:1", progress=QuietProgress(),
    )  # fmt: skip
    staging, production = CONFIG.environments["staging"], CONFIG.environments["production"]

    def deploy(fn: FunctionRef, env: Environment, digest: str) -> Any:
        artifact = fetched.resolve(digest[:10])
        dep = d.deploy(fn, env, artifact, Path(fetched.verified_path(artifact.digest)))
        if dep.state is S.SUCCEEDED and dep.version is not None:
            target.record_good(fn, dep.version, dep.digest)
        return dep

    a, b, c = (r.digest for r in releases)
    world.queue_invoke_results({"ok": False})
    assert deploy(STAGING, staging, a).state is S.ROLLED_BACK  # the first one: alias deleted
    assert deploy(STAGING, staging, a).state is S.SUCCEEDED
    assert deploy(PRODUCTION, production, a).state is S.SUCCEEDED
    world.queue_invoke_results({"ok": False})
    assert deploy(STAGING, staging, b).state is S.ROLLED_BACK
    # Production's own memory: the configuration is applied with the code (DESIGN §11.3).
    assert deploy(replace(PRODUCTION, memory_mb=512), production, c).state is S.SUCCEEDED
    fresh = AwsTarget(session_factory=deployer_calls.sessions)
    version, digest = candidate_from_good(fresh.good_versions(PRODUCTION), "2") or ("", "")
    assert (version, digest) == ("1", a)
    assert {v.version for v in fresh.list_versions(PRODUCTION)} >= {"1", "2"}
    fresh.caller_arn(PRODUCTION)

    where = Where("123456789012", "acme/orders")
    deploy_policy = roles_for(CONFIG, "staging", where)["deploy"]["policy"]
    assert deployer_calls.actions() == granted(deploy_policy)
    assert builder.actions() == granted(build_role(CONFIG, where)["policy"])
    # The read role (the request job's) holds nothing the deploy role lacks, and no writes.
    read = granted(roles_for(CONFIG, "production", where)["read"]["policy"])
    assert read < granted(deploy_policy)
    assert not {a for a in read if a.split(":")[1].startswith(("Update", "Create", "Put"))}


def test_every_call_in_the_table_names_a_role_or_says_who_holds_it() -> None:
    for call in CALLS:
        assert call.why
        assert call.roles or call.action == "sts:AssumeRole"
