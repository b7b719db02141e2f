"""The generated workflow of a many-function project (DESIGN §10, §11.4), its scripts run as
a runner would run them (bash, this checkout's lambda-promote on PATH): the build step
builds the release and reports the release digest; a deploy job's check step accepts the
store it built, and refuses it when one function's zip or the manifest changed a byte."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lambda_promote.config import load_config
from lambda_promote.github.workflow import build_workflow
from lambda_promote.github.yamlout import strip_notes

CONFIG = """\
project: shop
functions:
  api: {source: api, handler: app.handler}
  worker: {source: worker, handler: app.handler}
environments:
  staging:
    function_names: {api: shop-api-staging, worker: shop-worker-staging}
triggers:
  - {event: push, branches: [main], deploy: [staging]}
"""
STORE = Path(".lambda-promote/artifacts")


def step(job: dict[str, Any], starts: str) -> dict[str, Any]:
    return next(s for s in job["steps"] if s.get("name", "").startswith(starts))


def bash(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "AWS_"))}
    full.update(env, PATH=f"{Path(sys.executable).parent}{os.pathsep}{full.get('PATH', '')}")
    return subprocess.run(
        ["bash", "-e", "-c", script], cwd=cwd, env=full, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, dict[str, Any], str]:
    (tmp_path / "promote.yaml").write_text(CONFIG)
    for name in ("api", "worker"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(f"def handler(e, c):\n    return {name!r}\n")
    jobs = strip_notes(build_workflow(load_config(tmp_path / "promote.yaml")))["jobs"]
    outputs = tmp_path / "github-output"
    build = step(jobs["build"], "Build every function's zip")
    done = bash(build["run"], tmp_path, GITHUB_OUTPUT=str(outputs))
    assert done.returncode == 0, done.stdout + done.stderr
    digest = outputs.read_text().strip().removeprefix("digest=")
    return tmp_path, jobs, digest


def test_the_build_step_reports_the_release_digest_and_the_check_accepts_it(
    built: tuple[Path, dict[str, Any], str],
) -> None:
    root, jobs, digest = built
    manifest = (root / STORE / f"{digest}.zip").read_bytes().decode()
    assert [line.split()[0] for line in manifest.splitlines()] == ["api", "worker"]
    check = step(jobs["deploy-staging"], "Check every function's zip")
    done = bash(check["run"], root, DIGEST=digest)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": OK") == 3  # the manifest, then each function's zip


@pytest.mark.parametrize("tampered", ["worker", "manifest"])
def test_the_check_refuses_a_changed_byte(
    built: tuple[Path, dict[str, Any], str], tampered: str
) -> None:
    root, jobs, digest = built
    manifest = (root / STORE / f"{digest}.zip").read_text()
    lines = dict(line.split() for line in manifest.splitlines())
    target = root / STORE / f"{digest if tampered == 'manifest' else lines[tampered]}.zip"
    target.chmod(0o644)
    target.write_bytes(target.read_bytes() + b"\n")
    check = step(jobs["deploy-staging"], "Check every function's zip")
    done = bash(check["run"], root, DIGEST=digest)
    assert done.returncode != 0
    assert "FAILED" in done.stdout + done.stderr
