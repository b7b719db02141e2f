"""A release is code and configuration on the aws target (DESIGN §11.3), against moto in-process
and moto's server: the configuration is applied before publishing, so each version carries its
own (read back with ``get_function_configuration(Qualifier=version)``); moving the alias back
brings the old memory back with the old code; a configuration-only change is a new version;
keys promote.yaml leaves unset stay as the function has them."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from aws_fixtures import MODES, MotoWorld, moto_world, release
from fake_target import QuietProgress
from fakes import MemoryLedger
from lambda_promote.config.schema import Environment
from lambda_promote.deploy import Deployer, live_configuration
from lambda_promote.drift import environment_drift
from lambda_promote.errors import ConflictError
from lambda_promote.journal import Journal
from lambda_promote.model import DeploymentState, FunctionRef
from lambda_promote.targets.aws_target import AwsTarget

FN = FunctionRef(env="staging", function_name="orders-staging", alias="live")


@pytest.fixture(params=MODES)
def world(request: pytest.FixtureRequest, monkeypatch, tmp_path) -> Iterator[MotoWorld]:
    with moto_world(request.param, monkeypatch, tmp_path) as made:
        made.create_function(FN.function_name)
        yield made


def version_config(world: MotoWorld, qualifier: str) -> dict[str, Any]:
    """What Lambda says the version (or alias) runs with, read by someone else."""
    client = world.session().client("lambda")
    return client.get_function_configuration(FunctionName=FN.function_name, Qualifier=qualifier)


def writes(world: MotoWorld) -> list[str]:
    wanted = {"UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion"}
    return [name for name, _ in world.log.calls if name in wanted]


def test_a_configuration_only_change_is_a_new_version_and_the_alias_brings_the_old_back(
    world, tmp_path
):
    target = AwsTarget(session_factory=world.sessions)
    code = release(tmp_path, "a")
    small = replace(FN, memory_mb=256, variables={"MODE": "fast"})
    big = replace(FN, memory_mb=1024, variables={"MODE": "fast", "TABLE": "orders"})
    first = target.publish(small, code.artifact, code.path)
    alias = target.point_alias(small, first.version, expected_revision=None)

    second = target.publish(big, code.artifact, code.path)

    assert (first.version, second.version) == ("1", "2")
    assert second.digest == first.digest == code.digest
    assert version_config(world, "1")["MemorySize"] == 256
    assert version_config(world, "2")["MemorySize"] == 1024
    assert version_config(world, "2")["Environment"]["Variables"] == {
        "MODE": "fast",
        "TABLE": "orders",
    }
    moved = target.point_alias(big, "2", expected_revision=alias.revision_id)
    assert version_config(world, "live")["MemorySize"] == 1024
    target.point_alias(big, "1", expected_revision=moved.revision_id)  # a rollback
    live = version_config(world, "live")
    assert (live["Version"], live["MemorySize"]) == ("1", 256)
    assert live["Environment"]["Variables"] == {"MODE": "fast"}
    assert target.configuration(big, "1").memory_mb == 256


def test_configuration_is_applied_after_the_code_and_guarded_by_the_revision(world, tmp_path):
    target = AwsTarget(session_factory=world.sessions)
    fn = replace(FN, memory_mb=512, timeout_seconds=45, ephemeral_storage_mb=2048)
    code = release(tmp_path, "a")

    published = target.publish(fn, code.artifact, code.path)

    assert writes(world) == ["UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion"]
    [update] = world.log.of("UpdateFunctionConfiguration")
    assert update["MemorySize"] == 512
    assert update["Timeout"] == 45
    assert update["EphemeralStorage"] == {"Size": 2048}
    assert "RevisionId" in update
    assert "Environment" not in update  # variables unset in promote.yaml: left alone
    version = version_config(world, published.version)
    assert (version["MemorySize"], version["Timeout"]) == (512, 45)
    assert version["EphemeralStorage"] == {"Size": 2048}


def test_nothing_is_written_when_the_live_version_has_this_code_and_configuration(world, tmp_path):
    target = AwsTarget(session_factory=world.sessions)
    fn = replace(FN, memory_mb=512)
    code = release(tmp_path, "a")
    first = target.publish(fn, code.artifact, code.path)
    target.point_alias(fn, first.version, expected_revision=None)
    world.log.calls.clear()

    again = target.publish(fn, code.artifact, code.path)

    assert again.version == first.version
    assert writes(world) == []


def test_keys_promote_yaml_leaves_unset_stay_as_the_function_has_them(world, tmp_path):
    console = world.session().client("lambda")
    console.update_function_configuration(
        FunctionName=FN.function_name, Timeout=77, Environment={"Variables": {"SET_BY": "hand"}}
    )
    target = AwsTarget(session_factory=world.sessions)
    code = release(tmp_path, "a")

    published = target.publish(replace(FN, memory_mb=640), code.artifact, code.path)

    version = version_config(world, published.version)
    assert version["MemorySize"] == 640
    assert version["Timeout"] == 77
    assert version["Environment"]["Variables"] == {"SET_BY": "hand"}


def test_layers_travel_with_the_version(world, tmp_path):
    client = world.session().client("lambda")
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as archive:
        archive.writestr("python/common.py", "X = 1\n")
    arn = client.publish_layer_version(
        LayerName="common", Content={"ZipFile": layer.getvalue()}, CompatibleRuntimes=["python3.12"]
    )["LayerVersionArn"]
    target = AwsTarget(session_factory=world.sessions)
    code = release(tmp_path, "a")

    with_layer = target.publish(replace(FN, layers=(arn,)), code.artifact, code.path)
    without = target.publish(replace(FN, layers=()), code.artifact, code.path)

    assert [layer["Arn"] for layer in version_config(world, with_layer.version)["Layers"]] == [arn]
    assert version_config(world, without.version).get("Layers", []) == []
    assert target.configuration(FN, with_layer.version).layers == (arn,)


def test_someone_changing_the_function_meanwhile_stops_the_publish_as_a_conflict(world, tmp_path):
    console = world.session().client("lambda")

    def meddle(session: Any) -> None:
        def change_first(**_: Any) -> None:
            console.update_function_configuration(FunctionName=FN.function_name, MemorySize=3000)

        session.events.register_first(
            "before-parameter-build.lambda.UpdateFunctionConfiguration", change_first
        )

    world.hooks.append(meddle)
    target = AwsTarget(session_factory=world.sessions)
    code = release(tmp_path, "a")

    with pytest.raises(ConflictError, match="updating the configuration of"):
        target.publish(replace(FN, memory_mb=512), code.artifact, code.path)

    assert world.log.of("PublishVersion") == []
    assert version_config(world, "$LATEST")["MemorySize"] == 3000  # theirs, not overwritten


def test_the_release_story_with_configuration_on_aws(world, tmp_path):
    """Done-when of §11.3 on the aws target: a memory change deployed to staging is a new
    version with the new memory; production gets it with its own override; rolling staging
    back restores the old memory with the old code; moving the alias by hand is drift."""
    world.create_function("orders-production")
    target = AwsTarget(session_factory=world.sessions)
    ledger = MemoryLedger()
    d = Deployer(
        ledger=ledger,
        target=target,
        journal=Journal(ledger),
        actor="alice",
        holder="alice@ci:1",
        progress=QuietProgress(),
    )
    env = Environment(function_name=FN.function_name)
    code = release(tmp_path, "a")

    small = d.deploy(replace(FN, memory_mb=256), env, code.artifact, code.path)
    big = d.deploy(replace(FN, memory_mb=1024), env, code.artifact, code.path)
    production = FunctionRef("production", "orders-production", "live", memory_mb=2048)
    promoted = d.deploy(production, env, code.artifact, code.path)

    assert (small.version, big.version, big.state) == ("1", "2", DeploymentState.SUCCEEDED)
    assert version_config(world, "live")["MemorySize"] == 1024
    assert promoted.state is DeploymentState.SUCCEEDED
    prod_live = (
        world.session()
        .client("lambda")
        .get_function_configuration(FunctionName="orders-production", Qualifier="live")
    )
    assert prod_live["MemorySize"] == 2048

    back = d.rollback_to(FN, env, version="1", digest=code.digest, reason="too big")
    assert back.state is DeploymentState.SUCCEEDED
    assert version_config(world, "live")["MemorySize"] == 256
    assert ledger.get_deployment(back.id).configuration == {"memory_mb": 256}  # type: ignore[union-attr]

    console = world.session().client("lambda")
    console.update_alias(FunctionName=FN.function_name, Name="live", FunctionVersion="2")
    drift, _ = environment_drift(
        ledger.deployments("staging"),
        target.alias_state(FN),
        read_configuration=lambda v: live_configuration(target, FN, v),
    )
    assert drift is not None
    assert (drift.expected_version, drift.live_version) == ("1", "2")
    assert "memory_mb: 256 → 1024" in drift.detail
