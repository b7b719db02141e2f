"""The deployment state machine (DESIGN §6) over an in-memory target and ledger: each test is a
story a user would tell about their environment afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_target import FakeTarget, QuietProgress, target_error
from fakes import MemoryLedger
from lambda_promote.config.schema import Check, Environment
from lambda_promote.deploy import Deployer
from lambda_promote.errors import (
    ConflictError,
    DeploymentRolledBack,
    EnvironmentLocked,
    PromoteError,
    RollbackFailed,
)
from lambda_promote.journal import Journal
from lambda_promote.model import Artifact, DeploymentKind, DeploymentState, FunctionRef
from lambda_promote.outcome import raise_for_outcome

S = DeploymentState
FN = FunctionRef(env="staging", function_name="fn-staging", alias="live")
ENV = Environment(
    function_name="fn-staging", checks=[Check(name="ping", expect={"body": {"ok": True}})]
)


def artifact(n: int) -> Artifact:
    return Artifact(digest=f"{n:x}".rjust(64, "a"), size=1, path="x.zip")


@pytest.fixture
def ledger() -> MemoryLedger:
    return MemoryLedger()


@pytest.fixture
def target() -> FakeTarget:
    return FakeTarget()


def deployer(ledger: MemoryLedger, target: FakeTarget, events: list[str] | None = None) -> Deployer:
    journal = Journal(ledger)
    if events is not None:
        journal.listeners.append(lambda event, dep, details: events.append(event))
    return Deployer(
        ledger=ledger,
        target=target,
        journal=journal,
        actor="alice",
        holder="alice@elsewhere:1",
        progress=QuietProgress(),
    )


def deploy(d: Deployer, n: int, env: Environment = ENV):
    return d.deploy(FN, env, artifact(n), Path("x.zip"))


def states(ledger: MemoryLedger, dep_id: str) -> list[str]:
    found = ledger.get_deployment(dep_id)
    assert found is not None
    return [t.state.value for t in found.transitions]


def test_a_healthy_release_goes_live_through_every_state(ledger, target) -> None:
    events: list[str] = []
    dep = deploy(deployer(ledger, target, events), 1)
    assert dep.state is S.SUCCEEDED
    assert target.live() == dep.version == "1"
    assert states(ledger, dep.id) == ["pending", "publishing", "shifting", "verifying", "succeeded"]
    assert "checks.recorded" in events
    assert ledger.lock_info("staging") is None


def test_a_failing_check_rolls_back_to_the_previous_version_and_verifies_it(ledger, target):
    d = deployer(ledger, target)
    deploy(d, 1)
    target.unhealthy_digests.add(artifact(2).digest)
    dep = deploy(d, 2)
    assert dep.state is S.ROLLED_BACK
    assert target.live() == "1"
    assert dep.rollback is not None
    assert dep.rollback["verified"] is True
    assert states(ledger, dep.id)[-3:] == ["verifying", "rolling_back", "rolled_back"]
    stored = ledger.get_deployment(dep.id)
    assert stored is not None
    assert [c.phase for c in stored.checks] == ["verify", "rollback_verify"]
    with pytest.raises(DeploymentRolledBack):
        raise_for_outcome(dep)


def test_a_rollback_whose_verification_fails_needs_a_person(ledger, target):
    d = deployer(ledger, target)
    deploy(d, 1)
    target.unhealthy_digests.update({artifact(1).digest, artifact(2).digest})
    dep = deploy(d, 2)
    assert dep.state is S.ROLLBACK_FAILED
    assert target.live() == "1"  # back where it was, but that version is not healthy either
    with pytest.raises(RollbackFailed, match="NEEDS A PERSON"):
        raise_for_outcome(dep)


def test_first_deployment_that_fails_leaves_no_alias(ledger, target):
    target.unhealthy_digests.add(artifact(1).digest)
    dep = deploy(deployer(ledger, target), 1)
    assert dep.state is S.ROLLED_BACK
    assert target.live() is None
    assert "nothing to roll back to" in (dep.rollback or {})["note"]


def test_a_publish_error_changes_nothing(ledger, target):
    d = deployer(ledger, target)
    deploy(d, 1)
    target.fail_next["publish"] = target_error()
    dep = deploy(d, 2)
    assert dep.state is S.FAILED
    assert target.live() == "1"
    with pytest.raises(PromoteError) as raised:
        raise_for_outcome(dep)
    assert type(raised.value) is PromoteError


def test_someone_else_moving_the_alias_is_a_conflict_not_an_overwrite(ledger, target):
    d = deployer(ledger, target)
    deploy(d, 1)
    target.fail_next["point_alias"] = ConflictError("moved under us")
    dep = deploy(d, 2)
    assert dep.state is S.FAILED
    assert "moved under us" in dep.error
    assert target.live() == "1"


def test_an_alarm_in_alarm_fails_verification(ledger, target):
    d = deployer(ledger, target)
    env = ENV.model_copy(update={"alarms": ["errors-high"]})
    deploy(d, 1, env)
    target.firing_alarms.add("errors-high")
    dep = deploy(d, 2, env)
    # Version 1 is verified against the same alarm, so the rollback cannot be verified either.
    assert dep.state is S.ROLLBACK_FAILED
    assert "alarm:errors-high" in dep.error


def test_deploying_what_is_already_live_moves_nothing(ledger, target):
    d = deployer(ledger, target)
    deploy(d, 1)
    dep = deploy(d, 1)
    assert dep.state is S.SUCCEEDED
    assert "shifting" not in states(ledger, dep.id)
    assert target.calls.count("point_alias") == 1


def test_the_environment_lock_refuses_a_second_deployment(ledger, target):
    ledger.acquire_lock("staging", holder="bob@ci-runner:99", deployment_id="d-other")
    with pytest.raises(EnvironmentLocked, match="d-other"):
        deploy(deployer(ledger, target), 1)
    assert target.calls == []


def test_a_lock_of_a_dead_process_on_this_host_is_broken(ledger, target):
    import socket
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    ledger.acquire_lock(
        "staging", holder=f"bob@{socket.gethostname()}:{child.pid}", deployment_id="d-dead"
    )
    dep = deploy(deployer(ledger, target), 1)
    assert dep.state is S.SUCCEEDED


def test_interrupted_deployment_is_rolled_back_by_the_next_one(ledger, target):
    d = deployer(ledger, target)
    deploy(d, 1)
    # Simulate a process that died with the alias on version 2, in `verifying`.
    dead = deploy(d, 2)
    ledger_dep = ledger.create_deployment(
        type(dead)(
            id="d-dead",
            env="staging",
            digest=artifact(3).digest,
            state=S.PENDING,
            actor="bob",
            previous_version="2",
            previous_digest=artifact(2).digest,
        )
    )
    target.publish(FN, artifact(3), Path("x"))
    ledger.transition(ledger_dep.id, S.PUBLISHING)
    ledger.transition(ledger_dep.id, S.SHIFTING, version="3")
    target.point_alias(FN, "3", expected_revision=target.alias["live"][1])
    ledger.transition(ledger_dep.id, S.VERIFYING)

    resolved = d.recover(FN, ENV)
    assert [r.state for r in resolved] == [S.ROLLED_BACK]
    assert resolved[0].rollback is not None
    assert resolved[0].rollback["reason"] == "interrupted"
    assert target.live() == "2"
    assert ledger.unfinished("staging") == []


def test_manual_rollback_moves_the_alias_and_verifies(ledger, target):
    d = deployer(ledger, target)
    deploy(d, 1)
    deploy(d, 2)
    dep = d.rollback_to(FN, ENV, version="1", digest=artifact(1).digest, reason="bad numbers")
    assert dep.state is S.SUCCEEDED
    assert dep.kind is DeploymentKind.ROLLBACK
    assert dep.previous_version == "2"
    assert dep.version == "1"
    assert target.live() == "1"
    assert (dep.rollback or {})["reason"] == "bad numbers"


@pytest.mark.parametrize(
    ("raised", "code"),
    [(RuntimeError("a bug in a check"), "rolled_back"), (KeyboardInterrupt(), "interrupted")],
)
def test_an_unexpected_error_after_traffic_moved_rolls_back_and_says_so(
    ledger: MemoryLedger, target: FakeTarget, raised: BaseException, code: str
) -> None:
    """Not "nothing changed" (exit 1): traffic moved, so the user must hear that the
    environment was rolled back and verified (exit 3) — the red-team's NaN answer, generalised."""
    d = deployer(ledger, target)
    deploy(d, 1)
    target.fail_next["invoke"] = raised
    with pytest.raises(DeploymentRolledBack) as rolled_back:
        deploy(d, 2)
    assert rolled_back.value.code == code
    assert rolled_back.value.__cause__ is raised
    assert target.live() == "1"
    dep = rolled_back.value.payload["deployment"]
    assert dep.state is S.ROLLED_BACK
    assert ledger.get_deployment(dep.id).state is S.ROLLED_BACK  # type: ignore[union-attr]
