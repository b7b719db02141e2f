"""The generated workflows pass the two linters DESIGN §10 names, run as real processes:
actionlint reports no error, and zizmor (offline; regular, pedantic, auditor) no finding,
on every golden workflow and on the example project's committed workflow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "orders-api" / ".github" / "workflows" / "promote.yml"
WORKFLOWS = [*sorted((ROOT / "tests" / "golden" / "workflows").glob("*.yml")), EXAMPLE]
IDS = ["example" if p == EXAMPLE else p.stem for p in WORKFLOWS]


def tool(name: str) -> str:
    """The linter installed with the dev extras (beside this Python), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is not installed: `pip install -e '.[dev]'` brings it"
    return found


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_golden_workflows_are_all_there() -> None:
    assert len(WORKFLOWS) >= 5


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=IDS)
def test_actionlint_reports_no_error(workflow: Path) -> None:
    done = run(tool("actionlint"), "-no-color", str(workflow), cwd=workflow.parent)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("persona", ["regular", "pedantic", "auditor"])
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=IDS)
def test_zizmor_reports_no_finding(workflow: Path, persona: str, tmp_path: Path) -> None:
    # zizmor names what it audits by path; a copy keeps the repository's own config out.
    copy = tmp_path / ".github" / "workflows" / "promote.yml"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(workflow.read_bytes())
    done = run(
        tool("zizmor"),
        "--offline",
        "--no-progress",
        f"--persona={persona}",
        str(copy),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr
