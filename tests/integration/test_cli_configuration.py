"""The story of DESIGN §11.3 through the real CLI on the local target, with the ledger in
SQLite and in PostgreSQL: changing ``memory_mb`` in promote.yaml and deploying staging
publishes a new version with the new memory; production receives it with its own override;
``rollback staging`` brings the old memory back with the old code; moving the alias by hand
shows up as drift in ``status``; a promotion carries what staging verified, not a later edit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambda_promote.model import FunctionRef
from lambda_promote.targets.local import LocalTarget
from ledger_fixtures import postgres_schema

CONFIG = """\
project: sized
target: local
state: {state}
function:
  source: src
  handler: app.handler
  memory_mb: 256
  variables: {{MODE: fast}}
environments:
  staging:
    function_name: sized-staging
    checks:
      - {{name: ping, payload: {{}}, expect: {{body: {{ok: true}}}}, max_latency_ms: 20000}}
  production:
    function_name: sized-production
    promote_from: staging
    memory_mb: 2048
    checks:
      - {{name: ping, payload: {{}}, expect: {{body: {{ok: true}}}}, max_latency_ms: 20000}}
"""
APP = """\
import os

def handler(event, context):
    return {"ok": True, "memory": context.memory_limit_in_mb, "mode": os.environ.get("MODE")}
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        yield "sqlite:///.lambda-promote/state.db"
        return
    with postgres_schema() as url:
        yield url


class Project:
    def __init__(self, root: Path, state: str) -> None:
        self.root = root
        (root / "src").mkdir()
        (root / "src" / "app.py").write_text(APP)
        self.config = CONFIG.format(state=json.dumps(state))
        self.write()

    def write(self) -> None:
        (self.root / "promote.yaml").write_text(self.config)

    def edit(self, old: str, new: str) -> None:
        assert old in self.config
        self.config = self.config.replace(old, new, 1)
        self.write()

    def run(self, *args: str, check: int = 0, user: str = "alice") -> tuple[dict[str, Any], str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        env.update({"LAMBDA_PROMOTE_USER": user, "NO_COLOR": "1"})
        proc = subprocess.run(
            [sys.executable, "-m", "lambda_promote", *args, "--json"],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        body = json.loads(proc.stdout)
        assert proc.returncode == check, (proc.returncode, body, proc.stderr)
        return body, proc.stderr

    def invoke(self, env: str) -> Any:
        target = LocalTarget(self.root / ".lambda-promote" / "local")
        return target.invoke(FunctionRef(env, f"sized-{env}", "live"), {}).payload


def test_memory_travels_with_the_release_and_rolls_back_with_the_code(tmp_path: Path, state: str):
    project = Project(tmp_path, state)
    first, _ = project.run("deploy", "staging")
    assert first["deployment"]["configuration"] == {"memory_mb": 256, "variables": {"MODE": "fast"}}

    project.edit("memory_mb: 256", "memory_mb: 512")
    second, _ = project.run("deploy", "staging")
    staging = second["deployment"]
    assert (staging["version"], staging["previous_version"]) == ("2", "1")
    assert staging["digest"] == first["deployment"]["digest"]  # same code, new settings
    assert staging["configuration"]["memory_mb"] == 512
    assert project.invoke("staging")["memory"] == "512"

    production, _ = project.run("deploy", "production")
    assert production["deployment"]["configuration"] == {
        "memory_mb": 2048,
        "variables": {"MODE": "fast"},
    }
    assert project.invoke("production")["memory"] == "2048"

    back, _ = project.run("rollback", "staging", "--reason", "512 MB is too much")
    assert back["deployment"]["version"] == "1"
    assert back["deployment"]["configuration"]["memory_mb"] == 256
    assert project.invoke("staging")["memory"] == "256"

    shown, _ = project.run("show", staging["id"])
    assert shown["deployment"]["configuration_digest"] == staging["configuration_digest"]


def test_a_promotion_carries_what_staging_verified_not_a_later_edit(tmp_path: Path, state: str):
    project = Project(tmp_path, state)
    project.run("deploy", "staging")
    project.edit("variables: {MODE: fast}", "variables: {MODE: slow}")

    production, stderr = project.run("deploy", "production")

    assert production["deployment"]["configuration"]["variables"] == {"MODE": "fast"}
    assert project.invoke("production")["mode"] == "fast"
    assert "differs from what staging verified" in stderr
    assert 'variables.MODE: "fast" → "slow"' in stderr


def test_an_alias_moved_by_hand_is_drift_in_status_and_deploy_says_so(tmp_path: Path, state: str):
    project = Project(tmp_path, state)
    project.run("deploy", "staging")
    project.edit("memory_mb: 256", "memory_mb: 1024")
    project.run("deploy", "staging")
    status, _ = project.run("status")
    assert status["environments"]["staging"]["drift"] is None

    # Someone points the alias back at version 1 with their own tool.
    target = LocalTarget(project.root / ".lambda-promote" / "local")
    fn = FunctionRef("staging", "sized-staging", "live")
    target.point_alias(fn, "1", expected_revision=target.alias_state(fn).revision_id)

    status, _ = project.run("status")
    drift = status["environments"]["staging"]["drift"]
    assert (drift["expected_version"], drift["live_version"]) == ("2", "1")
    assert "configuration" in drift["differs"]
    assert "memory_mb: 1024 → 256" in drift["detail"]

    _, stderr = project.run("deploy", "staging")
    assert "drift" in stderr


def test_a_dry_run_shows_the_configure_step_and_changes_nothing(tmp_path: Path, state: str):
    project = Project(tmp_path, state)
    project.run("deploy", "staging")
    project.edit("memory_mb: 256", "memory_mb: 640")

    planned, _ = project.run("deploy", "staging", "--dry-run")

    # promote.yaml is an input of the build, so the plan builds first; the zip is the same.
    actions = [s["action"] for s in planned["plan"]["steps"]]
    assert actions[:4] == ["build", "configure", "publish", "shift"]
    assert planned["plan"]["steps"][1] == {
        "action": "configure",
        "detail": "memory_mb: 256 → 640",
        "function": "sized-staging",
    }
    assert project.invoke("staging")["memory"] == "256"
    history, _ = project.run("history", "staging")
    assert len(history["deployments"]) == 1


def test_approvers_see_the_configuration_production_would_change(tmp_path: Path, state: str):
    project = Project(tmp_path, state)
    project.edit(
        "    memory_mb: 2048\n",
        "    memory_mb: 2048\n    approval: {reviewers: [lead, ops], prevent_self_review: false}\n",
    )
    project.run("deploy", "staging")
    project.run("request-approval", "production")
    [request] = project.run("status", "production")[0]["environments"]["production"]["approvals"]
    project.run("approve", request["id"], "--env", "production", user="lead")
    project.run("deploy", "production")
    project.edit("memory_mb: 2048", "memory_mb: 4096")

    asked, _ = project.run("request-approval", "production")

    configuration = asked["approval_request"]["evidence"]["configuration"]
    assert configuration["changes"] == ["memory_mb: 2048 → 4096"]
