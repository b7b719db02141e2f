"""The state machine with a release's configuration (DESIGN §11.3) and drift, over the fake
target and ledger: a configuration-only change is a new version (never "already live"), each
deployment and rollback records the configuration it makes live, and a deployment into a
drifted environment says so first and rolls back to the version the ledger knows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from fake_target import FakeTarget, QuietProgress
from fakes import MemoryLedger
from lambda_promote.config.schema import Check, Environment
from lambda_promote.deploy import Deployer
from lambda_promote.function_config import FunctionConfiguration
from lambda_promote.journal import Journal
from lambda_promote.model import Artifact, DeploymentState, FunctionRef

S = DeploymentState
FN = FunctionRef(env="staging", function_name="fn-staging", alias="live", memory_mb=256)
ENV = Environment(
    function_name="fn-staging", checks=[Check(name="ping", expect={"body": {"ok": True}})]
)
CODE = Artifact(digest="a" * 64, size=1, path="x.zip")
OTHER = Artifact(digest="b" * 64, size=1, path="y.zip")


@pytest.fixture
def ledger() -> MemoryLedger:
    return MemoryLedger()


@pytest.fixture
def target() -> FakeTarget:
    return FakeTarget()


@pytest.fixture
def progress() -> QuietProgress:
    return QuietProgress()


@pytest.fixture
def deployer(ledger, target, progress) -> Deployer:
    events: list[tuple[str, dict]] = []
    journal = Journal(ledger)
    journal.listeners.append(lambda event, dep, details: events.append((event, details)))
    made = Deployer(
        ledger=ledger,
        target=target,
        journal=journal,
        actor="alice",
        holder="alice@elsewhere:1",
        progress=progress,
    )
    made.events = events  # type: ignore[attr-defined]
    return made


def test_a_configuration_only_change_is_a_new_verified_version_not_already_live(
    deployer, target, ledger
):
    first = deployer.deploy(FN, ENV, CODE, Path("x.zip"))
    bigger = replace(FN, memory_mb=1024)

    second = deployer.deploy(bigger, ENV, CODE, Path("x.zip"))

    assert (first.version, second.version) == ("1", "2")
    assert second.state is S.SUCCEEDED
    assert target.live() == "2"
    recorded = ledger.get_deployment(second.id)
    assert recorded is not None
    assert "already live" not in [t.note for t in recorded.transitions]
    assert recorded.configuration == {"memory_mb": 1024}
    assert recorded.configuration_digest == FunctionConfiguration(memory_mb=1024).digest
    assert target.configuration(bigger, "1").memory_mb == 256


def test_the_same_code_and_configuration_again_is_already_live(deployer, ledger):
    deployer.deploy(FN, ENV, CODE, Path("x.zip"))
    again = deployer.deploy(FN, ENV, CODE, Path("x.zip"))
    recorded = ledger.get_deployment(again.id)
    assert recorded is not None
    assert "already live" in [t.note for t in recorded.transitions]


def test_a_deployment_records_the_release_part_it_was_given(deployer, ledger):
    release = FunctionConfiguration(memory_mb=256)
    dep = deployer.deploy(FN, ENV, CODE, Path("x.zip"), release_configuration=release)
    recorded = ledger.get_deployment(dep.id)
    assert recorded is not None
    assert recorded.release_configuration == {"memory_mb": 256}


def test_a_rollback_records_the_configuration_it_brings_back(deployer, ledger):
    deployer.deploy(FN, ENV, CODE, Path("x.zip"))
    deployer.deploy(replace(FN, memory_mb=1024), ENV, CODE, Path("x.zip"))

    back = deployer.rollback_to(FN, ENV, version="1", digest=CODE.digest, reason="too big")

    recorded = ledger.get_deployment(back.id)
    assert recorded is not None
    assert recorded.state is S.SUCCEEDED
    assert recorded.configuration == {"memory_mb": 256}


def test_a_deploy_into_a_drifted_environment_says_so_and_rolls_back_to_the_ledgers_version(
    deployer, target, ledger, progress
):
    deployer.deploy(FN, ENV, CODE, Path("x.zip"))  # version 1, the ledger's
    # Someone publishes version 2 with other settings and points the alias at it by hand.
    target.publish(replace(FN, memory_mb=3008), OTHER, Path("y.zip"))
    target.point_alias(FN, "2", expected_revision=target.alias["live"][1])
    target.unhealthy_digests.add("c" * 64)

    dep = deployer.deploy(FN, ENV, replace(CODE, digest="c" * 64), Path("z.zip"))

    warning = next(line for line in progress.lines if "drift" in line)
    assert "version 2" in warning
    assert "left version 1" in warning
    assert "memory_mb: 256 → 3008" in warning
    assert dep.state is S.ROLLED_BACK
    assert dep.previous_version == "1"
    assert target.live() == "1"  # the version the ledger knows, not the hand-set one
    drift_events = [d for e, d in deployer.events if e == "deployment.drift"]
    assert drift_events[0]["live_version"] == "2"
