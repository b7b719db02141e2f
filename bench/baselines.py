"""The tools users would pick instead of ours, installed by the benchmark itself: each baseline
gets its own virtual environment under ``bench/.venvs/`` (git-ignored), made with the running
interpreter's ``venv`` and filled by pip at a pinned version, so the comparison reruns the same
on any machine. A baseline that cannot be installed is reported with the reason, never fatal.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

VENVS = Path(__file__).resolve().parent / ".venvs"
INSTALL_TIMEOUT = 1200.0


@dataclass(frozen=True)
class Baseline:
    name: str  # the folder under bench/.venvs/ and the command it installs
    package: str
    version: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


SAM = Baseline("sam", "aws-sam-cli", "1.170.0")
CHALICE = Baseline("chalice", "chalice", "1.34.0")
ALL = (SAM, CHALICE)


@dataclass(frozen=True)
class Installed:
    """A baseline ready to run (``bin_dir`` set) or the reason it is not (``error``)."""

    baseline: Baseline
    bin_dir: Path | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.bin_dir is not None

    @property
    def command(self) -> str:
        assert self.bin_dir is not None, self.error
        return str(self.bin_dir / self.baseline.name)


def _stamp_text(baseline: Baseline) -> str:
    return f"{baseline.requirement} python{sys.version_info.major}.{sys.version_info.minor}\n"


def ensure(baseline: Baseline, *, venvs: Path = VENVS) -> Installed:
    """The baseline's venv, made and filled on first use (reused while its stamp matches)."""
    venv = venvs / baseline.name
    stamp = venv / ".bench-installed"
    bin_dir = venv / "bin"
    if stamp.is_file() and stamp.read_text() == _stamp_text(baseline):
        return Installed(baseline, bin_dir)
    shutil.rmtree(venv, ignore_errors=True)
    venvs.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", baseline.requirement],
    ]
    for argv in steps:
        error = _run_step(argv)
        if error is not None:
            return Installed(baseline, None, error=f"`{' '.join(argv[-3:])}` failed: {error}")
    if not (bin_dir / baseline.name).exists():
        return Installed(baseline, None, error=f"{baseline.requirement} installed no command")
    stamp.write_text(_stamp_text(baseline))
    return Installed(baseline, bin_dir)


def _run_step(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return " / ".join(tail) or f"exit code {done.returncode}"
    return None


if __name__ == "__main__":
    for each in ALL:
        got = ensure(each)
        print(each.requirement, "ok" if got.ok else got.error)
