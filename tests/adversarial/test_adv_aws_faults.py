"""The aws target under fault, end to end: the real ``lambda-promote`` in a child process,
moto's server behind ``aws_fault_proxy`` on 127.0.0.1 (``AWS_ENDPOINT_URL``).

- SIGKILL at every step of a deployment, of its automatic rollback and of a manual rollback —
  before a call reaches AWS, or after AWS did it but before the tool heard back, or at the
  tool's own crash points (``LAMBDA_PROMOTE_CRASH_AT``). After each, the alias points at a
  version the ledger recorded (DESIGN §5.5), and the next command resolves what was left.
- Throttling (``TooManyRequestsException``) on every call, retried with backoff; and
  throttling that never ends, failing cleanly: exit 1 before traffic moved, 3 or 4 after.
- Someone else writing between our read and our guarded write (``RevisionId``): Lambda's
  ``PreconditionFailedException`` stops the deployment and their change stands.

What a user would notice is asserted: exit codes, the alias's version read with boto3, the
ledger's rows, ``status`` and ``audit --verify``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aws_fault_project import FUNCTION, AwsProject, aws_project
from aws_fixtures import zip_bytes
from lambda_promote.errors import UsageError
from lambda_promote.targets.aws import max_attempts_from
from lambda_promote.targets.aws_lambda import code_sha256


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsProject]:
    with aws_project(tmp_path, monkeypatch) as made:
        yield made


# --- what the ledger says ------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    kind: str
    state: str
    version: str | None
    previous_version: str | None


def rows(aws: AwsProject) -> list[Row]:
    if not (aws.project.root / ".lambda-promote" / "state.db").exists():
        return []
    found = aws.project.sql(
        "select id, kind, state, version, previous_version from deployments order by seq"
    )
    return [Row(*(None if v is None else str(v) for v in r)) for r in found]  # type: ignore[arg-type]


def state_of(aws: AwsProject, dep_id: str) -> str:
    return next(r.state for r in rows(aws) if r.id == dep_id)


def lock_holder(aws: AwsProject) -> str | None:
    found = aws.project.sql("select deployment_id from locks where env = 'staging'")
    return str(found[0][0]) if found else None


def assert_alias_recorded(aws: AwsProject, step: str) -> None:
    """DESIGN §5.5: the alias never points at a version the ledger did not record."""
    live = aws.alias_version()
    known = {v for r in rows(aws) for v in (r.version, r.previous_version) if v}
    assert live is None or live in known, f"{step}: alias on unrecorded version {live}"


def assert_settled(aws: AwsProject, *, version: str | None) -> None:
    """Nothing in flight, no lock, the alias where status says, the audit chain intact."""
    status = aws.status()
    assert status["in_flight"] == []
    assert status["lock"] is None
    assert status["version"] == version == aws.alias_version()
    assert lock_holder(aws) is None
    assert all(r.state not in ("pending", "publishing", "shifting", "verifying") for r in rows(aws))
    aws.run("audit", "--verify", check=0)


# --- SIGKILL at each step --------------------------------------------------------------------


@dataclass(frozen=True)
class Kill:
    """One step at which the tool dies: a proxy fault (operation, effect, nth) or a crash
    point of the tool; what the ledger and the alias show right after; and what the next
    command makes of the dead deployment."""

    step: str
    left_in: str
    alias: str  # "previous" or "new": where the dead deployment left the alias
    resolved: str
    operation: str = ""
    effect: str = ""
    nth: int = 1
    crash_at: str = ""


DEPLOY_KILLS = [
    Kill("before uploading the code", "publishing", "previous", "failed",
         operation="UpdateFunctionCode", effect="kill_before"),
    Kill("after uploading, before publishing", "publishing", "previous", "failed",
         operation="UpdateFunctionCode", effect="kill_after"),
    Kill("after publishing, unheard", "publishing", "previous", "failed",
         operation="PublishVersion", effect="kill_after"),
    Kill("after publishing, before recording", "publishing", "previous", "failed",
         crash_at="publish"),
    Kill("before moving the alias", "shifting", "previous", "failed",
         operation="UpdateAlias", effect="kill_before"),
    Kill("after moving the alias, unheard", "shifting", "new", "rolled_back",
         operation="UpdateAlias", effect="kill_after"),
    Kill("after moving the alias, before the checks", "shifting", "new", "rolled_back",
         crash_at="shift"),
    # The first Invoke verifies the rollback of the step before; the second is our check.
    Kill("during the checks", "verifying", "new", "rolled_back",
         operation="Invoke", effect="kill_before", nth=2),
    Kill("after the checks passed, recording the good version", "verifying", "new",
         "rolled_back", operation="TagResource", effect="kill_before"),
]  # fmt: skip


def run_killed(aws: AwsProject, kill: Kill, *args: str) -> Row:
    """Run ``args`` dying at ``kill``; check what it left; return the dead deployment."""
    aws.proxy.clear()
    before = {r.id for r in rows(aws)}
    if kill.crash_at:
        child = aws.project.popen(*args, env={**aws.env, "LAMBDA_PROMOTE_CRASH_AT": kill.crash_at})
        _, err = child.communicate(timeout=120)
        assert child.returncode == -9, (kill.step, err)
    else:
        aws.proxy.fault(kill.operation, kill.effect, nth=kill.nth)
        aws.killed(*args)
    dead = [r for r in rows(aws) if r.id not in before]
    assert len(dead) == 1, (kill.step, dead)
    row = dead[0]
    assert row.state == kill.left_in, (kill.step, row)
    expected = row.version if kill.alias == "new" else row.previous_version
    assert aws.alias_version() == expected, (kill.step, row)
    assert_alias_recorded(aws, kill.step)
    assert lock_holder(aws) == row.id, kill.step  # the dead process still holds the lock
    aws.proxy.clear()
    return row


def test_sigkill_at_every_step_of_a_deploy_is_resolved_by_the_next_command(aws: AwsProject):
    aws.run("deploy", "staging", check=0)
    aws.project.release("r2")
    dead: list[tuple[Kill, Row]] = []
    for kill in DEPLOY_KILLS:
        row = run_killed(aws, kill, "deploy", "staging")
        if dead:  # this command first resolved the one killed before it
            previous_kill, previous_row = dead[-1]
            assert state_of(aws, previous_row.id) == previous_kill.resolved, previous_kill.step
        if len(dead) == 0:
            status = aws.status()  # what a person sees before anything resolves it
            assert [d["state"] for d in status["in_flight"]] == ["publishing"]
            assert status["lock"]["stale"] is True
        dead.append((kill, row))
    # Publishing again after an unheard upload or publish reuses what is there: the same
    # bytes are never uploaded twice and no second version of them is made.
    # r1; r2 killed before it reached AWS; r2 uploaded (killed unheard); never again.
    assert aws.proxy.statuses("UpdateFunctionCode") == [200, 0, 200]
    versions = {r.version for _, r in dead if r.version}
    assert versions == {"2"}

    _, body = aws.run("rollback", "staging", check=0)
    assert body["deployment"]["id"] == dead[-1][1].id  # undoing it was the rollback
    assert state_of(aws, dead[-1][1].id) == "rolled_back"
    assert_settled(aws, version="1")


def test_sigkill_during_a_first_deployment_leaves_no_alias_behind(aws: AwsProject):
    first = Kill("after creating the alias, unheard", "shifting", "new", "rolled_back",
                 operation="CreateAlias", effect="kill_after")  # fmt: skip
    row = run_killed(aws, first, "deploy", "staging")
    assert (row.version, row.previous_version) == ("1", None)
    _, body = aws.run("deploy", "staging", check=0)  # undoes it (no alias again), deploys anew
    assert state_of(aws, row.id) == "rolled_back"
    assert body["deployment"]["previous_version"] is None  # it started from no alias again
    # Lambda would publish the same bytes as version 1 again; moto makes a version 2 of them.
    assert_settled(aws, version=body["deployment"]["version"])


ROLLBACK_KILLS = [
    # A bad release (its check answers ok: false) is rolled back automatically …
    Kill("before moving the alias back", "rolling_back", "new", "rolled_back",
         operation="UpdateAlias", effect="kill_before", nth=2),
    Kill("after moving the alias back, unheard", "rolling_back", "previous", "rolled_back",
         operation="UpdateAlias", effect="kill_after", nth=2),
    # … and a manual rollback.
    Kill("a manual rollback, after moving the alias, unheard", "shifting", "new", "succeeded",
         operation="UpdateAlias", effect="kill_after"),
    Kill("a manual rollback, before moving the alias", "shifting", "previous", "failed",
         operation="UpdateAlias", effect="kill_before"),
]  # fmt: skip


def test_sigkill_during_a_rollback_is_resolved_by_the_next_command(aws: AwsProject):
    aws.run("deploy", "staging", check=0)
    aws.project.release("r2")
    aws.run("deploy", "staging", check=0)
    bad_once, bad_twice, manual_moved, manual_unmoved = ROLLBACK_KILLS

    aws.project.release("r3")
    aws.world.queue_invoke_results({"ok": False})  # r3's check fails: it is rolled back
    row = run_killed(aws, bad_once, "deploy", "staging")
    _, body = aws.run("rollback", "staging", check=0)  # the rollback, done again and verified
    assert (body["deployment"]["id"], body["deployment"]["state"]) == (row.id, "rolled_back")
    assert aws.alias_version() == "2"

    aws.world.queue_invoke_results({"ok": False})
    row = run_killed(aws, bad_twice, "deploy", "staging")
    aws.project.release("r4")
    _, body = aws.run("deploy", "staging", check=0)  # verifies version 2 first, then r4
    assert state_of(aws, row.id) == bad_twice.resolved
    assert (body["deployment"]["version"], body["deployment"]["previous_version"]) == ("4", "2")

    row = run_killed(aws, manual_moved, "rollback", "staging", "--reason", "r4 breaks checkout")
    assert (row.kind, row.version, row.previous_version) == ("rollback", "2", "4")
    _, body = aws.run("rollback", "staging", check=0)  # verifies version 2; no further
    assert (body["deployment"]["id"], body["deployment"]["state"]) == (row.id, "succeeded")
    assert aws.alias_version() == "2"

    row = run_killed(aws, manual_unmoved, "rollback", "staging", "--to", "1")
    assert (row.version, row.previous_version) == ("1", "2")
    _, body = aws.run("deploy", "staging", check=0)
    assert state_of(aws, row.id) == manual_unmoved.resolved
    assert body["deployment"]["version"] == "4"
    assert_settled(aws, version="4")


# --- throttling --------------------------------------------------------------------------

DEPLOY_CALLS = [
    "GetAlias",
    "GetFunctionConfiguration",
    "UpdateFunctionCode",
    "GetFunction",  # the waiter function_updated_v2
    "PublishVersion",
    "CreateAlias",
    "Invoke",
    "ListTags",
    "TagResource",
]


def test_throttling_on_every_call_is_retried_with_backoff_and_nothing_else_changes(
    aws: AwsProject,
):
    for operation in DEPLOY_CALLS:
        aws.proxy.fault(operation, "throttle")  # the first call of each is refused once
    _, body = aws.run("deploy", "staging", check=0)
    assert body["deployment"]["state"] == "succeeded"
    for operation in DEPLOY_CALLS:
        statuses = aws.proxy.statuses(operation)
        assert statuses[0] == 429, (operation, statuses)
        assert statuses[1] != 429, (operation, statuses)

    # A bad release: the shift and the rollback's move are each throttled once.
    aws.project.release("r2")
    aws.world.queue_invoke_results({"ok": False})
    aws.proxy.clear()
    aws.proxy.fault("UpdateAlias", "throttle", nth=1)  # the shift
    aws.proxy.fault("UpdateAlias", "throttle", nth=3)  # the rollback (2 was the shift's retry)
    code, body = aws.run("deploy", "staging")
    assert code == 3
    assert body["deployment"]["rollback"]["verified"] is True
    throttled = [status == 429 for status in aws.proxy.statuses("UpdateAlias")]
    assert throttled == [True, False, True, False]
    assert_settled(aws, version="1")


# Throttling that never ends: AWS_MAX_ATTEMPTS (the AWS SDKs' own setting) bounds the retries.
GIVE_UP = {"AWS_MAX_ATTEMPTS": "2"}


def run_limited(aws: AwsProject, *args: str) -> tuple[int, dict]:
    return aws.project.run(*args, env={**aws.env, **GIVE_UP})


def test_aws_max_attempts_is_honoured_and_a_bad_value_is_refused():
    assert max_attempts_from({}) == 8
    assert max_attempts_from({"AWS_MAX_ATTEMPTS": "2"}) == 2
    with pytest.raises(UsageError, match="AWS_MAX_ATTEMPTS='zero' is not a whole number"):
        max_attempts_from({"AWS_MAX_ATTEMPTS": "zero"})
    with pytest.raises(UsageError):
        max_attempts_from({"AWS_MAX_ATTEMPTS": "0"})


def test_endless_throttling_fails_with_exit_1_before_traffic_moved_and_3_or_4_after(
    aws: AwsProject,
):
    # Publishing never gets through: nothing changed, exit 1.
    aws.proxy.fault("PublishVersion", "throttle", repeat=True)
    code, body = run_limited(aws, "deploy", "staging")
    assert code == 1
    assert "TooManyRequestsException" in body["error"]["message"]
    assert aws.proxy.statuses("PublishVersion") == [429, 429]  # 2 attempts, then it gave up
    assert aws.alias_version() is None
    aws.proxy.clear()
    aws.run("deploy", "staging", check=0)
    aws.project.release("r2")

    # The shift never gets through: the alias is looked at, unchanged, exit 1.
    aws.proxy.fault("UpdateAlias", "throttle", repeat=True)
    code, body = run_limited(aws, "deploy", "staging")
    assert code == 1
    assert "TooManyRequestsException" in body["error"]["message"]
    assert aws.alias_version() == "1"

    # The check's invocation never gets through: a failed check, rolled back, exit 3.
    aws.proxy.clear()
    aws.proxy.fault("Invoke", "throttle", nth=1)  # the check's call and its one retry …
    aws.proxy.fault("Invoke", "throttle", nth=2)  # … then the rollback's check answers
    code, body = run_limited(aws, "deploy", "staging")
    assert code == 3
    assert "TooManyRequestsException" in body["deployment"]["checks"][0]["detail"]
    assert body["deployment"]["rollback"]["verified"] is True
    assert aws.alias_version() == "1"

    # A bad release whose rollback never gets through: a person is needed, exit 4.
    aws.proxy.clear()
    aws.world.queue_invoke_results({"ok": False})
    aws.proxy.fault("UpdateAlias", "throttle", nth=2, repeat=True)  # every move after the shift
    code, body = run_limited(aws, "deploy", "staging")
    assert code == 4
    assert "NEEDS A PERSON" in body["error"]["message"]
    assert "TooManyRequestsException" in body["deployment"]["rollback"]["error"]
    assert aws.alias_version() == "2"  # and the ledger says so
    assert_alias_recorded(aws, "rollback throttled")
    assert [r.state for r in rows(aws)] == [
        "failed", "succeeded", "failed", "rolled_back", "rollback_failed",
    ]  # fmt: skip

    aws.proxy.clear()  # AWS calms down; the person rolls back
    aws.run("rollback", "staging", check=0)
    assert_settled(aws, version="1")


# --- someone else writes between our read and our guarded write -----------------------------


def hotfix_zip() -> bytes:
    return zip_bytes("def handler(event, context):\n    return {'ok': True}  # hotfix\n")


def test_code_changed_by_someone_else_mid_deploy_is_a_conflict_never_overwritten(
    aws: AwsProject,
):
    other = aws.proxy.other_client()

    def someone_uploads_a_hotfix() -> None:
        other.update_function_code(FunctionName=FUNCTION, ZipFile=hotfix_zip())

    # Between our read of $LATEST and our upload (UpdateFunctionCode names its RevisionId).
    aws.proxy.fault("UpdateFunctionCode", "before", action=someone_uploads_a_hotfix)
    code, body = aws.run("deploy", "staging")
    assert code == 1
    assert "PreconditionFailedException" in body["error"]["message"]
    assert "nothing was overwritten" in body["error"]["message"]
    theirs = aws.latest_code()
    assert theirs == code_sha256(hashlib.sha256(hotfix_zip()).hexdigest())

    # Between our upload and our publish (PublishVersion names the RevisionId we uploaded).
    aws.proxy.clear()
    aws.proxy.fault("PublishVersion", "before", action=someone_uploads_a_hotfix)
    code, body = aws.run("deploy", "staging")
    assert code == 1
    assert "PreconditionFailedException" in body["error"]["message"]
    assert aws.proxy.statuses("PublishVersion") == [412]  # refused once, never retried
    assert aws.latest_code() == theirs
    assert aws.alias_version() is None  # no version of anybody's code went live
    assert [r.state for r in rows(aws)] == ["failed", "failed"]
    assert_settled(aws, version=None)


def test_alias_moved_by_someone_else_mid_deploy_or_mid_rollback_is_never_overwritten(
    aws: AwsProject,
):
    aws.run("deploy", "staging", check=0)
    other = aws.proxy.other_client()
    other.update_function_code(FunctionName=FUNCTION, ZipFile=hotfix_zip())
    hotfix = other.publish_version(FunctionName=FUNCTION)["Version"]

    def someone_moves_the_alias() -> None:
        other.update_alias(FunctionName=FUNCTION, Name="live", FunctionVersion=hotfix)

    # Between our read of the alias and our shift: exit 1, their version stays live.
    aws.project.release("r2")
    aws.proxy.fault("UpdateAlias", "before", action=someone_moves_the_alias)
    code, body = aws.run("deploy", "staging")
    assert code == 1
    assert "PreconditionFailedException" in body["error"]["message"]
    assert aws.alias_version() == hotfix
    assert rows(aws)[-1].state == "failed"

    # Between our shift and our rollback's move: the rollback is refused, a person decides.
    other.update_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1")
    aws.proxy.clear()
    aws.world.queue_invoke_results({"ok": False})
    aws.proxy.fault("UpdateAlias", "before", nth=2, action=someone_moves_the_alias)
    code, body = aws.run("deploy", "staging")
    assert code == 4
    assert "PreconditionFailedException" in body["deployment"]["rollback"]["error"]
    assert aws.alias_version() == hotfix  # theirs, not ours and not overwritten
    # Our writes: the refused shift, then this shift and its refused move back; no retries.
    assert [status < 300 for status in aws.proxy.statuses("UpdateAlias")] == [False, True, False]
    assert rows(aws)[-1].state == "rollback_failed"
    aws.run("audit", "--verify", check=0)
