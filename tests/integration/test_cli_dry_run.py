"""``--dry-run`` and options anywhere (DESIGN §11.1–§11.2), end to end through the CLI on the
local target: the plan a dry run prints, the exit code the real run would start with, and
that nothing at all was written — no ledger row, no audit event, no lock, no target change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cli_project import Project, make_project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "tiny")


def snapshot(project: Project) -> dict[str, Any]:
    """Everything a dry run must leave as it was."""
    counts = project.counts()
    counts["locks"] = int(project.sql("select count(*) from locks")[0][0])
    counts["artifacts"] = int(project.sql("select count(*) from artifacts")[0][0])
    counts["transitions"] = int(project.sql("select count(*) from transitions")[0][0])
    _, status = project.run("status", check=0)
    counts["live"] = {env: s["version"] for env, s in status["environments"].items()}
    return counts


def cli(project: Project, *args: str) -> tuple[int, dict[str, Any], str]:
    """The CLI with ``args`` exactly as given (options before the command included)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update({"LAMBDA_PROMOTE_USER": project.user, "NO_COLOR": "1"})
    done = subprocess.run(
        [sys.executable, "-m", "lambda_promote", *args],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    body = json.loads(done.stdout) if done.stdout.startswith("{") else {}
    return done.returncode, body, done.stderr


def test_a_gated_production_deploy_shows_the_plan_exits_5_and_writes_nothing(project: Project):
    _, staged = project.run("deploy", "staging", check=0)
    before = snapshot(project)

    code, body = project.run("deploy", "production", "--dry-run")

    assert code == 5
    assert body["error"]["code"] == "approval_missing"
    plan = body["plan"]
    assert plan["env"] == "production"
    assert plan["release"] == staged["deployment"]["digest"]  # the bytes staging verified
    assert plan["from_version"] is None
    assert plan["gate"] == {
        "ok": False,
        "code": "approval_missing",
        "message": body["error"]["message"],
    }
    actions = [s["action"] for s in plan["steps"]]
    assert actions == ["publish", "shift", "check"]
    assert plan["steps"][1]["percent"] == 100
    assert plan["rollback_target"]["version"] is None  # a first deployment: alias removed
    assert snapshot(project) == before


def test_the_human_plan_reads_like_a_plan(project: Project) -> None:
    project.run("deploy", "staging", check=0)
    code, _, err = cli(project, "deploy", "production", "--dry-run")
    assert code == 5
    for words in ("live now", "will publish", "gate", "BLOCKED (approval_missing)", "steps"):
        assert words in err
    assert "on failure" in err


def test_an_approved_promotion_would_consume_its_approval_and_proceed(project: Project) -> None:
    project.run("deploy", "staging", check=0)
    _, requested = project.run("request-approval", "production", check=0)
    request_id = requested["approval_request"]["id"]
    project.run("approve", request_id, "--env", "production", user="lead", check=0)
    before = snapshot(project)

    code, body = project.run("deploy", "production", "--dry-run")

    assert code == 0
    plan = body["plan"]
    assert plan["gate"]["ok"] is True
    assert plan["steps"][0]["action"] == "consume_approval"
    assert request_id in plan["steps"][0]["detail"]
    assert snapshot(project) == before
    _, status = project.run("status", "production", check=0)
    assert status["environments"]["production"]["approvals"][0]["state"] == "granted"


def test_a_dry_run_on_a_fresh_machine_creates_no_ledger(project: Project) -> None:
    code, body = project.run("deploy", "staging", "--dry-run")
    assert code == 0
    assert body["plan"]["steps"][0]["action"] == "build"  # not built yet: it would build first
    code, body = project.run("run", "--event", "push", "--branch", "main", "--dry-run")
    assert code == 0
    assert body["environments"] == ["staging", "production"]
    code, body = project.run("rollback", "staging", "--dry-run")
    assert code == 1
    assert body["error"]["code"] == "no_rollback_target"
    assert not (project.root / ".lambda-promote" / "state.db").exists()


def test_a_dry_run_rollback_names_its_target_and_moves_nothing(project: Project) -> None:
    _, first = project.run("deploy", "staging", check=0)
    project.release("r2")
    project.run("deploy", "staging", check=0)
    before = snapshot(project)

    code, body = project.run("rollback", "staging", "--dry-run", "--reason", "drill")

    assert code == 0
    plan = body["plan"]
    assert (plan["from_version"], plan["to"]) == ("2", "1")
    assert plan["rollback_target"]["digest"] == first["deployment"]["digest"]
    assert [s["action"] for s in plan["steps"]] == ["shift", "check"]
    assert snapshot(project) == before


def test_a_dry_run_while_another_deployment_runs_exits_6(project: Project) -> None:
    project.run("deploy", "staging", check=0)
    project.release("r2", sleep=4)
    slow = project.popen("deploy", "staging", user="bob")
    deadline = time.monotonic() + 60
    while project.run("status", check=0)[1]["environments"]["staging"]["lock"] is None:
        assert time.monotonic() < deadline, "the slow deployment never took the lock"
        time.sleep(0.1)

    code, body = project.run("deploy", "staging", "--dry-run")

    assert code == 6
    assert body["error"]["code"] == "locked"
    assert body["plan"]["lock"]["holder"].startswith("bob@")
    slow.communicate(timeout=120)
    assert slow.returncode == 0


def test_a_dry_run_with_a_bad_config_exits_2(project: Project) -> None:
    config = project.root / "promote.yaml"
    config.write_text(config.read_text().replace("function_name: tiny-staging", "function_nam: x"))
    code, body = project.run("deploy", "staging", "--dry-run")
    assert code == 2
    assert body["error"]["code"] == "config"


def test_run_dry_run_plans_the_first_environment_and_names_the_rest(project: Project) -> None:
    project.run("deploy", "staging", check=0)
    before = snapshot(project)
    code, body = project.run("run", "--event", "push", "--branch", "main", "--dry-run")
    assert code == 0
    assert body["plan"]["env"] == "staging"
    assert body["then"] == ["production: promote what staging verified, through production's gate"]
    assert snapshot(project) == before


# --- options anywhere (DESIGN §11.1) ------------------------------------------------------------
def test_options_before_the_command_mean_the_same_as_after_it(project: Project) -> None:
    project.run("deploy", "staging", check=0)
    _, after, _ = cli(project, "status", "--json")
    code, before, _ = cli(project, "--json", "status")
    assert code == 0
    assert before == after

    other = project.root / "elsewhere.yaml"
    other.write_text((project.root / "promote.yaml").read_text())
    code, body, _ = cli(project, "--config", str(other), "--as", "lead", "--json", "history")
    assert code == 0
    assert [d["env"] for d in body["deployments"]] == ["staging"]

    code, body, _ = cli(project, "--as", "carol", "--json", "request-approval", "production")
    assert code == 0
    assert body["approval_request"]["requested_by"] == "carol"


def test_a_usage_error_after_leading_options_names_the_command(project: Project) -> None:
    code, body, _ = cli(project, "--config", "promote.yaml", "--json", "deploy")
    assert code == 2
    assert body["command"] == "deploy"
    assert body["error"]["code"] == "usage"
