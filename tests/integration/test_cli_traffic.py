"""Progressive traffic end to end (DESIGN §11.5) through the real CLI on the local target: a
canary walks 10 % → 100 % with checks on the new version; a bad version is caught at 10 %;
``abort`` and ``finish`` from a second process change a running shift within seconds;
SIGTERM rolls back (exit 3, ``interrupted``); a SIGKILL at each step of a shift is resolved by
the next command with the weight at 0."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from cli_project import Project, make_project, wait_for

STAGING = "    function_name: tiny-staging\n"


def shifting(root: Path, traffic: str) -> Project:
    return make_project(root, edits={STAGING: STAGING + f"    traffic: {traffic}\n"})


def alias_file(project: Project) -> dict[str, Any]:
    path = project.root / ".lambda-promote" / "local" / "tiny-staging" / "aliases" / "live.json"
    return json.loads(path.read_text())


def status(project: Project) -> dict[str, Any]:
    _, body = project.run("status", "staging", check=0)
    return body["environments"]["staging"]


def in_shift(project: Project) -> bool:
    flights = status(project)["in_flight"]
    return bool(flights) and flights[0]["traffic"] is not None


def finish(proc: Any) -> tuple[int, dict[str, Any], str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, json.loads(out), err


def test_a_canary_walks_10_then_100_with_checks_on_the_new_version(tmp_path: Path) -> None:
    project = shifting(tmp_path, "canary 10% 2s")
    _, first = project.run("deploy", "staging", check=0)
    assert first["deployment"]["traffic"] is None  # nothing live before: nothing to shift from
    project.release("r2")
    _, body = project.run("deploy", "staging", check=0)
    dep = body["deployment"]
    assert [s["percent"] for s in dep["traffic"]] == [10.0, 100.0]
    assert [s["ok"] for s in dep["traffic"]] == [True, True]
    by_number = [c for c in dep["checks"] if c["name"] == "ping" and "at 10%" in c["detail"]]
    assert len(by_number) == 1
    assert "(version 2 at 10%)" in by_number[0]["detail"]
    notes = [t["note"] for t in dep["transitions"]]
    assert "traffic 10% to tiny-staging version 2" in notes
    assert alias_file(project)["version"] == "2"
    assert alias_file(project).get("weights", {}) == {}


def test_a_broken_version_is_caught_at_10_percent_and_rolled_back(tmp_path: Path) -> None:
    project = shifting(tmp_path, "canary 10% 30s")
    project.run("deploy", "staging", check=0)
    project.release("r2", broken=True)
    started = time.monotonic()
    code, body = project.run("deploy", "staging")
    assert code == 3
    assert time.monotonic() - started < 25  # stopped at the step, not after the bake
    dep = body["error"] and body["deployment"]
    assert dep["state"] == "rolled_back"
    assert dep["traffic"][0]["ok"] is False
    assert "traffic stopped at 10%" in dep["error"]
    assert alias_file(project)["version"] == "1"
    assert alias_file(project).get("weights", {}) == {}


def test_abort_from_another_process_stops_a_running_shift(tmp_path: Path) -> None:
    project = shifting(tmp_path, "canary 10% 5m")
    project.run("deploy", "staging", check=0)
    project.release("r2")
    deploying = project.popen("deploy", "staging", user="bob")
    wait_for(lambda: in_shift(project))

    now = status(project)
    flight = now["in_flight"][0]
    assert flight["traffic"]["percent"] == 10.0
    assert flight["traffic"]["next_step_at"] is not None
    assert flight["started_by"] == "bob"
    assert now["weights"] == {"2": 0.1}

    asked = time.monotonic()
    _, answer = project.run("abort", "staging", "--reason", "error rate up", user="ana", check=0)
    assert answer["request"]["deployment_id"] == flight["id"]
    code, body, _ = finish(deploying)
    assert time.monotonic() - asked < 15
    assert code == 3
    dep = body["deployment"]
    assert dep["state"] == "rolled_back"
    assert "abort requested by ana: error rate up" in [t["note"] for t in dep["transitions"]]
    assert alias_file(project)["version"] == "1"
    assert alias_file(project).get("weights", {}) == {}
    _, audit = project.run("audit", check=0)
    aborts = [e for e in audit["events"] if e["action"] == "traffic.abort"]
    assert [(e["actor"], e["reason"]) for e in aborts] == [("ana", "error rate up")]


def test_finish_skips_the_remaining_bakes(tmp_path: Path) -> None:
    project = shifting(tmp_path, "linear 25% every 5m")
    project.run("deploy", "staging", check=0)
    project.release("r2")
    deploying = project.popen("deploy", "staging")
    wait_for(lambda: in_shift(project))
    project.run("finish", "staging", "--reason", "looks good", check=0)
    code, body, _ = finish(deploying)
    assert code == 0
    assert [s["percent"] for s in body["deployment"]["traffic"]] == [25.0, 50.0, 75.0, 100.0]


def test_abort_with_nothing_running_changes_nothing(tmp_path: Path) -> None:
    project = shifting(tmp_path, "canary 10% 5m")
    code, body = project.run("abort", "staging")
    assert code == 1
    assert body["error"]["code"] == "no_shift"
    code, body = project.run("abort", "production")
    assert code == 1
    assert "all at once" in body["error"]["message"]


def test_sigterm_during_a_bake_rolls_back_and_says_interrupted(tmp_path: Path) -> None:
    project = shifting(tmp_path, "canary 10% 5m")
    project.run("deploy", "staging", check=0)
    project.release("r2")
    deploying = project.popen("deploy", "staging")
    wait_for(lambda: in_shift(project))
    deploying.send_signal(signal.SIGTERM)
    code, body, _ = finish(deploying)
    assert code == 3
    assert body["error"]["code"] == "interrupted"
    assert alias_file(project)["version"] == "1"
    assert alias_file(project).get("weights", {}) == {}


@pytest.mark.parametrize(
    "crash_at",
    ["traffic-0-recorded", "traffic-0-weighted", "traffic-1-weighted", "traffic-full-recorded"],
)
def test_a_sigkill_at_each_step_is_resolved_by_the_next_command(
    tmp_path: Path, crash_at: str
) -> None:
    project = shifting(tmp_path, "linear 40% every 1s")
    project.run("deploy", "staging", check=0)
    project.release("r2")
    killed = project.popen("deploy", "staging", env={"LAMBDA_PROMOTE_CRASH_AT": crash_at})
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL
    left = alias_file(project)
    assert left["version"] == "1"
    if crash_at != "traffic-0-recorded":
        assert left["weights"]  # the process died with part of the traffic on version 2

    project.release("r3")
    _, body = project.run("deploy", "staging", check=0)  # the next command resolves it first
    _, history = project.run("history", "staging", check=0)
    interrupted = history["deployments"][1]
    expected = "failed" if crash_at == "traffic-0-recorded" else "rolled_back"
    assert interrupted["state"] == expected
    assert body["deployment"]["previous_version"] == "1"
    assert alias_file(project)["version"] == body["deployment"]["version"]
    assert alias_file(project).get("weights", {}) == {}
    assert os.environ.get("LAMBDA_PROMOTE_CRASH_AT") is None


RELEASE = """\
project: shop
target: local
functions:
  api: {source: api, handler: app.handler}
  worker: {source: worker, handler: app.handler}
environments:
  staging:
    function_names: {api: shop-api-staging, worker: shop-worker-staging}
    traffic: canary 20% 1s
    checks:
      - {name: ping, payload: {ping: true}, expect: {body: {ok: true}}, max_latency_ms: 20000}
"""


def release_project(root: Path, release: str, *, broken: str = "") -> Project:
    project = Project(root)
    (root / "promote.yaml").write_text(RELEASE)
    for name in ("api", "worker"):
        (root / name).mkdir(exist_ok=True)
        body = (
            'raise ValueError("broken")'
            if name == broken
            else f"return {{'ok': True}}  # {release}"
        )
        (root / name / "app.py").write_text(f"def handler(event, context):\n    {body}\n")
    return project


def weights_of(project: Project, function: str) -> dict[str, float]:
    path = project.root / ".lambda-promote" / "local" / function / "aliases" / "live.json"
    return dict(json.loads(path.read_text()).get("weights", {}))


def test_every_function_of_a_release_takes_each_step_and_a_bad_one_takes_all_back(
    tmp_path: Path,
) -> None:
    project = release_project(tmp_path, "r1")
    project.run("deploy", "staging", check=0)
    release_project(tmp_path, "r2")
    _, body = project.run("deploy", "staging", check=0)
    dep = body["deployment"]
    assert [s["percent"] for s in dep["traffic"]] == [20.0, 100.0]
    named = sorted(c["name"] for c in dep["checks"] if "at 20%" in c["detail"])
    assert named == ["api: ping", "worker: ping"]

    release_project(tmp_path, "r3", broken="worker")
    code, body = project.run("deploy", "staging")
    assert code == 3
    dep = body["deployment"]
    assert dep["traffic"][0]["ok"] is False
    assert {n: e["moved"] for n, e in dep["functions"].items()} == {"api": True, "worker": True}
    for function in ("shop-api-staging", "shop-worker-staging"):
        assert weights_of(project, function) == {}
