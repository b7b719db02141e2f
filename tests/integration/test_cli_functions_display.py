"""What a many-function release looks like to people and scripts (DESIGN §11.4, issue 15
item 4), through the real CLI on the local target: ``status`` (text and ``--json``, keeping
the environment-level keys and adding ``functions``), ``history``, ``show`` and the three
report formats list each function of a release — digest, version before and after, whether
its alias moved — and a single-function project's ``status --json`` carries no ``functions``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli_project import Project, make_project

CONFIG = """\
project: shop
target: local
functions:
  api: {source: api, handler: app.handler}
  worker: {source: worker, handler: app.handler}
environments:
  staging:
    function_names: {api: shop-api-staging, worker: shop-worker-staging}
    checks:
      - {name: ping, payload: {ping: true}, expect: {body: {ok: true}}, max_latency_ms: 20000}
"""


def write(root: Path, name: str, release: str, *, broken: bool = False) -> None:
    body = 'raise ValueError("broken")' if broken else f"return {{'ok': True, 'r': {release!r}}}"
    (root / name / "app.py").write_text(f"def handler(event, context):\n    {body}\n")


def text(project: Project, *args: str, code: int = 0) -> str:
    """A command's human output (stdout), as a person sees it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update({"LAMBDA_PROMOTE_USER": project.user, "NO_COLOR": "1"})
    done = subprocess.run(
        [sys.executable, "-m", "lambda_promote", *args], cwd=project.root, env=env,
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == code, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, dict[str, Any]]:
    """Release 1 deployed; release 2 (a new API, a broken worker) rolled back."""
    root = tmp_path_factory.mktemp("shop")
    (root / "promote.yaml").write_text(CONFIG)
    for name in ("api", "worker"):
        (root / name).mkdir()
        write(root, name, "r1")
    project = Project(root)
    _, first = project.run("deploy", "staging", check=0)
    write(root, "api", "r2")
    write(root, "worker", "r2", broken=True)
    _, failed = project.run("deploy", "staging", check=3)
    return project, {"first": first["deployment"], "failed": failed["deployment"]}


def test_status_json_keeps_the_environment_keys_and_adds_each_function(
    shop: tuple[Project, dict[str, Any]],
) -> None:
    project, deps = shop
    _, body = project.run("status", "staging", check=0)
    staging = body["environments"]["staging"]
    assert {"version", "digest", "deployed_at", "deployed_by", "drift"} <= set(staging)
    # Both functions are back where release 1 left them: the environment's digest is its.
    assert staging["digest"] == deps["first"]["digest"]
    assert staging["deployed_by"] == project.user
    assert staging["drift"] is None
    assert staging["functions"] == {
        name: {
            "function_name": f"shop-{name}-staging",
            "version": "1",
            "digest": deps["first"]["functions"][name]["digest"],
            "drift": None,
        }
        for name in ("api", "worker")
    }


def test_status_text_has_a_line_per_function(shop: tuple[Project, dict[str, Any]]) -> None:
    project, deps = shop
    out = text(project, "status", "staging")
    assert f"release {deps['first']['digest'][:12]}" in out
    for name in ("api", "worker"):
        digest = deps["first"]["functions"][name]["digest"][:12]
        assert f"{name:<6}  shop-{name}-staging  version 1 ({digest})" in out, out


def test_history_and_show_list_each_function_s_move(shop: tuple[Project, dict[str, Any]]) -> None:
    project, deps = shop
    failed = deps["failed"]
    assert failed["functions"]["api"]["moved"] is True
    history = text(project, "history", "staging")
    api = failed["functions"]["api"]["digest"][:12]
    assert f"api     shop-api-staging  1 → 2  {api}  moved" in history, history
    shown = text(project, "show", failed["id"])
    assert f"function  api     shop-api-staging  1 → 2  {api}  moved" in shown, shown
    worker = failed["functions"]["worker"]["digest"][:12]
    assert f"function  worker  shop-worker-staging  1 → 2  {worker}  moved" in shown


def test_every_report_format_has_the_functions(shop: tuple[Project, dict[str, Any]]) -> None:
    project, deps = shop
    failed = deps["failed"]
    md = text(project, "report", failed["id"], "--format", "md")
    assert "## Functions" in md
    api = failed["functions"]["api"]["digest"][:12]
    assert f"| **api** | shop-api-staging | 1 → 2 | `{api}` | moved |" in md, md
    html = text(project, "report", failed["id"], "--format", "html")
    assert "<h2>Functions</h2>" in html
    assert "<th>worker</th><td>shop-worker-staging</td>" in html
    doc = json.loads(text(project, "report", failed["id"], "--format", "json"))
    assert doc["deployment"]["functions"]["api"]["moved"] is True
    assert set(doc["deployment"]["functions"]) == {"api", "worker"}


def test_a_single_function_status_json_has_no_functions_key(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    project.run("deploy", "staging", check=0)
    _, body = project.run("status", "staging", check=0)
    assert "functions" not in body["environments"]["staging"]
    assert "function " not in text(project, "history")
