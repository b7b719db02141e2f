"""Deploy, verify, roll back — end to end through the CLI on the local target (DESIGN §4–§6).

Each test is a story a user would tell: what they ran, what the exit code said, and what
`status`/`show` told them afterwards."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from cli_project import Project, make_project, wait_for


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "tiny")


def live(project: Project, env: str = "staging") -> dict:
    _, body = project.run("status", check=0)
    return body["environments"][env]


def test_a_good_release_goes_live_and_status_shows_it(project: Project) -> None:
    _code, body = project.run("deploy", "staging", check=0)
    dep = body["deployment"]
    assert body["ok"] is True
    assert body["error"] is None
    assert dep["state"] == "succeeded"
    assert dep["version"] == "1"
    assert dep["previous_version"] is None
    assert [c["name"] for c in dep["checks"]] == ["ping"]
    assert dep["checks"][0]["ok"] is True
    assert set(dep["checks"][0]) >= {"name", "ok", "latency_ms", "detail"}
    now = live(project)
    assert now["version"] == "1"
    assert now["digest"] == dep["digest"]
    assert now["deployed_by"] == "alice"


def test_a_broken_release_is_rolled_back_and_the_ledger_tells_the_story(project: Project):
    _, first = project.run("deploy", "staging", check=0)
    project.release("r2", broken=True)
    code, body = project.run("deploy", "staging")
    assert code == 3
    assert body["error"]["code"] == "rolled_back"
    dep = body["deployment"]
    assert dep["state"] == "rolled_back"
    assert dep["rollback"]["verified"] is True
    assert dep["rollback"]["to_version"] == "1"
    assert "ValueError" in dep["checks"][0]["detail"]
    assert live(project)["digest"] == first["deployment"]["digest"]

    _, shown = project.run("show", dep["id"], check=0)
    states = [t["state"] for t in shown["deployment"]["transitions"]]
    assert states == [
        "pending",
        "publishing",
        "shifting",
        "verifying",
        "rolling_back",
        "rolled_back",
    ]
    _, history = project.run("history", "staging", check=0)
    assert [d["state"] for d in history["deployments"]] == ["rolled_back", "succeeded"]


def test_a_rollback_that_cannot_be_verified_needs_a_person(project: Project) -> None:
    project.run("deploy", "staging", check=0)
    project.release("r2")
    project.flag.write_text("every version now fails")
    code, body = project.run("deploy", "staging")
    assert code == 4
    assert body["deployment"]["state"] == "rollback_failed"
    assert "NEEDS A PERSON" in body["error"]["message"]


def test_first_deployment_that_fails_leaves_the_alias_absent(project: Project) -> None:
    project.release("r1", broken=True)
    code, body = project.run("deploy", "staging")
    assert code == 3
    assert "nothing to roll back to" in body["deployment"]["rollback"]["note"]
    assert live(project)["version"] is None


def test_a_handler_timeout_fails_the_check_like_lambda(tmp_path: Path) -> None:
    project = make_project(tmp_path / "slow", timeout=1)
    project.release("r1", sleep=5)
    code, body = project.run("deploy", "staging")
    assert code == 3
    assert "timed out" in body["deployment"]["checks"][0]["detail"].lower()


def test_manual_rollback_goes_to_the_last_good_version_never_a_failed_one(project: Project):
    project.run("deploy", "staging", check=0)  # version 1, good
    project.release("r2", broken=True)
    project.run("deploy", "staging", check=3)  # version 2, failed and rolled back
    project.release("r3")
    project.run("deploy", "staging", check=0)  # version 3, good
    code, body = project.run("rollback", "staging", "--reason", "users report errors", check=0)
    dep = body["deployment"]
    assert dep["kind"] == "rollback"
    assert dep["version"] == "1"
    assert dep["previous_version"] == "3"
    assert dep["rollback"]["verified"] is True
    assert live(project)["version"] == "1"
    # Nothing good before version 1: a further rollback refuses, changing nothing.
    code, body = project.run("rollback", "staging")
    assert code == 1
    assert body["error"]["code"] == "no_rollback_target"
    assert live(project)["version"] == "1"


def test_rollback_to_an_explicit_version(project: Project) -> None:
    project.run("deploy", "staging", check=0)
    project.release("r2")
    project.run("deploy", "staging", check=0)
    project.release("r3")
    project.run("deploy", "staging", check=0)
    _, body = project.run("rollback", "staging", "--to", "1", check=0)
    assert body["deployment"]["version"] == "1"
    code, body = project.run("rollback", "staging", "--to", "9")
    assert code == 2


def test_a_second_concurrent_deployment_is_refused_with_exit_6(project: Project) -> None:
    project.run("deploy", "staging", check=0)
    project.release("r2", sleep=4)
    slow = project.popen("deploy", "staging", user="bob")
    wait_for(lambda: live(project)["lock"] is not None)
    code, body = project.run("deploy", "staging")
    assert code == 6
    assert body["error"]["code"] == "locked"
    assert "bob@" in body["error"]["message"]
    assert "unlock" in body["error"]["hint"]
    slow.communicate(timeout=120)
    assert slow.returncode == 0


@pytest.mark.parametrize("crash_at", ["publish", "shift"])
def test_a_deploy_killed_midway_is_recovered_by_the_next_command(
    project: Project, crash_at: str
) -> None:
    _, first = project.run("deploy", "staging", check=0)
    project.release("r2")
    killed = project.popen("deploy", "staging", env={"LAMBDA_PROMOTE_CRASH_AT": crash_at})
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL

    status = live(project)
    assert len(status["in_flight"]) == 1
    assert status["lock"]["stale"] is True
    if crash_at == "shift":
        assert status["version"] == "2"  # the alias moved before the process died

    if crash_at == "shift":
        # Traffic had moved: the user's rollback is the recovery itself, and no further.
        _, body = project.run("rollback", "staging", check=0)
        recovered = body["deployment"]
        assert recovered["state"] == "rolled_back"
        assert recovered["rollback"]["reason"] == "interrupted"
    else:
        # Nothing had moved: the next deploy marks it failed and carries on.
        _, body = project.run("deploy", "staging", check=0)
        _, shown = project.run("show", status["in_flight"][0]["id"], check=0)
        recovered = shown["deployment"]
        assert recovered["state"] == "failed"
        assert body["deployment"]["version"] == "2"
    assert recovered["id"] == status["in_flight"][0]["id"]
    after = live(project)
    assert after["in_flight"] == []
    assert after["lock"] is None
    if crash_at == "shift":
        assert after["digest"] == first["deployment"]["digest"]


def test_a_deploy_killed_by_a_signal_during_verification_is_recovered(project: Project) -> None:
    _, first = project.run("deploy", "staging", check=0)
    project.release("r2", sleep=30)
    victim = project.popen("deploy", "staging")
    wait_for(lambda: [d["state"] for d in live(project)["in_flight"]] == ["verifying"])
    os.killpg(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)

    project.release("r3")
    _code, body = project.run("deploy", "staging", check=0)
    assert body["deployment"]["previous_version"] == "1"  # the interrupted one was undone
    _, history = project.run("history", "staging", check=0)
    states = [d["state"] for d in history["deployments"]]
    assert states == ["succeeded", "rolled_back", "succeeded"]
    assert first["deployment"]["id"] == history["deployments"][-1]["id"]


def test_unlock_breaks_a_lock_and_says_whose(project: Project) -> None:
    project.run("deploy", "staging", check=0)
    project.release("r2")
    killed = project.popen("deploy", "staging", env={"LAMBDA_PROMOTE_CRASH_AT": "publish"})
    killed.communicate(timeout=120)
    lock = live(project)["lock"]
    _code, body = project.run("unlock", "staging", "--id", lock["deployment_id"], check=0)
    assert body["unlocked"]["deployment_id"] == lock["deployment_id"]
    assert live(project)["lock"] is None
    _, audit = project.run("audit", check=0)
    broken = [e for e in audit["events"] if e["action"] == "lock.broken"]
    assert len(broken) == 1
    assert broken[0]["reason"] == "unlocked by hand"
    assert broken[0]["details"]["deployment"] == lock["deployment_id"]


def test_recovery_and_the_stale_lock_it_broke_are_in_the_audit_trail(project: Project) -> None:
    project.run("deploy", "staging", check=0)
    project.release("r2")
    project.popen("deploy", "staging", env={"LAMBDA_PROMOTE_CRASH_AT": "shift"}).communicate()
    project.run("rollback", "staging", check=0)
    _, audit = project.run("audit", check=0)
    actions = [e["action"] for e in audit["events"]]
    assert "lock.broken" in actions
    recovering = [e for e in audit["events"] if e["action"] == "deployment.recovering"]
    assert recovering[0]["details"]["action"] == "roll_back"
    assert actions.index("lock.broken") < actions.index("deployment.recovering")
