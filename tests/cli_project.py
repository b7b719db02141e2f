"""A small project on the local target, driven through the real CLI in a child process,
for the end-to-end tests. The handler's behaviour is set by rewriting src/app.py, so each
release is a genuinely different artifact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG = """\
project: tiny
target: local
state: {state}
artifacts: .lambda-promote/artifacts
function:
  source: src
  handler: app.handler
  runtime: python3.12
environments:
  staging:
    function_name: tiny-staging
    timeout_seconds: {timeout}
    variables: {{FLAG_FILE: "{flag}"}}
    checks:
      - name: ping
        payload: {{action: ping}}
        expect: {{body: {{ok: true}}}}
        max_latency_ms: 20000
  production:
    function_name: tiny-production
    promote_from: staging
    approval:
      reviewers: [lead, ops]
      min_approvals: 1
      wait_timer_minutes: 0
    checks:
      - name: ping
        payload: {{action: ping}}
        expect: {{body: {{ok: true}}}}
        max_latency_ms: 20000
  eu-production:
    function_name: tiny-eu-production
    promote_from: staging
    approval:
      reviewers: [lead, ops]
    checks:
      - name: ping
        payload: {{action: ping}}
        expect: {{body: {{ok: true}}}}
        max_latency_ms: 20000
triggers:
  - {{event: push, branches: [develop], deploy: [staging]}}
  - {{event: push, branches: [main], deploy: [staging, production]}}
"""

APP = """\
import os
import time

RELEASE = {release!r}


def handler(event, context):
    if os.path.exists(os.environ.get("FLAG_FILE", "/nonexistent")):
        raise RuntimeError("every version is broken now (flag file present)")
    if {broken!r}:
        raise ValueError("release " + RELEASE + " is broken")
    time.sleep({sleep!r})
    return {{"ok": True, "release": RELEASE}}
"""


@dataclass
class Project:
    root: Path
    user: str = "alice"

    @property
    def flag(self) -> Path:
        return self.root / "all-broken.flag"

    def sql(self, statement: str, *params: object) -> list[tuple[object, ...]]:
        """Read or change the SQLite ledger directly, as someone with file access could."""
        import sqlite3

        with sqlite3.connect(self.root / ".lambda-promote" / "state.db") as db:
            return db.execute(statement, params).fetchall()

    def counts(self) -> dict[str, int]:
        tables = ("deployments", "approval_requests", "approval_decisions", "audit_events")
        return {t: int(self.sql(f"select count(*) from {t}")[0][0]) for t in tables}

    def release(self, name: str, *, broken: bool = False, sleep: float = 0) -> None:
        app = APP.format(release=name, broken=broken, sleep=sleep)
        (self.root / "src" / "app.py").write_text(app)

    def run(
        self,
        *args: str,
        user: str | None = None,
        env: dict[str, str] | None = None,
        check: int | None = None,
    ) -> tuple[int, dict[str, Any]]:
        proc = self.popen(*args, user=user, env=env)
        out, err = proc.communicate(timeout=180)
        try:
            body = json.loads(out)
        except ValueError as exc:
            raise AssertionError(f"stdout is not one JSON object: {out!r}\n{err}") from exc
        if check is not None:
            assert proc.returncode == check, (proc.returncode, body, err)
        assert body["exit_code"] == proc.returncode
        return proc.returncode, body

    def popen(
        self, *args: str, user: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        full_env.update({"LAMBDA_PROMOTE_USER": user or self.user, "NO_COLOR": "1"})
        full_env.update(env or {})
        return subprocess.Popen(
            [sys.executable, "-m", "lambda_promote", *args, "--json"],
            cwd=self.root,
            env=full_env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )


def wait_for(predicate: Callable[[], bool], *, seconds: float = 60.0) -> None:
    """Poll ``predicate`` until it holds (a child process got somewhere), or fail the test."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def make_project(
    root: Path, *, state: str | None = None, timeout: int = 30, edits: dict[str, str] | None = None
) -> Project:
    (root / "src").mkdir(parents=True)
    project = Project(root)
    config = CONFIG.format(
        state=state or "sqlite:///.lambda-promote/state.db", timeout=timeout, flag=project.flag
    )
    for old, new in (edits or {}).items():
        assert old in config, old
        config = config.replace(old, new, 1)
    (root / "promote.yaml").write_text(textwrap.dedent(config))
    project.release("r1")
    return project
