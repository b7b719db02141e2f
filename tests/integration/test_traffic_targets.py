"""Weighted aliases on both targets (DESIGN §11.5): the aws target against moto (in-process and
server) sends Lambda's ``RoutingConfig`` guarded by ``RevisionId`` and reads it back; the local
target keeps the weights on disk and routes alias invokes by them, with a seeded draw."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aws_fixtures import MODES, MotoWorld, moto_world, release
from lambda_promote.errors import ConflictError, TargetError
from lambda_promote.model import FunctionRef
from lambda_promote.targets.aws_target import AwsTarget
from lambda_promote.targets.local import LocalTarget

FN = FunctionRef(env="staging", function_name="orders-staging", alias="live")


@pytest.fixture(params=MODES)
def world(request: pytest.FixtureRequest, monkeypatch, tmp_path) -> Iterator[MotoWorld]:
    with moto_world(request.param, monkeypatch, tmp_path) as made:
        yield made


def two_versions(target, tmp_path: Path) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """Versions 1 (live) and 2 (published, no traffic); the alias's revision."""
    a, b = release(tmp_path, "a"), release(tmp_path, "b")
    v1 = target.publish(FN, a.artifact, a.path).version
    live = target.point_alias(FN, v1, expected_revision=None)
    v2 = target.publish(FN, b.artifact, b.path).version
    return v1, v2, live.revision_id


def test_aws_weights_go_out_as_routing_config_and_come_back(world, tmp_path):
    world.create_function(FN.function_name)
    target = AwsTarget(session_factory=world.sessions)
    v1, v2, revision = two_versions(target, tmp_path)

    shifted = target.weigh_alias(FN, v1, {v2: 0.1}, expected_revision=revision)
    assert (shifted.version, dict(shifted.weights)) == (v1, {v2: 0.1})
    assert shifted.revision_id != revision
    read = target.alias_state(FN)
    assert (read.version, dict(read.weights), read.revision_id) == (
        v1,
        {v2: 0.1},
        shifted.revision_id,
    )
    raw = world.session().client("lambda").get_alias(FunctionName=FN.function_name, Name="live")
    assert raw["RoutingConfig"] == {"AdditionalVersionWeights": {v2: 0.1}}
    sent = world.log.of("UpdateAlias")[-1]
    assert sent["RevisionId"] == revision
    assert sent["RoutingConfig"] == {"AdditionalVersionWeights": {v2: 0.1}}


def test_aws_pointing_the_alias_ends_a_shift(world, tmp_path):
    world.create_function(FN.function_name)
    target = AwsTarget(session_factory=world.sessions)
    v1, v2, revision = two_versions(target, tmp_path)
    shifted = target.weigh_alias(FN, v1, {v2: 0.5}, expected_revision=revision)

    back = target.point_alias(FN, v1, expected_revision=shifted.revision_id)
    assert dict(back.weights) == {}
    assert dict(target.alias_state(FN).weights) == {}
    assert world.log.of("UpdateAlias")[-1]["RoutingConfig"] == {"AdditionalVersionWeights": {}}


def test_aws_a_stale_revision_is_a_conflict_and_changes_nothing(world, tmp_path):
    world.create_function(FN.function_name)
    target = AwsTarget(session_factory=world.sessions)
    v1, v2, revision = two_versions(target, tmp_path)
    someone = world.session().client("lambda")
    someone.update_alias(FunctionName=FN.function_name, Name="live", FunctionVersion=v1)

    with pytest.raises(ConflictError) as caught:
        target.weigh_alias(FN, v1, {v2: 0.1}, expected_revision=revision)
    assert "weighting the alias live (10.0% to version 2, the rest to version 1)" in (
        caught.value.message
    )
    assert dict(target.alias_state(FN).weights) == {}


def test_aws_a_weight_lambda_refuses_is_a_target_error(world, tmp_path):
    world.create_function(FN.function_name)
    target = AwsTarget(session_factory=world.sessions)
    v1, _, revision = two_versions(target, tmp_path)
    with pytest.raises(TargetError, match="primary version"):
        target.weigh_alias(FN, v1, {v1: 0.1}, expected_revision=revision)


# --- local -----------------------------------------------------------------------------------


def test_local_weights_are_kept_with_the_alias_and_cleared_by_pointing_it(tmp_path):
    target = LocalTarget(tmp_path / "local", routing_seed=1)
    v1, v2, revision = two_versions(target, tmp_path)
    shifted = target.weigh_alias(FN, v1, {v2: 0.25}, expected_revision=revision)
    assert dict(target.alias_state(FN).weights) == {v2: 0.25}
    with pytest.raises(ConflictError):
        target.weigh_alias(FN, v1, {v2: 0.5}, expected_revision=revision)
    target.point_alias(FN, v1, expected_revision=shifted.revision_id)
    assert dict(target.alias_state(FN).weights) == {}


def test_local_refuses_a_missing_version_or_a_weight_out_of_range(tmp_path):
    target = LocalTarget(tmp_path / "local")
    v1, v2, revision = two_versions(target, tmp_path)
    with pytest.raises(TargetError, match="does not exist"):
        target.weigh_alias(FN, v1, {"9": 0.1}, expected_revision=revision)
    with pytest.raises(TargetError, match="between 0 and 1"):
        target.weigh_alias(FN, v1, {v2: 1.0}, expected_revision=revision)


def test_local_alias_invokes_follow_the_weights_with_a_seeded_draw(tmp_path, monkeypatch):
    setup = LocalTarget(tmp_path / "local")
    v1, v2, revision = two_versions(setup, tmp_path)
    setup.weigh_alias(FN, v1, {v2: 0.5}, expected_revision=revision)

    def served(target: LocalTarget, n: int) -> list[str]:
        return [str(target.invoke(FN, {}).version) for _ in range(n)]

    first = served(LocalTarget(tmp_path / "local", routing_seed=7), 12)
    monkeypatch.setenv("LAMBDA_PROMOTE_LOCAL_ROUTING_SEED", "7")
    again = served(LocalTarget(tmp_path / "local"), 12)
    assert first == again  # the same seed, the same versions: tests can rely on it
    assert set(first) == {v1, v2}
    # By number, a version is always itself, whatever the weights.
    assert LocalTarget(tmp_path / "local").invoke(FN, {}, qualifier=v2).version == v2
