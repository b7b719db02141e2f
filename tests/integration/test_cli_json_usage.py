"""Usage mistakes under ``--json`` (DESIGN §4): a script that asked for JSON gets exactly one
JSON object with ``exit_code`` 2 and ``error.code`` "usage" — never a help page on stdout —
wherever the mistake is: no command at all, an unknown command, a missing argument."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run(
        [sys.executable, "-m", "lambda_promote", *args],
        cwd=cwd,
        env={**env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_usage_error(proc: subprocess.CompletedProcess[str]) -> dict:
    body = json.loads(proc.stdout)  # exactly one object: json.loads refuses trailing data
    assert proc.returncode == 2
    assert set(body) >= {"ok", "command", "exit_code", "error"}
    assert body["ok"] is False
    assert body["exit_code"] == 2
    assert body["error"]["code"] == "usage"
    assert set(body["error"]) == {"code", "message", "hint"}
    assert "Usage:" not in proc.stdout
    return body


@pytest.mark.parametrize(
    "args", [("--json",), ("--json", "--config", "other.yaml"), ("--as", "bob", "--json")]
)
def test_json_without_a_command_is_one_usage_error_not_the_help(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    body = one_usage_error(run(tmp_path, *args))
    assert body["command"] == ""
    assert "command" in body["error"]["message"].lower()
    assert "--help" in body["error"]["hint"]


def test_json_with_an_unknown_command_is_one_usage_error(tmp_path: Path) -> None:
    body = one_usage_error(run(tmp_path, "--json", "unknown-cmd"))
    assert body["command"] == "unknown-cmd"


def test_json_with_a_missing_argument_is_one_usage_error(tmp_path: Path) -> None:
    one_usage_error(run(tmp_path, "--json", "deploy"))
    body = one_usage_error(run(tmp_path, "deploy", "--json"))
    assert body["command"] == "deploy"
    assert "ENV" in body["error"]["message"]


def test_without_json_no_command_still_shows_the_help(tmp_path: Path) -> None:
    proc = run(tmp_path)
    assert proc.returncode == 2
    assert "Commands:" in proc.stdout + proc.stderr
