"""A rollback job that runs while a *newer* run's deploy holds the environment (its own deploy
failed, and the newest pending deploy started at once): with the dead runner named, the lock
is not the dead job's, so `github resolve` leaves the environment to that deploy (which
resolves leftovers first) and exits 0 instead of a red exit 6."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cli_project import Project, make_project

CODE = "import lambda_promote.commands_github; from lambda_promote.cli import main; main()"


def resolve(project: Project, *args: str) -> tuple[int, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update({"LAMBDA_PROMOTE_USER": "ci", "NO_COLOR": "1"})
    done = subprocess.run(
        [sys.executable, "-c", CODE, "github", "resolve", "staging", *args, "--json"],
        cwd=project.root, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout)


def test_a_newer_runs_live_deploy_is_left_alone(tmp_path: Path) -> None:
    project = make_project(tmp_path / "tiny")
    project.run("deploy", "staging", check=0)
    project.release("r2")
    project.popen("deploy", "staging", env={"LAMBDA_PROMOTE_CRASH_AT": "publish"}).communicate()
    # The lock is a newer run's deploy on another runner, not the dead job's (fv-az1-dead).
    project.sql("update locks set holder = ?", "ci@fv-az9-newer:4242")
    code, body = resolve(project, "--dead-host", "fv-az1-dead")
    assert code == 0, body
    assert body["resolution"]["held_by"] == "ci@fv-az9-newer:4242"
    assert body["resolution"]["recovered"] == []
