"""The CLI contract of DESIGN §4 as a user and a script meet it: one JSON object on stdout,
documented exit codes, clear errors without tracebacks, and the new user's first commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def cli(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    full_env.update({"NO_COLOR": "1", "LAMBDA_PROMOTE_USER": "alice", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "lambda_promote", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def one_json(proc: subprocess.CompletedProcess[str]) -> dict:
    body = json.loads(proc.stdout)  # exactly one object: json.loads refuses trailing data
    assert set(body) >= {"ok", "command", "exit_code", "error"}
    assert body["exit_code"] == proc.returncode
    return body


@pytest.mark.network
def test_a_new_user_inits_builds_and_gets_the_same_digest_cached(tmp_path: Path) -> None:
    assert cli(tmp_path, "init", "--example").returncode == 0
    first = one_json(cli(tmp_path, "build", "--json"))
    assert first["ok"] is True
    assert first["command"] == "build"
    artifact = first["artifact"]
    assert set(artifact) >= {"digest", "size", "path", "cached"}
    assert len(artifact["digest"]) == 64
    assert artifact["cached"] is False
    assert Path(artifact["path"]).is_file()
    again = one_json(cli(tmp_path, "build", "--json"))
    assert again["artifact"]["digest"] == artifact["digest"]
    assert again["artifact"]["cached"] is True
    # Human mode: the digest alone on stdout, for scripts; progress on stderr.
    human = cli(tmp_path, "build")
    assert human.stdout.strip() == artifact["digest"]


def test_a_bad_config_exits_2_with_file_line_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(e, c):\n    return {}\n")
    (tmp_path / "promote.yaml").write_text(
        "project: x\nenvironments:\n  production:\n    function_name: f\n"
        "    approval:\n      reviewers: [a]\n      min_approvals: two\n"
    )
    proc = cli(tmp_path, "validate")
    assert proc.returncode == 2
    assert "promote.yaml:7: environments.production.approval.min_approvals" in proc.stderr
    assert "Traceback" not in proc.stderr
    body = one_json(cli(tmp_path, "validate", "--json"))
    assert body["error"]["code"] == "config"
    assert "min_approvals" in body["error"]["message"]


def test_a_missing_config_says_how_to_start(tmp_path: Path) -> None:
    body = one_json(cli(tmp_path, "status", "--json"))
    assert body["exit_code"] == 2
    assert "init" in body["error"]["hint"]


@pytest.mark.parametrize(
    "args",
    [("deploy",), ("deploy", "staging", "--bogus"), ("nonsense",)],
    ids=["missing-argument", "unknown-option", "unknown-command"],
)
def test_usage_errors_exit_2_even_as_json(tmp_path: Path, args: tuple[str, ...]) -> None:
    proc = cli(tmp_path, *args, "--json")
    assert proc.returncode == 2
    body = one_json(proc)
    assert body["error"]["code"] == "usage"


def test_an_unknown_environment_suggests_the_right_one(tmp_path: Path) -> None:
    cli(tmp_path, "init", "--example")
    body = one_json(cli(tmp_path, "status", "prod", "--json"))
    assert body["exit_code"] == 2
    assert "production" in body["error"]["hint"]


def test_help_does_not_load_heavy_modules(tmp_path: Path) -> None:
    code = (
        "import sys; sys.argv=['lambda-promote','--help']\n"
        "from lambda_promote.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy={'sqlalchemy','pydantic','rich','boto3','alembic','yaml'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_the_demo_tells_the_whole_story_and_exits_0(tmp_path: Path) -> None:
    proc = cli(tmp_path, "demo", "--keep", str(tmp_path / "demo"), "--json")
    body = one_json(proc)
    assert body["ok"] is True, proc.stderr
    assert len(body["steps"]) >= 12
    assert all(s["expect_exit"] == s["got_exit"] for s in body["steps"])
    titles = " ".join(s["title"] for s in body["steps"])
    for part in ("own request", "approves", "rolled back", "by hand", "audit"):
        assert part in titles
