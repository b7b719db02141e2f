"""The hot path stays light (DESIGN §8): on a project whose SQLite ledger exists and whose
promote.yaml is unchanged since it was last validated, ``status`` and ``rollback`` load
neither SQLAlchemy (the standard-library ledger serves the file) nor pydantic or PyYAML (the
validated-config snapshot stands in) — and still do everything they did.

Each command runs the real CLI in a child process that reports, after its output, which heavy
modules it loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

CONFIG = """\
project: light
target: local
function:
  source: src
  handler: app.handler
environments:
  staging:
    function_name: light-staging
    checks:
      - name: ping
        payload: {ping: true}
        expect: {body: {ok: true}}
"""
APP = "REVISION = {revision!r}\n\ndef handler(event, context):\n    return {{'ok': True}}\n"

RUN_CLI = """\
import json, sys
from lambda_promote.cli import main
sys.argv = ["lambda-promote", *sys.argv[1:]]
try:
    main()
finally:
    heavy = {"pydantic", "yaml", "sqlalchemy", "alembic", "boto3", "matplotlib"}
    loaded = sorted({m.split(".")[0] for m in sys.modules} & heavy)
    print("LOADED " + json.dumps(loaded), file=sys.stderr)
    print("MODULES " + json.dumps(sorted(sys.modules)), file=sys.stderr)
"""

# What a rollback has no use for: approvals and the promotion rules they load, the triggers'
# planning (deploy and run only).
NOT_FOR_ROLLBACK = (
    "lambda_promote.release.approvals",
    "lambda_promote.promotion",
    "lambda_promote.release.plan",
    "lambda_promote.triggers",
)


def run(root: Path, *args: str) -> tuple[dict[str, Any], list[str]]:
    """The command's JSON body and the heavy modules its process loaded."""
    body, loaded, _ = run_listing(root, *args)
    return body, loaded


def run_listing(root: Path, *args: str) -> tuple[dict[str, Any], list[str], list[str]]:
    """The command's JSON body, the heavy modules its process loaded and every module."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "LAMBDA_"))}
    env.update(NO_COLOR="1", LAMBDA_PROMOTE_USER="alice")
    done = subprocess.run(
        [sys.executable, "-c", RUN_CLI, *args, "--json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = done.stderr.splitlines()
    loaded = [x for x in lines if x.startswith("LOADED ")]
    modules = [x for x in lines if x.startswith("MODULES ")]
    assert loaded, done.stderr
    assert modules, done.stderr
    return (
        json.loads(done.stdout),
        json.loads(loaded[-1].removeprefix("LOADED ")),
        json.loads(modules[-1].removeprefix("MODULES ")),
    )


def deployed_twice(root: Path) -> Path:
    """A project with two verified deployments of staging: something to roll back to."""
    (root / "src").mkdir(parents=True)
    (root / "promote.yaml").write_text(CONFIG)
    for revision in ("one", "two"):
        (root / "src" / "app.py").write_text(APP.format(revision=revision))
        body, _ = run(root, "deploy", "staging")
        assert body["ok"], body
    return root


def test_status_and_rollback_on_a_sqlite_ledger_load_no_heavy_library(tmp_path: Path):
    root = deployed_twice(tmp_path)

    status, status_loaded = run(root, "status")
    rollback, rollback_loaded = run(root, "rollback", "staging")
    after, _ = run(root, "status")

    assert status["ok"], status
    assert rollback["ok"], rollback
    assert (status_loaded, rollback_loaded) == ([], [])
    assert after["environments"]["staging"]["version"] == "1"  # the first deployment, again


def test_metrics_on_a_sqlite_ledger_load_no_heavy_library(tmp_path: Path):
    """The table and --json need neither SQLAlchemy nor matplotlib (only charts do)."""
    root = deployed_twice(tmp_path)
    run(root, "status")  # promote.yaml validated once, as after any command

    metrics, loaded = run(root, "metrics", "staging")

    assert metrics["metrics"]["succeeded"] == 2, metrics
    assert loaded == []


def test_a_changed_promote_yaml_is_validated_again_and_its_errors_reported(tmp_path: Path):
    root = deployed_twice(tmp_path)
    run(root, "status")
    text = (root / "promote.yaml").read_text()
    (root / "promote.yaml").write_text(text.replace("function_name: light-staging", "alias: 7"))

    body, loaded = run(root, "status")

    assert body["exit_code"] == 2, body
    assert "promote.yaml" in body["error"]["message"]
    assert "pydantic" in loaded


def test_rollback_loads_neither_approvals_nor_the_triggers_planning(tmp_path: Path):
    root = deployed_twice(tmp_path)

    rollback, _, modules = run_listing(root, "rollback", "staging")
    deploy, _, deploy_modules = run_listing(root, "deploy", "staging")

    assert rollback["ok"], rollback
    assert [m for m in NOT_FOR_ROLLBACK if m in modules] == []
    assert deploy["ok"], deploy  # deploy still finds them where it uses them
    assert "lambda_promote.release.approvals" in deploy_modules
