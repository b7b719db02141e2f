"""examples/orders-with-worker/README.md, run as written (in a temporary folder instead of
/tmp/orders-with-worker, with the project's own lambda-promote on PATH): a two-function release
goes staging → approval → production and back with one command each, and a broken worker
keeps the API on its previous version too (DESIGN §11.4). The ledger and the emulator's
aliases are then read to check what the README says happened."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from walkthrough_env import walkthrough_env

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "orders-with-worker"


def walkthrough() -> str:
    text = (EXAMPLE / "README.md").read_text()
    return re.search(r"```sh\n(.*?)```", text, re.S).group(1)  # type: ignore[union-attr]


def environ() -> dict[str, str]:
    env = walkthrough_env()
    env.pop("LAMBDA_PROMOTE_USER", None)
    return env


def cli(folder: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "lambda_promote", *args, "--json"], cwd=folder, env=environ(),
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_the_example_readme_runs_as_written(tmp_path: Path) -> None:
    folder = tmp_path / "o"
    script = "set -euo pipefail\n" + walkthrough().replace("/tmp/orders-with-worker", str(folder))
    done = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=environ(), capture_output=True, text=True,
        timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    history = cli(folder, "history")["deployments"]  # newest first
    broken, *_ = [d for d in history if d["env"] == "staging"]
    assert broken["state"] == "rolled_back"
    assert broken["functions"]["api"]["moved"] is True  # the API had moved: it went back
    staging = cli(folder, "status", "staging")["environments"]["staging"]
    assert {n: f["version"] for n, f in staging["functions"].items()} == {
        n: f["previous_version"] for n, f in broken["functions"].items()
    }
    assert staging["functions"]["api"]["version"] == "2"  # release 2, not the broken 3
    assert staging["digest"] != broken["digest"]

    manual = next(d for d in history if d["env"] == "production" and d["kind"] == "rollback")
    assert manual["state"] == "succeeded"
    production = cli(folder, "status", "production")["environments"]["production"]
    assert {n: f["version"] for n, f in production["functions"].items()} == {
        "api": "1",
        "worker": "1",
    }
    first = history[-1]  # release 1 in staging: production carries exactly its digest
    assert (first["env"], first["state"]) == ("staging", "succeeded")
    assert production["digest"] == first["digest"]
    assert all(f["drift"] is None for f in production["functions"].values())
