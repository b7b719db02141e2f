"""The aws target call by call against moto (in-process and server): roles assumed per
environment, more than one page of versions, code too big for a direct upload, invocations,
alarms, and the errors a user meets when the account or the network is not what they think."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aws_fixtures import MODES, MotoWorld, isolate_aws_env, moto_world, release
from lambda_promote.artifacts_s3 import S3Store
from lambda_promote.errors import ConflictError, TargetError
from lambda_promote.model import FunctionRef
from lambda_promote.release.rollback import candidate_from_good
from lambda_promote.targets.aws import s3_client
from lambda_promote.targets.aws_s3 import S3Api
from lambda_promote.targets.aws_target import AwsTarget

FN = FunctionRef(env="staging", function_name="orders-staging", alias="live")
STAGING_ROLE = "arn:aws:iam::111111111111:role/deploy-staging"
PRODUCTION_ROLE = "arn:aws:iam::222222222222:role/deploy-production"


@pytest.fixture(params=MODES)
def world(request: pytest.FixtureRequest, monkeypatch, tmp_path) -> Iterator[MotoWorld]:
    with moto_world(request.param, monkeypatch, tmp_path) as made:
        yield made


def test_each_environment_works_in_its_own_account_through_its_role(world, tmp_path):
    for role in (STAGING_ROLE, PRODUCTION_ROLE):
        world.create_function("orders", role_arn=role)
    staging = FunctionRef(
        env="staging",
        function_name="orders",
        alias="live",
        role_arn=STAGING_ROLE,
        session_name="alice d-1a2b3c4d/ci run #7 ✓",
    )
    production = FunctionRef(
        env="production",
        function_name="orders",
        alias="live",
        role_arn=PRODUCTION_ROLE,
        session_name="bob-d-99",
    )
    target = AwsTarget(session_factory=world.sessions)
    a, b = release(tmp_path, "a"), release(tmp_path, "b")
    target.point_alias(
        staging, target.publish(staging, a.artifact, a.path).version, expected_revision=None
    )
    target.publish(staging, b.artifact, b.path)  # staging's account gets a second version

    assert target.publish(production, a.artifact, a.path).version == "1"  # its own account
    assert [v.digest for v in target.list_versions(staging)] == [a.digest, b.digest]
    assert [v.digest for v in target.list_versions(production)] == [a.digest]
    ours = [c for c in world.log.of("AssumeRole") if c["RoleSessionName"] != "someone-else"]
    session_names = [c["RoleSessionName"] for c in ours]
    assert session_names == ["alice-d-1a2b3c4d-ci-run--7--", "bob-d-99"]
    assert target.caller_arn(staging) == (
        "arn:aws:sts::111111111111:assumed-role/deploy-staging/alice-d-1a2b3c4d-ci-run--7--"
    )


def test_more_than_one_page_of_versions_is_read_to_the_end(world, tmp_path):
    world.create_function(FN.function_name)
    target = AwsTarget(session_factory=world.sessions)
    made = []
    for n in range(60):
        rel = release(tmp_path, f"r{n}")
        made.append((target.publish(FN, rel.artifact, rel.path).version, rel.digest))

    one_page = (
        world.session().client("lambda").list_versions_by_function(FunctionName=FN.function_name)
    )
    assert len(one_page["Versions"]) == 50  # Lambda's page, as a one-page reader would stop
    assert "NextMarker" in one_page
    listed = target.list_versions(FN)
    assert [(v.version, v.digest) for v in listed] == made
    assert made[-1][0] == "60"


def test_redeploying_the_live_release_publishes_nothing(world, tmp_path):
    world.create_function(FN.function_name)
    target = AwsTarget(session_factory=world.sessions)
    a = release(tmp_path, "a")
    first = target.publish(FN, a.artifact, a.path)
    target.point_alias(FN, first.version, expected_revision=None)
    again = target.publish(FN, a.artifact, a.path)
    assert (again.version, again.digest) == (first.version, a.digest)
    assert len(world.log.of("UpdateFunctionCode")) == 1  # the bytes were not sent twice
    assert len(world.log.of("PublishVersion")) == 1


def test_a_zip_over_the_direct_upload_limit_goes_through_its_s3_object(world, tmp_path):
    world.create_function(FN.function_name)
    world.session().client("s3").create_bucket(Bucket="artifacts")
    store = S3Store(
        S3Api(s3_client(), bucket="artifacts"), prefix="orders", cache_dir=tmp_path / "c"
    )
    big = release(tmp_path, "big", extra=bytes(range(256)) * 64)
    stored = store.put(big.path, big.artifact)
    assert stored.path == f"s3://artifacts/orders/{big.digest}.zip"
    target = AwsTarget(session_factory=world.sessions, direct_upload_limit=1024)

    published = target.publish(FN, stored, store.verified_path(big.digest))

    assert published.digest == big.digest
    (update,) = world.log.of("UpdateFunctionCode")
    assert (update["S3Bucket"], update["S3Key"]) == ("artifacts", f"orders/{big.digest}.zip")
    assert "ZipFile" not in update
    local = release(tmp_path, "local", extra=bytes(range(256)) * 64)  # not in S3
    with pytest.raises(TargetError, match="over Lambda's 0 MB limit") as caught:
        AwsTarget(session_factory=world.sessions, direct_upload_limit=10).publish(
            FN, local.artifact, local.path
        )
    assert "artifacts: s3://" in caught.value.hint


def test_bytes_that_are_not_the_release_are_never_published(world, tmp_path):
    world.create_function(FN.function_name)
    a = release(tmp_path, "a")
    a.path.write_bytes(a.path.read_bytes() + b"tampered")
    with pytest.raises(TargetError, match="refusing to publish bytes that are not the release"):
        AwsTarget(session_factory=world.sessions).publish(FN, a.artifact, a.path)
    assert world.log.of("UpdateFunctionCode") == []


def test_an_artifact_built_for_another_architecture_is_refused(world, tmp_path):
    world.create_function(FN.function_name, architecture="x86_64")
    arm = release(tmp_path, "arm", architecture="arm64")
    with pytest.raises(
        TargetError, match=r"runs on x86_64 but the artifact .* was built for arm64"
    ):
        AwsTarget(session_factory=world.sessions).publish(FN, arm.artifact, arm.path)


def test_invocations_keep_json_and_text_answers(world, tmp_path):
    world.create_function(FN.function_name)
    target = AwsTarget(session_factory=world.sessions)
    a = release(tmp_path, "a")
    target.point_alias(FN, target.publish(FN, a.artifact, a.path).version, expected_revision=None)
    world.queue_invoke_results("not json at all")
    assert target.invoke(FN, {"ping": 1}).payload == "not json at all"
    answer = target.invoke(FN, {"ping": [1, 2]}, qualifier="1")
    assert (answer.payload, answer.function_error) == ({"ping": [1, 2]}, None)
    (call, _) = world.log.of("Invoke")[-2:]
    assert (call["Qualifier"], call["LogType"]) == ("live", "Tail")


def test_alarms_in_alarm_are_named_and_unknown_alarms_are_an_error(world):
    cloudwatch = world.session().client("cloudwatch")
    for name in ("errors", "latency"):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
    cloudwatch.set_alarm_state(AlarmName="latency", StateValue="ALARM", StateReason="test")
    target = AwsTarget(session_factory=world.sessions)
    assert target.alarms_firing(FN, ["errors", "latency"]) == ["latency"]
    with pytest.raises(TargetError, match="the alarm\\(s\\) erors of staging do not exist"):
        target.alarms_firing(FN, ["errors", "erors"])


def test_a_function_that_does_not_exist_is_named_with_its_environment(world):
    target = AwsTarget(session_factory=world.sessions)
    with pytest.raises(TargetError) as caught:
        target.alias_state(FN)
    assert caught.value.message.startswith(
        "while reading the configuration of orders-staging (staging): ResourceNotFoundException"
    )
    assert "function_name, region and the account" in caught.value.hint


def test_a_first_deployment_finds_the_alias_created_meanwhile_as_a_conflict(world, tmp_path):
    world.create_function(FN.function_name)
    target = AwsTarget(session_factory=world.sessions)
    a = release(tmp_path, "a")
    version = target.publish(FN, a.artifact, a.path).version
    world.session().client("lambda").create_alias(
        FunctionName=FN.function_name, Name="live", FunctionVersion=version
    )
    with pytest.raises(ConflictError, match="ConflictException"):
        target.point_alias(FN, version, expected_revision=None)


def test_removing_an_alias_checks_its_revision_first(world, tmp_path):
    world.create_function(FN.function_name)
    target = AwsTarget(session_factory=world.sessions)
    a = release(tmp_path, "a")
    created = target.point_alias(
        FN, target.publish(FN, a.artifact, a.path).version, expected_revision=None
    )
    with pytest.raises(ConflictError, match="changed by someone else"):
        target.remove_alias(FN, expected_revision="not-the-revision")
    target.remove_alias(FN, expected_revision=str(created.revision_id))
    assert target.alias_state(FN).version is None


def test_an_unreachable_endpoint_is_a_target_error_with_a_hint(monkeypatch, tmp_path: Path):
    isolate_aws_env(monkeypatch, tmp_path)
    with socket.socket() as probe:  # a port on 127.0.0.1 that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(TargetError) as caught:
        AwsTarget(max_attempts=1).alias_state(FN)
    assert "while reading the alias live of orders-staging (staging): EndpointConnectionError" in (
        caught.value.message
    )
    assert f"AWS_ENDPOINT_URL=http://127.0.0.1:{port}" in caught.value.hint


def test_the_function_remembers_its_last_two_good_versions_and_checks_them(world, tmp_path):
    arn = world.create_function(FN.function_name)
    warnings: list[str] = []
    target = AwsTarget(session_factory=world.sessions, warn=warnings.append)
    releases = [release(tmp_path, name) for name in ("a", "b", "c")]
    for rel in releases:
        version = target.publish(FN, rel.artifact, rel.path).version
        target.record_good(FN, version, rel.digest)
    a, b, c = (rel.digest for rel in releases)
    tags = world.session().client("lambda").list_tags(Resource=arn)["Tags"]
    assert tags == {"lambda-promote:live:good": f"3={c} 2={b}"}
    assert target.good_versions(FN) == [("3", c), ("2", b)]
    assert candidate_from_good(target.good_versions(FN), "3") == ("2", b)
    # A version not recorded as good: the newest good one.
    assert candidate_from_good(target.good_versions(FN), "1") == ("3", c)

    # Someone edits the tag to claim version 1 holds c: the version's own code says otherwise.
    world.session().client("lambda").tag_resource(
        Resource=arn, Tags={"lambda-promote:live:good": f"1={c} 2={b}"}
    )
    assert AwsTarget(session_factory=world.sessions, warn=warnings.append).good_versions(FN) == [
        ("2", b)
    ]
    assert any("ignoring good version 1" in w for w in warnings)
    assert target.list_versions(FN)[0].digest == a  # what version 1 really holds


def test_a_named_profile_is_used_and_a_missing_one_explained(world, monkeypatch, tmp_path):
    config = tmp_path / "aws-config"
    config.write_text(
        "[profile orders-staging]\n"
        "role_arn = arn:aws:iam::333333333333:role/from-profile\n"
        "source_profile = keys\n"
        "role_session_name = laptop\n"
        "[profile keys]\n"
        "aws_access_key_id = testing\n"
        "aws_secret_access_key = testing\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    target = AwsTarget(session_factory=world.sessions)
    with_profile = FunctionRef(
        env="staging", function_name="x", alias="live", profile="orders-staging"
    )
    assert target.caller_arn(with_profile) == (
        "arn:aws:sts::333333333333:assumed-role/from-profile/laptop"
    )
    typo = FunctionRef(env="staging", function_name="x", alias="live", profile="orders-stagin")
    with pytest.raises(TargetError, match="ProfileNotFound") as caught:
        target.alias_state(typo)
    assert "the profile orders-stagin" in caught.value.message
    assert "aws configure list-profiles" in caught.value.hint


def test_an_assumed_role_is_assumed_again_before_its_credentials_expire(world, tmp_path):
    world.create_function("orders", role_arn=STAGING_ROLE)
    now = [time.time()]
    target = AwsTarget(session_factory=world.sessions, clock=lambda: now[0])
    fn = FunctionRef(env="staging", function_name="orders", alias="live", role_arn=STAGING_ROLE)
    target.alias_state(fn)
    target.alias_state(fn)
    ours = [c for c in world.log.of("AssumeRole") if c["RoleSessionName"] != "someone-else"]
    assert len(ours) == 1  # the session is reused
    now[0] += 10 * 3600  # far past the hour STS grants
    target.alias_state(fn)
    ours = [c for c in world.log.of("AssumeRole") if c["RoleSessionName"] != "someone-else"]
    assert len(ours) == 2


def test_a_deployment_reads_each_configuration_once(world, tmp_path):
    """publish → point_alias → record_good, as a deploy runs them, then the same for a
    rollback: the function's ARN (for its tag) comes from a configuration already read."""
    world.create_function(FN.function_name)
    target = AwsTarget(session_factory=world.sessions)
    first, second = release(tmp_path, "a"), release(tmp_path, "b")
    for rel in (first, second):
        before = target.alias_state(FN)
        published = target.publish(FN, rel.artifact, rel.path)
        target.point_alias(FN, published.version, expected_revision=before.revision_id)
        target.record_good(FN, published.version, rel.digest)

    world.log.calls.clear()
    rollback = AwsTarget(session_factory=world.sessions)  # a new process, as `rollback` is
    live = rollback.alias_state(FN)
    (version, digest) = candidate_from_good(rollback.good_versions(FN), live.version or "")
    rollback.point_alias(FN, version, expected_revision=live.revision_id)
    rollback.record_good(FN, version, digest, abandoned=live.version)
    # Read the alias, the live version's digest (with the function's ARN), the tag and the
    # digest of the version it names; move the alias; write the tag. Nothing read twice.
    assert [name for name, _ in world.log.calls] == [
        "GetAlias",
        "GetFunctionConfiguration",
        "ListTags",
        "GetFunctionConfiguration",
        "UpdateAlias",
        "TagResource",  # the tag as just read: ours to write, under the environment's lock
    ]

    world.log.calls.clear()
    fresh = AwsTarget(session_factory=world.sessions)
    third = release(tmp_path, "c")
    before = fresh.alias_state(FN)
    published = fresh.publish(FN, third.artifact, third.path)
    fresh.point_alias(FN, published.version, expected_revision=before.revision_id)
    fresh.record_good(FN, published.version, third.digest)
    reads = [name for name, _ in world.log.calls if name == "GetFunctionConfiguration"]
    # The version live before (its digest) and $LATEST before the upload. $LATEST after it,
    # with the function's tags, is the waiter's last answer (GetFunction).
    assert len(reads) == 2, world.log.calls
    assert "ListTags" not in [name for name, _ in world.log.calls]


def test_a_rollback_reads_the_tag_with_the_live_version_and_keeps_the_others(world, tmp_path):
    """A rollback with its history in the ledger reads the alias and, in one GetFunction on
    the alias, the live version's digest and the good-versions tag it rewrites: no ListTags,
    no GetFunctionConfiguration."""
    arn = world.create_function(FN.function_name)
    target = AwsTarget(session_factory=world.sessions)
    releases = [release(tmp_path, name) for name in ("a", "b", "c")]
    for rel in releases:
        before = target.alias_state(FN)
        published = target.publish(FN, rel.artifact, rel.path)
        target.point_alias(FN, published.version, expected_revision=before.revision_id)
        target.record_good(FN, published.version, rel.digest)
    _, b, c = (rel.digest for rel in releases)

    world.log.calls.clear()
    rollback = AwsTarget(session_factory=world.sessions)  # a new process, as `rollback` is
    live = rollback.alias_state(FN, changing=True)
    rollback.point_alias(FN, "2", expected_revision=live.revision_id)
    rollback.record_good(FN, "2", b, abandoned=live.version)

    assert (live.version, live.digest) == ("3", c)
    calls = [name for name, _ in world.log.calls]
    # The alias and, at the same time, the version it serves with the function's tags.
    assert sorted(calls[:2]) == ["GetAlias", "GetFunction"]
    assert calls[2:] == ["UpdateAlias", "TagResource"]
    tags = world.session().client("lambda").list_tags(Resource=arn)["Tags"]
    # Version 1 fell off when 3 was recorded (two are kept); 3 was abandoned.
    assert tags == {"lambda-promote:live:good": f"2={b}"}


def test_a_function_without_tags_has_them_read_when_the_good_version_is_recorded(world, tmp_path):
    arn = world.create_function(FN.function_name)
    target = AwsTarget(session_factory=world.sessions)
    rel = release(tmp_path, "a")
    published = target.publish(FN, rel.artifact, rel.path)
    target.point_alias(FN, published.version, expected_revision=None)

    fresh = AwsTarget(session_factory=world.sessions)
    live = fresh.alias_state(FN, changing=True)
    fresh.record_good(FN, published.version, rel.digest)

    assert live.digest == rel.digest
    tags = world.session().client("lambda").list_tags(Resource=arn)["Tags"]
    assert tags == {"lambda-promote:live:good": f"1={rel.digest}"}
