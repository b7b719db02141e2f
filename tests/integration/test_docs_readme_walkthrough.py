"""README's "first ten minutes", run as written (in a temporary folder instead of
/tmp/orders, with the project's own lambda-promote on PATH): every line must succeed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    section = text[text.index("## The first ten minutes") :]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    lines = [ln for ln in walkthrough().splitlines() if not ln.startswith(". .venv/")]
    script = "set -euo pipefail\n" + "\n".join(lines).replace("/tmp/orders", str(tmp_path / "o"))
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_"))}
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "NO_COLOR": "1",
            "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
            "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com",
        }
    )  # fmt: skip
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "audit trail intact" in done.stderr
