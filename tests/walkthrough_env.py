"""The environment a documented walk-through runs in (README's first ten minutes, an
example's README): this checkout's lambda-promote first on PATH, no CI or AWS settings, no
colour, a fixed git identity for the commits the walk-through makes."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def walkthrough_env() -> dict[str, str]:
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
    return env
