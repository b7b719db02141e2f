"""What the workflow's rollback jobs run, `lambda-promote github resolve ENV`, end to end on
the local target: it finishes what a dead or cancelled deploy job left, and never rolls an
environment further back than the deploy itself already did."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli_project import Project, make_project

CODE = "import lambda_promote.commands_github; from lambda_promote.cli import main; main()"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "tiny")


def resolve(project: Project, *args: str) -> tuple[int, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update({"LAMBDA_PROMOTE_USER": "ci", "NO_COLOR": "1"})
    done = subprocess.run(
        [sys.executable, "-c", CODE, "github", "resolve", "staging", *args, "--json"],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    body = json.loads(done.stdout)
    assert body["exit_code"] == done.returncode
    return done.returncode, body


def live(project: Project) -> dict[str, Any]:
    _, body = project.run("status", check=0)
    staging: dict[str, Any] = body["environments"]["staging"]
    return staging


def test_after_a_deploy_that_rolled_itself_back_nothing_more_happens(project: Project) -> None:
    project.run("deploy", "staging", check=0)
    project.release("r2", broken=True)
    project.run("deploy", "staging", check=3)
    code, body = resolve(project, "--reason", "deploy-staging ended with failure")
    assert code == 0
    assert body["resolution"]["recovered"] == []
    assert body["resolution"]["live_version"] == "1"
    _, history = project.run("history", "staging", check=0)
    assert [d["state"] for d in history["deployments"]] == ["rolled_back", "succeeded"]


def test_a_deploy_killed_after_moving_traffic_is_rolled_back(project: Project) -> None:
    _, first = project.run("deploy", "staging", check=0)
    project.release("r2")
    killed = project.popen("deploy", "staging", env={"LAMBDA_PROMOTE_CRASH_AT": "shift"})
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL
    assert live(project)["version"] == "2"

    code, body = resolve(project, "--reason", "deploy-staging ended with cancelled")
    assert code == 0
    assert [d["state"] for d in body["resolution"]["recovered"]] == ["rolled_back"]
    after = live(project)
    assert after["digest"] == first["deployment"]["digest"]
    assert after["in_flight"] == []


def test_a_lock_left_on_the_dead_jobs_runner_is_broken_only_when_named(project: Project) -> None:
    project.run("deploy", "staging", check=0)
    project.release("r2")
    project.popen("deploy", "staging", env={"LAMBDA_PROMOTE_CRASH_AT": "publish"}).communicate()
    # As if the deploy job had run on another machine, as each GitHub job does.
    project.sql("update locks set holder = ?", "ci@fv-az123-4:2817")

    code, body = resolve(project)
    assert code == 6
    assert body["error"]["code"] == "locked"

    code, body = resolve(project, "--dead-host", "fv-az123-4")
    assert code == 0
    assert body["resolution"]["broke_lock"] == "ci@fv-az123-4:2817"
    assert [d["state"] for d in body["resolution"]["recovered"]] == ["failed"]
    after = live(project)
    assert (after["version"], after["lock"], after["in_flight"]) == ("1", None, [])


def test_a_rollback_that_left_the_previous_version_failing_needs_a_person(
    project: Project,
) -> None:
    project.run("deploy", "staging", check=0)
    project.release("r2")
    project.flag.write_text("every version fails now")
    project.run("deploy", "staging", check=4)
    code, body = resolve(project)
    assert code == 4
    assert "NEEDS A PERSON" in body["error"]["message"]
    assert live(project)["version"] == "1"
