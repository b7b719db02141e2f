"""An unchanged ``build`` is answered from the last build's stamp without loading the schema
(build/stamp.py) — and only when that answer is exactly what the full path would give.

Each test runs the real CLI in a child process, which also reports the heavy modules it
loaded: pydantic and PyYAML loaded means the full path (load, validate, build) ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lambda_promote.build.plan import BuildPlan

CONFIG = """\
project: stamped
target: local
function:
  source: src
  handler: app.handler
  runtime: python3.12
environments:
  staging:
    function_name: stamped-staging
"""

APP = "def handler(event, context):\n    return {'ok': True}\n"

# Runs the CLI in this process and prints, after its output, the heavy modules it loaded.
RUN_CLI = """\
import json, sys
from lambda_promote.cli import main
sys.argv = ["lambda-promote", *sys.argv[1:]]
try:
    main()
finally:
    heavy = {"pydantic", "yaml", "sqlalchemy", "boto3"}
    loaded = sorted({m.split(".")[0] for m in sys.modules} & heavy)
    print("LOADED " + json.dumps(loaded), file=sys.stderr)
"""


def project(root: Path, config: str = CONFIG) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text(APP)
    (root / "promote.yaml").write_text(config)
    return root


def build(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], set[str]]:
    """The build's JSON body and the heavy modules the process loaded."""
    full_env = {**os.environ, "NO_COLOR": "1", "LAMBDA_PROMOTE_USER": "alice", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-c", RUN_CLI, "build", "--json", *args],
        cwd=root, env=full_env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    loaded_line = proc.stderr.strip().splitlines()[-1]
    assert loaded_line.startswith("LOADED "), proc.stderr
    loaded = set(json.loads(loaded_line.removeprefix("LOADED ")))
    return json.loads(proc.stdout), loaded


def stamps(root: Path) -> list[Path]:
    return sorted((root / ".lambda-promote" / "cache" / "stamps").glob("*.json"))


def test_an_unchanged_build_loads_no_schema_and_answers_like_the_full_path(
    tmp_path: Path,
) -> None:
    root = project(tmp_path)
    first, first_loaded = build(root)
    assert first["artifact"]["cached"] is False
    assert {"pydantic", "yaml"} <= first_loaded
    assert len(stamps(root)) == 1

    fast, fast_loaded = build(root)
    assert fast_loaded == set()
    assert fast["ok"] is True
    assert fast["artifact"]["cached"] is True

    for stamp in stamps(root):
        stamp.unlink()
    full, full_loaded = build(root)
    assert "pydantic" in full_loaded
    assert full == fast  # the same answer, byte for byte, whichever path gave it


def test_any_change_to_promote_yaml_takes_the_full_path(tmp_path: Path) -> None:
    root = project(tmp_path)
    built, _ = build(root)
    (root / "promote.yaml").write_text(CONFIG + "# a comment changes no setting\n")
    again, loaded = build(root)
    assert "pydantic" in loaded
    assert again["artifact"] == {**built["artifact"], "cached": True}
    _, loaded = build(root)  # the new bytes are remembered
    assert loaded == set()


def test_a_config_error_is_reported_even_when_the_sources_are_unchanged(tmp_path: Path) -> None:
    root = project(tmp_path)
    build(root)
    (root / "promote.yaml").write_text(CONFIG.replace("runtime: python3.12", "runtime: python2"))
    body, _ = build(root)
    assert body["exit_code"] == 2
    assert "promote.yaml:6" in body["error"]["message"]


def test_a_source_change_builds_a_new_artifact_and_moves_the_stamp(tmp_path: Path) -> None:
    root = project(tmp_path)
    first, _ = build(root)
    (root / "src" / "app.py").write_text(APP + "# release 2\n")
    second, loaded = build(root)
    assert "pydantic" in loaded
    assert second["artifact"]["cached"] is False
    assert second["artifact"]["digest"] != first["artifact"]["digest"]
    third, loaded = build(root)
    assert loaded == set()
    assert third["artifact"]["digest"] == second["artifact"]["digest"]


def test_a_deleted_or_tampered_artifact_is_built_again(tmp_path: Path) -> None:
    root = project(tmp_path)
    first, _ = build(root)
    zip_path = Path(first["artifact"]["path"])
    zip_path.write_bytes(b"not the zip that was built")
    again, loaded = build(root)
    assert "pydantic" in loaded
    assert again["artifact"]["cached"] is False
    assert again["artifact"]["digest"] == first["artifact"]["digest"]  # deterministic bytes
    zip_path.unlink()
    again, _ = build(root)
    assert again["artifact"]["cached"] is False
    assert zip_path.is_file()


def test_a_damaged_or_foreign_stamp_is_ignored(tmp_path: Path) -> None:
    root = project(tmp_path)
    first, _ = build(root)
    (stamp,) = stamps(root)
    document = json.loads(stamp.read_text())

    stamp.write_text("{not json")
    body, loaded = build(root)
    assert "pydantic" in loaded
    assert body["artifact"] == first["artifact"] | {"cached": True}

    for field, value in [("version", "0.0.0-other"), ("format", 999), ("plan", {"source": 1})]:
        stamp.write_text(json.dumps({**document, field: value}))
        body, loaded = build(root)
        assert "pydantic" in loaded, field
        assert body["artifact"]["digest"] == first["artifact"]["digest"]


def test_each_config_file_has_its_own_stamp(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "src2").mkdir()
    (root / "src2" / "app.py").write_text(APP + "# the other function\n")
    (root / "other.yaml").write_text(CONFIG.replace("source: src", "source: src2"))
    a, _ = build(root)
    b, _ = build(root, "--config", "other.yaml")
    assert len(stamps(root)) == 2
    assert a["artifact"]["digest"] != b["artifact"]["digest"]
    again_a, loaded_a = build(root)
    again_b, loaded_b = build(root, "--config", "other.yaml")
    assert loaded_a == loaded_b == set()
    assert again_a["artifact"]["digest"] == a["artifact"]["digest"]
    assert again_b["artifact"]["digest"] == b["artifact"]["digest"]


def test_a_named_secret_is_redacted_on_the_fast_path_too(tmp_path: Path) -> None:
    # NOTIFY_TARGET is not named like a secret, and 4 characters are below the length at which
    # unnamed variables are guessed to be secrets: only promote.yaml naming it makes it one.
    config = CONFIG + "notifications:\n  webhook:\n    url_env: NOTIFY_TARGET\n"
    root = project(tmp_path / "zq7k-project", config)
    env = {"NOTIFY_TARGET": "zq7k"}
    full, _ = build(root, env=env)
    fast, loaded = build(root, env=env)
    assert loaded == set()
    for body in (full, fast):
        assert "zq7k" not in json.dumps(body)
        assert "$NOTIFY_TARGET-project" in body["artifact"]["path"]


def test_a_plan_survives_its_json_form(tmp_path: Path) -> None:
    plan = BuildPlan(
        config_path=tmp_path / "promote.yaml", source="src", handler="app.handler",
        exclude=("tests/**",), requirements=None, runtime="python3.12",
        architecture="arm64", artifacts="s3://bucket/prefix", state="sqlite:///x.db",
        secret_names=("HOOK",),
    )  # fmt: skip
    assert BuildPlan.from_json(json.loads(json.dumps(plan.to_json()))) == plan
