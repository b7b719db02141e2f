"""Many functions, one release (DESIGN §11.4) on the local target, through the real CLI in a
child process: a concurrent build whose unchanged rebuild is a cache hit without the schema;
a deploy that moves every function, and a broken worker that takes the API back with it (a
function that never moved is left alone); a crash between two functions' alias moves
resolved by the next command; production receiving exactly the staging digests; a manual
rollback of the whole release; and the plan listing each function's steps."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli_project import Project

CONFIG = """\
project: shop
target: local
functions:
  api: {source: api, handler: app.handler}
  worker: {source: worker, handler: app.handler}
  jobs: {source: jobs, handler: app.handler}
environments:
  staging:
    function_names: {api: shop-api-staging, worker: shop-worker-staging, jobs: shop-jobs-staging}
    checks:
      - name: ping
        payload: {ping: true}
        expect: {body: {ok: true}}
        max_latency_ms: 20000
  production:
    function_names: {api: shop-api-prod, worker: shop-worker-prod, jobs: shop-jobs-prod}
    promote_from: staging
    checks:
      - name: ping
        payload: {ping: true}
        expect: {body: {ok: true}}
        max_latency_ms: 20000
  eu:
    function_names: {api: shop-api-eu, worker: shop-worker-eu, jobs: shop-jobs-eu}
    promote_from: staging
    approval: {reviewers: [lead], prevent_self_review: true}
    functions:
      worker: {memory_mb: 1024}
"""
NAMES = ("api", "worker", "jobs")
HEAVY_PROBE = """\
import json, sys
from lambda_promote.cli import main
sys.argv = ["lambda-promote", *sys.argv[1:]]
try:
    main()
finally:
    heavy = {"pydantic", "yaml", "sqlalchemy", "boto3"}
    print("LOADED " + json.dumps(sorted({m.split(".")[0] for m in sys.modules} & heavy)),
          file=sys.stderr)
"""


def write(project: Project, name: str, release: str, *, broken: bool = False) -> None:
    body = 'raise ValueError("broken")' if broken else f"return {{'ok': True, 'r': {release!r}}}"
    (project.root / name / "app.py").write_text(f"def handler(event, context):\n    {body}\n")


@pytest.fixture
def shop(tmp_path: Path) -> Project:
    project = Project(tmp_path)
    (tmp_path / "promote.yaml").write_text(CONFIG)
    for name in NAMES:
        (tmp_path / name).mkdir()
        write(project, name, "r1")
    return project


def aliases(project: Project, env: str) -> dict[str, str | None]:
    """Where each function's alias points, read from the local target's files."""
    found = {}
    for name in NAMES:
        path = project.root / ".lambda-promote" / "local" / f"shop-{name}-{env}" / "aliases"
        alias = path / "live.json"
        found[name] = json.loads(alias.read_text())["version"] if alias.exists() else None
    return found


def test_build_deploy_promote_and_a_broken_worker_takes_the_api_back(shop: Project):
    _, built = shop.run("build", check=0)
    release = built["release"]
    assert set(release["functions"]) == set(NAMES)
    assert "artifact" not in built  # many functions: the release, not one artifact
    lines = "".join(f"{n} {release['functions'][n]['digest']}\n" for n in sorted(NAMES))
    assert release["digest"] == hashlib.sha256(lines.encode()).hexdigest()

    _, first = shop.run("deploy", "staging", check=0)
    dep = first["deployment"]
    assert dep["digest"] == release["digest"]
    assert {n: f["version"] for n, f in dep["functions"].items()} == dict.fromkeys(NAMES, "1")
    assert {c["name"] for c in dep["checks"]} == {f"{n}: ping" for n in NAMES}
    assert aliases(shop, "staging") == dict.fromkeys(NAMES, "1")

    # Production receives exactly the release that succeeded in staging.
    _, promoted = shop.run("deploy", "production", check=0)
    assert promoted["deployment"]["digest"] == release["digest"]
    assert {n: f["digest"] for n, f in promoted["deployment"]["functions"].items()} == {
        n: f["digest"] for n, f in release["functions"].items()
    }

    # A new API with a broken worker; jobs unchanged (already live: its alias never moves).
    write(shop, "api", "r2")
    write(shop, "worker", "r2", broken=True)
    _, failed = shop.run("deploy", "staging", check=3)
    dep = failed["deployment"]
    assert dep["state"] == "rolled_back"
    assert dep["rollback"]["verified"] is True
    assert {n: f["moved"] for n, f in dep["functions"].items()} == {
        "api": True,
        "worker": True,
        "jobs": False,
    }
    assert "left alone: jobs" in dep["rollback"]["note"]
    assert aliases(shop, "staging") == dict.fromkeys(NAMES, "1")


def test_approval_and_promotion_work_on_the_release_digest(shop: Project):
    _, staged = shop.run("deploy", "staging", check=0)
    release = staged["deployment"]["digest"]
    _, blocked = shop.run("deploy", "eu", check=5)  # no approval yet
    assert blocked["error"]["code"].startswith("approval_")
    _, asked = shop.run("request-approval", "eu", check=0)
    request = asked["approval_request"]
    assert request["digest"] == release
    (evidence,) = shop.sql("select evidence from approval_requests where id = ?", request["id"])
    functions = json.loads(str(evidence[0]))["functions"]
    assert set(functions) == set(NAMES)
    assert functions["worker"]["configuration"]["settings"] == ["memory 1024 MB"]
    assert functions["api"]["live_version"] is None
    shop.run("approve", request["id"], "--env", "eu", user="lead", check=0)

    _, promoted = shop.run("deploy", "eu", check=0)
    dep = promoted["deployment"]
    assert dep["digest"] == release
    assert {n: f["digest"] for n, f in dep["functions"].items()} == {
        n: f["digest"] for n, f in staged["deployment"]["functions"].items()
    }
    _, again = shop.run("deploy", "eu", check=5)  # the approval was consumed by that one
    assert again["error"]["code"].startswith("approval_")


def test_a_crash_between_two_alias_moves_is_rolled_back_by_the_next_command(shop: Project):
    shop.run("deploy", "staging", check=0)
    for name in NAMES:
        write(shop, name, "r2")
    proc = shop.popen("deploy", "staging", env={"LAMBDA_PROMOTE_CRASH_AT": "shift:api"})
    proc.communicate(timeout=180)
    assert proc.returncode == -9  # killed right after the api's alias moved
    assert aliases(shop, "staging") == {"api": "2", "worker": "1", "jobs": "1"}
    rows = shop.sql("select state from deployments order by seq desc limit 1")
    assert rows == [("shifting",)]

    _, rolled = shop.run("rollback", "staging", check=0)  # the next command, whichever
    dep = rolled["deployment"]
    assert dep["state"] == "rolled_back"
    assert dep["rollback"]["verified"] is True
    assert "moved back: api" in dep["rollback"]["note"]
    assert aliases(shop, "staging") == dict.fromkeys(NAMES, "1")


def test_manual_rollback_moves_every_function_to_the_release_before(shop: Project):
    _, first = shop.run("deploy", "staging", check=0)
    for name in ("api", "worker"):
        write(shop, name, "r2")
    _, second = shop.run("deploy", "staging", check=0)
    assert aliases(shop, "staging") == {"api": "2", "worker": "2", "jobs": "1"}

    _, planned = shop.run("rollback", "staging", "--dry-run", check=0)
    shifts = [s for s in planned["plan"]["steps"] if s["action"] == "shift"]
    assert [s["function"] for s in shifts] == ["api", "worker"]  # jobs stays where it is
    _, back = shop.run("rollback", "staging", "--reason", "r2 is slow", check=0)
    dep = back["deployment"]
    assert (dep["kind"], dep["state"]) == ("rollback", "succeeded")
    assert dep["digest"] == first["deployment"]["digest"]
    assert dep["previous_digest"] == second["deployment"]["digest"]
    assert dep["rollback"]["verified"] is True
    assert aliases(shop, "staging") == dict.fromkeys(NAMES, "1")


def test_the_plan_lists_each_function_s_publish_shift_and_checks(shop: Project):
    _, planned = shop.run("deploy", "staging", "--dry-run", check=0)
    steps = planned["plan"]["steps"]
    by_action: dict[str, list[str]] = {}
    for step in steps:
        by_action.setdefault(step["action"], []).append(step.get("function"))
    assert by_action["publish"] == list(NAMES)
    assert by_action["shift"] == list(NAMES)
    assert by_action["check"] == list(NAMES)
    actions = [s["action"] for s in steps]
    assert actions.index("shift") > max(i for i, a in enumerate(actions) if a == "publish")
    assert not (shop.root / ".lambda-promote" / "state.db").exists()  # nothing written


def test_an_unchanged_build_of_three_functions_is_a_cache_hit_without_the_schema(shop: Project):
    shop.run("build", check=0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    proc = subprocess.run(
        [sys.executable, "-c", HEAVY_PROBE, "build", "--json"],
        check=False,
        cwd=shop.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    body: dict[str, Any] = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    assert all(f["cached"] for f in body["release"]["functions"].values())
    loaded = next(line for line in proc.stderr.splitlines() if line.startswith("LOADED "))
    assert json.loads(loaded.removeprefix("LOADED ")) == []

    write(shop, "jobs", "r2")  # one function changed: a new release, the others reused
    _, rebuilt = shop.run("build", check=0)
    functions = rebuilt["release"]["functions"]
    assert (functions["api"]["cached"], functions["jobs"]["cached"]) == (True, False)
    assert rebuilt["release"]["digest"] != body["release"]["digest"]


def test_promotion_carries_each_function_s_verified_configuration(shop: Project):
    config = shop.root / "promote.yaml"
    config.write_text(CONFIG.replace("{source: worker,", "{source: worker, memory_mb: 256,"))
    shop.run("deploy", "staging", check=0)
    # Changed after staging verified the release: production still gets what staging verified.
    config.write_text(CONFIG.replace("{source: worker,", "{source: worker, memory_mb: 512,"))
    _, promoted = shop.run("deploy", "production", check=0)
    (row,) = shop.sql(
        "select functions from deployments where id = ?", promoted["deployment"]["id"]
    )
    functions = json.loads(str(row[0]))
    assert functions["worker"]["configuration"]["memory_mb"] == 256
    assert functions["worker"]["release_configuration"]["memory_mb"] == 256
