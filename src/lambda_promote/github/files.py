"""The files ``lambda-promote github workflow`` keeps in a repository, and ``--check``:

    .github/workflows/promote.yml   the workflow (``workflow.py``), pins as Dependabot left them
    .github/lambda-promote.lock     what every job installs, pinned by hash (``install.py``)
    .github/dependabot.yml          written once when absent: keeps the action pins current

``--check`` reads nothing from the network: the workflow must be exactly what promote.yaml
gives, and the lock must carry the fingerprint of the inputs promote.yaml asks for, with a
hash on every requirement. Writing resolves the lock only when it is missing or stale (or
``--relock``), so regenerating does not drift the pinned dependencies by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambda_promote.config.schema import Config
from lambda_promote.errors import PromoteError
from lambda_promote.github import install
from lambda_promote.github.workflow import WorkflowFile, workflow_file

DEPENDABOT_PATH = Path(".github/dependabot.yml")
DEPENDABOT = """\
# Written by `lambda-promote github workflow` when the repository had none. Dependabot opens a
# pull request when an action pinned in .github/workflows/promote.yml has a new release; it
# moves the full commit SHA and its release comment, which regenerating the workflow keeps.
version: 2
updates:
  - package-ecosystem: github-actions
    directory: /
    schedule:
      interval: weekly
    groups:
      actions:
        patterns: ["*"]
"""
_LOCK_HINTS = {
    "missing": "run `lambda-promote github workflow` (it resolves the lock) and commit it",
    "stale": "promote.yaml or lambda-promote asks for another tool, Python or dependency set: "
    "run `lambda-promote github workflow` and commit the new lock",
    "unhashed": "the lock was edited by hand: run `lambda-promote github workflow --relock`",
}


def lock_path(config: Config) -> Path:
    return config.root / install.LOCK_PATH


def check_files(config: Config, output: Path | None) -> dict[str, Any]:
    """The ``--check`` answer; ``PromoteError`` (exit 1) naming what is stale and the fix."""
    wf = workflow_file(config, output)
    source = install.tool_source(config)
    state = install.lock_state(lock_path(config), source)
    data = _data(wf, lock_state=state, config=config)
    if not wf.current:
        raise PromoteError(
            f"{wf.path} is not what promote.yaml generates",
            hint="run `lambda-promote github workflow` and commit the result",
            code="workflow_out_of_date",
            payload=data,
        )
    if state != "current":
        raise PromoteError(
            f"{lock_path(config)} is {state} for {source.label} on Python {source.python}",
            hint=_LOCK_HINTS[state],
            code="workflow_out_of_date",
            payload=data,
        )
    return data


def write_files(
    config: Config,
    output: Path | None,
    *,
    relock: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Write what is missing or stale; the answer says what was written."""
    wf = workflow_file(config, output)
    source = install.tool_source(config)
    lock = lock_path(config)
    state = install.lock_state(lock, source)
    lock_written = relock or state != "current"
    if lock_written:
        progress(f"resolving {source.label} for Python {source.python} with uv (package index)")
        text = install.compile_lock(source)
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.write_text(text, encoding="utf-8")
    if not wf.current:
        wf.path.parent.mkdir(parents=True, exist_ok=True)
        wf.path.write_text(wf.text, encoding="utf-8")
    dependabot = config.root / DEPENDABOT_PATH
    dependabot_written = not dependabot.exists()
    if dependabot_written:
        dependabot.write_text(DEPENDABOT, encoding="utf-8")
    data = _data(wf, lock_state="current", config=config)
    data["workflow"]["written"] = not wf.current
    data["lock"]["written"] = lock_written
    data["dependabot"]["written"] = dependabot_written
    return data


def _data(wf: WorkflowFile, *, lock_state: str, config: Config) -> dict[str, Any]:
    source = install.tool_source(config)
    return {
        "workflow": {"path": str(wf.path), "current": wf.current, "written": False},
        "lock": {
            "path": str(lock_path(config)),
            "current": lock_state == "current",
            "state": lock_state,
            "tool": source.label,
            "python": source.python,
            "written": False,
        },
        "dependabot": {"path": str(config.root / DEPENDABOT_PATH), "written": False},
    }
