"""The ledger contract (ledger/base.py), run against the in-memory fake, a SQLite file and
PostgreSQL: what deploy, rollback, status and history rely on when they read and write the
tool's memory. The fake passing the same suite is what lets unit tests trust it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from lambda_promote.errors import EnvironmentLocked, LedgerError, UsageError
from lambda_promote.model import Artifact, CheckResult, Deployment, DeploymentKind
from lambda_promote.model import DeploymentState as S
from ledger_fixtures import ALL_KINDS, OpenLedger, StepClock, ledger_opener

DIGEST_A = "abcd" + "1" * 60
DIGEST_B = "abcd" + "2" * 60
DIGEST_C = "ef01" + "3" * 60


def artifact(digest: str, **provenance: object) -> Artifact:
    return Artifact(digest=digest, size=1234, path=f"artifacts/{digest}.zip", **provenance)  # type: ignore[arg-type]


def deployment(dep_id: str, env: str = "staging", **fields: object) -> Deployment:
    return Deployment(id=dep_id, env=env, digest=DIGEST_A, state=S.PENDING, **fields)  # type: ignore[arg-type]


@pytest.fixture(params=ALL_KINDS)
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenLedger]:
    """Opens the ledger under test: every test here runs against each kind."""
    with ledger_opener(request.param, tmp_path) as (_url, open_):
        yield open_


# --- artifacts ------------------------------------------------------------------------------
def test_recording_the_same_digest_twice_keeps_the_first_provenance(make_ledger: OpenLedger):
    ledger = make_ledger()
    built = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    ledger.record_artifact(
        artifact(
            DIGEST_A,
            files=("app.py", "lib/x.py"),
            commit="c1",
            branch="main",
            builder="alice",
            built_at=built,
            runtime="python3.12",
            architecture="arm64",
        )
    )
    ledger.record_artifact(artifact(DIGEST_A, commit="c2", builder="bob"))

    found = ledger.find_artifact(DIGEST_A)
    assert found is not None
    assert (found.commit, found.builder, found.files) == ("c1", "alice", ("app.py", "lib/x.py"))
    assert found.built_at == built
    assert found.built_at.tzinfo is not None
    assert (found.runtime, found.architecture, found.size) == ("python3.12", "arm64", 1234)


def test_an_artifact_is_found_by_a_unique_prefix_in_any_case(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.record_artifact(artifact(DIGEST_A))
    ledger.record_artifact(artifact(DIGEST_C))

    assert ledger.find_artifact("ef01")
    assert ledger.find_artifact(DIGEST_C[:12].upper()).digest == DIGEST_C  # type: ignore[union-attr]
    assert ledger.find_artifact("ffff") is None


def test_an_ambiguous_prefix_is_refused_listing_the_candidates(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.record_artifact(artifact(DIGEST_A))
    ledger.record_artifact(artifact(DIGEST_B))

    with pytest.raises(UsageError) as refused:
        ledger.find_artifact("abcd")
    assert DIGEST_A in refused.value.message
    assert DIGEST_B in refused.value.message
    assert "more characters" in refused.value.hint
    assert ledger.find_artifact("abcd2").digest == DIGEST_B  # type: ignore[union-attr]


def test_a_key_shorter_than_four_characters_names_only_itself(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.record_artifact(artifact(DIGEST_A))
    ledger.create_deployment(deployment("d-1"))
    ledger.create_deployment(deployment("d-10"))

    assert ledger.find_artifact("abc") is None
    assert ledger.get_deployment("d-") is None
    assert ledger.get_deployment("d-1").id == "d-1"  # type: ignore[union-attr]
    assert ledger.get_deployment("d-10").id == "d-10"  # type: ignore[union-attr]


def test_prefix_characters_are_not_wildcards(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_deployment(deployment("d-2024-0001"))
    assert ledger.get_deployment("d_2024") is None
    assert ledger.get_deployment("d-20%") is None
    assert ledger.get_deployment("D-2024") is None


# --- deployments ----------------------------------------------------------------------------
def test_a_deployment_records_every_transition_in_order_with_utc_times(
    make_ledger: OpenLedger,
):
    # Readings come in UTC+2 and must come back as the same instants, marked UTC.
    clock = StepClock(zone=timedelta(hours=2))
    ledger = make_ledger(clock=clock)
    created = ledger.create_deployment(deployment("d-1", actor="alice", reason="release 7"))
    assert created.state is S.PENDING
    assert [t.state for t in created.transitions] == [S.PENDING]

    ledger.transition("d-1", S.PUBLISHING, note="uploading")
    ledger.transition(
        "d-1", S.SHIFTING, version="7", previous_version="6", previous_digest=DIGEST_C
    )
    ledger.transition("d-1", S.VERIFYING)
    done = ledger.transition("d-1", S.SUCCEEDED, note="all checks passed")

    assert done.state is S.SUCCEEDED
    assert (done.version, done.previous_version, done.previous_digest) == ("7", "6", DIGEST_C)
    assert (done.actor, done.reason, done.kind) == ("alice", "release 7", DeploymentKind.DEPLOY)
    stored = ledger.get_deployment("d-1")
    assert stored is not None
    assert [(t.state, t.note) for t in stored.transitions] == [
        (S.PENDING, ""),
        (S.PUBLISHING, "uploading"),
        (S.SHIFTING, ""),
        (S.VERIFYING, ""),
        (S.SUCCEEDED, "all checks passed"),
    ]
    times = [t.at for t in stored.transitions]
    assert times == clock.readings
    assert all(t.utcoffset() == timedelta(0) for t in times)
    assert stored.created_at == clock.readings[0]
    assert stored.updated_at == clock.readings[-1]


def test_a_failed_deployment_keeps_its_error_and_rollback_record(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_deployment(deployment("d-1"))
    ledger.transition("d-1", S.SHIFTING, version="8", previous_version="7")
    ledger.transition("d-1", S.ROLLING_BACK, error="check ping failed: status 500")
    rollback = {"to_version": "7", "verified": True, "checks": [{"name": "ping", "ok": True}]}
    ended = ledger.transition("d-1", S.ROLLED_BACK, rollback=rollback)

    assert ended.error == "check ping failed: status 500"
    assert ended.rollback == rollback
    assert ledger.deployments("staging")[0].rollback == rollback


@pytest.mark.parametrize("final", [S.SUCCEEDED, S.FAILED, S.ROLLED_BACK, S.ROLLBACK_FAILED])
def test_a_finished_deployment_cannot_move_again(make_ledger: OpenLedger, final: S):
    ledger = make_ledger()
    ledger.create_deployment(deployment("d-1"))
    ledger.transition("d-1", final)

    with pytest.raises(LedgerError, match=f"already ended as {final.value}"):
        ledger.transition("d-1", S.ROLLING_BACK, error="too late")
    stored = ledger.get_deployment("d-1")
    assert stored is not None
    assert stored.state is final
    assert stored.error == ""
    assert len(stored.transitions) == 2


def test_moving_an_unknown_deployment_is_a_ledger_error(make_ledger: OpenLedger):
    ledger = make_ledger()
    with pytest.raises(LedgerError, match="no deployment 'd-404'"):
        ledger.transition("d-404", S.PUBLISHING)
    with pytest.raises(LedgerError, match="no deployment 'd-404'"):
        ledger.add_checks("d-404", [CheckResult("ping", True, 1.0, "ok")])


def test_a_transition_refuses_fields_the_ledger_does_not_keep(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_deployment(deployment("d-1"))
    with pytest.raises(TypeError, match="digest"):
        ledger.transition("d-1", S.PUBLISHING, digest=DIGEST_B)
    assert ledger.get_deployment("d-1").state is S.PENDING  # type: ignore[union-attr]


def test_a_deployment_id_is_recorded_once(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_deployment(deployment("d-1"))
    with pytest.raises(LedgerError, match="already recorded"):
        ledger.create_deployment(deployment("d-1", env="production"))
    assert ledger.get_deployment("d-1").env == "staging"  # type: ignore[union-attr]


def test_naive_times_are_refused_rather_than_guessed(make_ledger: OpenLedger):
    ledger = make_ledger()
    with pytest.raises(ValueError, match="timezone-aware"):
        ledger.create_deployment(deployment("d-1", created_at=datetime(2024, 5, 1, 12, 0)))
    assert ledger.get_deployment("d-1") is None


def test_checks_keep_their_order_and_json_answers(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_deployment(deployment("d-1"))
    first = [
        CheckResult("ping", True, 12.5, "ok", logs="START\nEND", response={"ok": True}),
        CheckResult(
            "orders", False, 30.0, "body.count: expected 3, got 2", response=[1, "two", None]
        ),
    ]
    ledger.add_checks("d-1", first)
    ledger.add_checks(
        "d-1",
        [
            CheckResult("ping", True, 9.0, "ok", response="pong", phase="rollback_verify"),
            CheckResult("silent", True, 1.0, "ok"),
        ],
    )

    checks = ledger.get_deployment("d-1").checks  # type: ignore[union-attr]
    assert [(c.name, c.phase) for c in checks] == [
        ("ping", "verify"),
        ("orders", "verify"),
        ("ping", "rollback_verify"),
        ("silent", "verify"),
    ]
    assert checks[:2] == first
    assert [c.response for c in checks[2:]] == ["pong", None]


def test_a_check_answer_that_is_not_json_is_refused(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_deployment(deployment("d-1"))
    with pytest.raises(LedgerError, match="not plain JSON"):
        ledger.add_checks("d-1", [CheckResult("ping", True, 1.0, "ok", response={1, 2})])
    assert ledger.get_deployment("d-1").checks == []  # type: ignore[union-attr]


def test_a_deployment_is_found_by_a_unique_prefix(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.create_deployment(deployment("d-20240501-aaaa"))
    ledger.create_deployment(deployment("d-20240501-bbbb"))

    assert ledger.get_deployment("d-20240501-b").id == "d-20240501-bbbb"  # type: ignore[union-attr]
    with pytest.raises(UsageError) as refused:
        ledger.get_deployment("d-2024")
    assert "d-20240501-aaaa" in refused.value.message
    assert "d-20240501-bbbb" in refused.value.message
    assert ledger.get_deployment("x-99") is None


def test_what_the_ledger_returns_is_a_copy(make_ledger: OpenLedger):
    ledger = make_ledger()
    returned = ledger.create_deployment(deployment("d-1", rollback={"to": "6"}))
    returned.rollback["to"] = "5"  # type: ignore[index]
    returned.transitions.clear()
    stored = ledger.get_deployment("d-1")
    assert stored.rollback == {"to": "6"}  # type: ignore[union-attr]
    assert len(stored.transitions) == 1  # type: ignore[union-attr]


def test_history_is_newest_first_and_stable_when_times_tie(make_ledger: OpenLedger):
    ledger = make_ledger(clock=StepClock(step=timedelta(0)))  # every deployment at one instant
    for number in range(1, 6):
        ledger.create_deployment(deployment(f"d-{number}", env="staging"))
    ledger.create_deployment(deployment("p-1", env="production"))
    earlier = datetime(2024, 4, 1, tzinfo=UTC)
    ledger.create_deployment(deployment("d-0", created_at=earlier))

    assert [d.id for d in ledger.deployments("staging")] == [
        "d-5",
        "d-4",
        "d-3",
        "d-2",
        "d-1",
        "d-0",
    ]
    assert [d.id for d in ledger.deployments()][:2] == ["p-1", "d-5"]
    assert [d.id for d in ledger.deployments("staging", limit=2)] == ["d-5", "d-4"]
    assert len(ledger.deployments(limit=None)) == 7
    assert ledger.deployments("qa") == []


def test_history_since_reads_only_the_window_at_or_after_it(make_ledger: OpenLedger):
    """Metrics read one time window: bounded, the boundary included, any zone accepted."""
    ledger = make_ledger()
    start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    for hours in (0, 1, 2, 3):
        when = start + timedelta(hours=hours)
        ledger.create_deployment(deployment(f"d-{hours}", created_at=when))
    ledger.create_deployment(deployment("p-9", env="production", created_at=start))

    since = start + timedelta(hours=1)
    assert [d.id for d in ledger.deployments("staging", since=since, limit=None)] == [
        "d-3",
        "d-2",
        "d-1",
    ]
    in_paris = since.astimezone(timezone(timedelta(hours=2)))
    assert [d.id for d in ledger.deployments("staging", since=in_paris, limit=2)] == ["d-3", "d-2"]
    assert ledger.deployments(since=start + timedelta(days=1)) == []
    assert {d.id for d in ledger.deployments(since=start)} == {"d-0", "d-1", "d-2", "d-3", "p-9"}


def test_history_filters_by_state_and_leaves_details_out(make_ledger: OpenLedger):
    ledger = make_ledger()
    for dep_id, final in (("d-1", S.SUCCEEDED), ("d-2", S.FAILED), ("d-3", S.SUCCEEDED)):
        ledger.create_deployment(deployment(dep_id))
        ledger.add_checks(dep_id, [CheckResult("ping", True, 1.0, "ok")])
        ledger.transition(dep_id, final)

    good = ledger.deployments("staging", states=[S.SUCCEEDED])
    assert [d.id for d in good] == ["d-3", "d-1"]
    assert all(d.transitions == [] and d.checks == [] for d in good)
    assert ledger.deployments("staging", states=[]) == []


def test_unfinished_lists_what_a_crashed_process_left_in_that_environment(
    make_ledger: OpenLedger,
):
    ledger = make_ledger()
    ledger.create_deployment(deployment("d-done"))
    ledger.transition("d-done", S.SUCCEEDED)
    ledger.create_deployment(deployment("d-crashed"))
    ledger.transition("d-crashed", S.SHIFTING, version="9")
    ledger.create_deployment(deployment("d-rolling"))
    ledger.transition("d-rolling", S.ROLLING_BACK)
    ledger.create_deployment(deployment("p-crashed", env="production"))

    assert [d.id for d in ledger.unfinished("staging")] == ["d-rolling", "d-crashed"]
    assert [d.id for d in ledger.unfinished("production")] == ["p-crashed"]


# --- locks ----------------------------------------------------------------------------------
def test_a_second_deployment_is_refused_naming_who_holds_the_environment(
    make_ledger: OpenLedger,
):
    ledger = make_ledger(clock=StepClock())
    ledger.acquire_lock("production", holder="alice@ci:41", deployment_id="d-1")

    with pytest.raises(EnvironmentLocked) as refused:
        ledger.acquire_lock("production", holder="bob@laptop:7", deployment_id="d-2")
    message, hint = refused.value.message, refused.value.hint
    assert "alice@ci:41" in message
    assert "d-1" in message
    assert "2024-05-01 12:00:00 UTC" in message
    assert "lambda-promote unlock production --id d-1" in hint
    info = ledger.lock_info("production")
    assert info is not None
    assert (info.holder, info.deployment_id) == ("alice@ci:41", "d-1")
    assert info.since == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    ledger.acquire_lock("staging", holder="bob@laptop:7", deployment_id="d-2")


def test_only_the_holder_releases_the_lock(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.acquire_lock("staging", holder="alice", deployment_id="d-1")

    ledger.release_lock("staging", "d-2")
    assert ledger.lock_info("staging").deployment_id == "d-1"  # type: ignore[union-attr]
    ledger.release_lock("staging", "d-1")
    assert ledger.lock_info("staging") is None
    ledger.release_lock("staging", "d-1")
    ledger.acquire_lock("staging", holder="bob", deployment_id="d-2")


def test_a_stale_lock_is_broken_only_by_naming_its_deployment(make_ledger: OpenLedger):
    ledger = make_ledger()
    ledger.acquire_lock("production", holder="alice@ci:41", deployment_id="d-dead")

    with pytest.raises(UsageError) as wrong:
        ledger.break_lock("production", "d-other")
    assert "d-dead" in wrong.value.message
    broken = ledger.break_lock("production", "d-dead")
    assert (broken.holder, broken.deployment_id) == ("alice@ci:41", "d-dead")
    assert ledger.lock_info("production") is None
    with pytest.raises(UsageError, match="not locked"):
        ledger.break_lock("production", "d-dead")
