"""``lambda-promote report DEPLOYMENT --format md|json|html`` end to end: a real project on the
local target, deployed through the CLI in a child process, then its reports rendered from
the ledger — without the secret the function printed into its logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_project import Project, make_project

SECRET = "aws/PLANTED+report/secret0123"
APP = """\
def handler(event, context):
    print("connecting with {secret}")
    if {broken!r}:
        raise RuntimeError("release is broken")
    return {{"ok": True}}
"""
# The command is registered by importing its module (cli.py imports it once wired in).
RUN_CLI = "import lambda_promote.commands_report; from lambda_promote.cli import main; main()"


def cli(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update({"LAMBDA_PROMOTE_USER": "alice", "NO_COLOR": "1", "AWS_SECRET_ACCESS_KEY": SECRET})
    return subprocess.run(
        [sys.executable, "-c", RUN_CLI, *args],
        cwd=project.root,
        env=env,
        text=True,
        capture_output=True,
        timeout=180,
        check=False,
    )


def deploy(project: Project, *, broken: bool) -> str:
    (project.root / "src" / "app.py").write_text(APP.format(secret=SECRET, broken=broken))
    done = cli(project, "deploy", "staging", "--json")
    body = json.loads(done.stdout)
    assert done.returncode == (3 if broken else 0), (body, done.stderr)
    return str(body["deployment"]["id"])


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, str, str]:
    project = make_project(tmp_path_factory.mktemp("reports"))
    good = deploy(project, broken=False)
    bad = deploy(project, broken=True)
    return project, good, bad


def test_the_markdown_report_goes_to_stdout(deployed) -> None:
    project, _, bad = deployed
    done = cli(project, "report", bad)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"# ⚠️ staging · deployment {bad}: Rolled back")
    assert "## Timeline" in done.stdout
    assert "**rolling_back**" in done.stdout
    assert "release is broken" in done.stdout
    assert "connecting with $AWS_SECRET_ACCESS_KEY" in done.stdout
    assert SECRET not in done.stdout + done.stderr


def test_the_html_report_is_written_where_asked(deployed, tmp_path: Path) -> None:
    project, good, _ = deployed
    target = tmp_path / "out" / "report.html"
    done = cli(project, "report", good[:6], "--format", "html", "--output", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(target)
    assert f"wrote the html report of {good}" in done.stderr
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert 'class="banner tone-ok"' in page
    assert "connecting with $AWS_SECRET_ACCESS_KEY" in page
    assert SECRET not in page


def test_under_json_the_report_travels_inside_the_one_object(deployed) -> None:
    project, _, bad = deployed
    done = cli(project, "report", bad, "--format", "json", "--json")
    body = json.loads(done.stdout)  # exactly one JSON document on stdout
    assert body["ok"] is True
    assert body["command"] == "report"
    report = json.loads(body["report"]["content"])
    assert report["deployment"]["id"] == bad
    assert report["deployment"]["state"] == "rolled_back"
    assert report["audit_head"].startswith("#")
    assert any(c["logs"] for c in report["checks"])
    assert SECRET not in done.stdout + done.stderr


def test_an_unknown_deployment_is_a_usage_error(deployed) -> None:
    project, _, _ = deployed
    done = cli(project, "report", "d-nope", "--json")
    body = json.loads(done.stdout)
    assert done.returncode == 2
    assert body["error"]["code"] == "usage"
    assert "history" in body["error"]["hint"]


def test_an_unknown_format_is_refused_by_the_command_line(deployed) -> None:
    project, good, _ = deployed
    done = cli(project, "report", good, "--format", "pdf")
    assert done.returncode == 2
    assert "pdf" in done.stderr
