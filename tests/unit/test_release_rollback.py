"""Every rollback rule (release/rollback.py) over hand-made facts: where a manual rollback
goes, what the recovery table of docs/operations.md does with interrupted work, and what a
rollback job resolves."""

from __future__ import annotations

import pytest
from release_facts import NOW, deployment, digest, env_facts

from lambda_promote.errors import PromoteError, RollbackFailed, UsageError
from lambda_promote.ledger.base import LockInfo
from lambda_promote.model import DeploymentKind, DeploymentState, PublishedVersion
from lambda_promote.release.models import PlanKind, RecoveryAction, RollbackFacts, StepAction
from lambda_promote.release.rollback import plan_recovery, plan_resolution, plan_rollback

S = DeploymentState
ROLLBACK = DeploymentKind.ROLLBACK


def history(*deps):
    return RollbackFacts(tuple(deps))


def target_of(plan):
    assert plan.rollback_target is not None
    return plan.rollback_target.version


# --- by hand ---------------------------------------------------------------------------------
def test_goes_to_the_good_version_before_the_live_one_and_verifies_it() -> None:
    plan = plan_rollback(
        env_facts(live="3"),
        history(deployment("1"), deployment("2"), deployment("3")),
        to=None,
        reason="bad numbers",
    )
    assert plan.kind is PlanKind.ROLLBACK
    assert (plan.to, target_of(plan)) == ("2", "2")
    assert plan.reason == "bad numbers"
    assert [s.action for s in plan.steps] == [StepAction.SHIFT, StepAction.CHECK]


def test_never_goes_to_a_failed_or_rolled_back_version() -> None:
    facts = history(
        deployment("1"),
        deployment("2", S.ROLLED_BACK),
        deployment("3", S.FAILED),
        deployment("4"),
    )
    assert target_of(plan_rollback(env_facts(live="4"), facts, to=None, reason="")) == "1"


def test_a_version_rolled_back_away_from_by_hand_is_no_longer_good() -> None:
    facts = history(
        deployment("1"),
        deployment("2"),
        deployment("3"),
        deployment("2", kind=ROLLBACK, previous="3"),  # 3 judged bad by a person
    )
    assert target_of(plan_rollback(env_facts(live="2"), facts, to=None, reason="")) == "1"


def test_with_nothing_good_before_it_refuses_and_changes_nothing() -> None:
    with pytest.raises(PromoteError) as caught:
        plan_rollback(env_facts(live="1"), history(deployment("1")), to=None, reason="")
    assert caught.value.code == "no_rollback_target"


def test_a_machine_without_history_uses_the_good_versions_the_function_records() -> None:
    facts = RollbackFacts((), good_on_target=(("3", digest(3)), ("2", digest(2))))
    plan = plan_rollback(env_facts(live="3"), facts, to=None, reason="")
    assert target_of(plan) == "2"
    assert any("no history here" in note for note in plan.notes)


VERSIONS = tuple(PublishedVersion(str(n), digest(n)) for n in (1, 2, 3))


@pytest.mark.parametrize("to", ["1", digest(1), digest(1)[:8]])
def test_to_names_a_version_by_number_or_digest(to: str) -> None:
    facts = RollbackFacts((deployment("1"), deployment("3")), versions=VERSIONS)
    assert target_of(plan_rollback(env_facts(live="3"), facts, to=to, reason="")) == "1"


def test_to_an_unknown_or_the_live_version_is_a_usage_error() -> None:
    facts = RollbackFacts((), versions=VERSIONS)
    with pytest.raises(UsageError, match="no version '9'"):
        plan_rollback(env_facts(live="3"), facts, to="9", reason="")
    with pytest.raises(UsageError, match="already live"):
        plan_rollback(env_facts(live="3"), facts, to="3", reason="")


def test_to_a_version_that_never_passed_its_checks_warns() -> None:
    facts = RollbackFacts((deployment("1", S.FAILED), deployment("3")), versions=VERSIONS)
    plan = plan_rollback(env_facts(live="3"), facts, to="1", reason="")
    assert any("never passed its checks" in note for note in plan.notes)


def test_an_interrupted_deployment_that_moved_traffic_is_the_rollback() -> None:
    dead = deployment("3", S.VERIFYING, previous="2", dep_id="d-dead")
    plan = plan_rollback(
        env_facts(live="3", unfinished=(dead,)), history(deployment("2")), to=None, reason=""
    )
    assert plan.kind is PlanKind.RESOLVE
    assert plan.rollback_target is None
    assert [s.action for s in plan.steps] == [StepAction.RECOVER]


def test_a_locked_environment_plans_nothing_to_move() -> None:
    lock = LockInfo("staging", "bob@ci:12", "d-other", NOW)
    plan = plan_rollback(
        env_facts(live="2", lock=lock),
        history(deployment("1"), deployment("2")),
        to=None,
        reason="",
    )
    assert plan.stopping_error().code == "locked"
    assert plan.rollback_target is None


# --- after a crash: the table of docs/operations.md ------------------------------------------
@pytest.mark.parametrize(
    ("state", "live", "action"),
    [
        (S.PENDING, "1", RecoveryAction.MARK_FAILED),
        (S.PUBLISHING, "1", RecoveryAction.MARK_FAILED),
        (S.SHIFTING, "1", RecoveryAction.MARK_FAILED),
        (S.SHIFTING, "2", RecoveryAction.ROLL_BACK),
        (S.VERIFYING, "2", RecoveryAction.ROLL_BACK),
        (S.ROLLING_BACK, "2", RecoveryAction.ROLL_BACK),  # the rollback is done again
        (S.ROLLING_BACK, "1", RecoveryAction.VERIFY_PREVIOUS),
        (S.VERIFYING, "7", RecoveryAction.NEEDS_PERSON),  # somebody else moved it
    ],
)
def test_recovery_follows_the_operations_table(state, live, action) -> None:
    dead = deployment("2", state, previous="1")
    (recovery,) = plan_recovery(env_facts(live=live, unfinished=(dead,)))
    assert recovery.action is action


def test_an_interrupted_manual_rollback_is_verified_where_it_got_to() -> None:
    dead = deployment("1", S.VERIFYING, kind=ROLLBACK, previous="2")
    (reached,) = plan_recovery(env_facts(live="1", unfinished=(dead,)))
    (not_moved,) = plan_recovery(env_facts(live="2", unfinished=(dead,)))
    assert reached.action is RecoveryAction.VERIFY_TARGET
    assert not_moved.action is RecoveryAction.MARK_FAILED


def test_a_deployment_in_flight_under_a_live_lock_is_not_interrupted_work() -> None:
    lock = LockInfo("staging", "bob@ci:12", "d-2", NOW)
    busy = deployment("2", S.VERIFYING, previous="1", dep_id="d-2")
    assert plan_recovery(env_facts(live="2", unfinished=(busy,), lock=lock)) == ()


# --- in a rollback job -----------------------------------------------------------------------
def test_a_rollback_job_with_nothing_left_changes_nothing() -> None:
    plan = plan_resolution(env_facts(live="2"), deployment("2"))
    assert plan.kind is PlanKind.RESOLVE
    assert plan.steps == ()


def test_a_rollback_job_finishes_a_rollback_that_did_not_complete() -> None:
    failed = deployment("3", S.ROLLBACK_FAILED, previous="2", dep_id="d-bad")
    plan = plan_resolution(env_facts(live="3"), failed)
    assert plan.kind is PlanKind.ROLLBACK
    assert target_of(plan) == "2"
    assert plan.steps[0].action is StepAction.FINISH_ROLLBACK


def test_a_rollback_job_calls_a_person_when_the_alias_is_elsewhere() -> None:
    failed = deployment("3", S.ROLLBACK_FAILED, previous="2", dep_id="d-bad")
    with pytest.raises(RollbackFailed, match="NEEDS A PERSON"):
        plan_resolution(env_facts(live="5"), failed)


def test_a_rollback_job_resolves_interrupted_work_before_anything_else() -> None:
    dead = deployment("3", S.VERIFYING, previous="2")
    plan = plan_resolution(env_facts(live="3", unfinished=(dead,)), dead)
    assert plan.kind is PlanKind.RESOLVE
    assert plan.recoveries[0].action is RecoveryAction.ROLL_BACK


# --- the record a rollback leaves ------------------------------------------------------------
def test_the_rollback_record_reads_back_as_written_and_survives_hand_edits() -> None:
    from lambda_promote.model import Deployment, RollbackRecord

    record = RollbackRecord("checks failed", "3", "2", digest(2), verified=False, error="boom")
    dep = Deployment(id="d-1", env="staging", digest=digest(3), state=S.ROLLBACK_FAILED)
    dep.rollback = record.to_json()
    assert dep.rollback_record == record
    dep.rollback = {"to_version": 2, "verified": "yes", "checks": "x"}  # edited by hand
    edited = dep.rollback_record
    assert edited is not None
    assert (edited.to_version, edited.verified, edited.checks) == ("2", None, ())
