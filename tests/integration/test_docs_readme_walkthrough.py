"""README's "first ten minutes", run as written (in a temporary folder instead of
/tmp/orders, with the project's own lambda-promote on PATH): every line must succeed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from walkthrough_env import walkthrough_env

README = Path(__file__).parents[2] / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    section = text[text.index("## The first ten minutes") :]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    lines = [ln for ln in walkthrough().splitlines() if not ln.startswith(". .venv/")]
    script = "set -euo pipefail\n" + "\n".join(lines).replace("/tmp/orders", str(tmp_path / "o"))
    env = walkthrough_env()
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "audit trail intact" in done.stderr
