"""What every benchmark suite shares: where things are, the environment each timed process
gets, scratch folders, copies of the sample project, and how a suite hands back its section
of the report."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import Result

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SAMPLE = BENCH / "sample"
SCRATCH = BENCH / ".work"
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class Settings:
    """How hard to measure: ``repeat`` timed runs after ``warmup`` untimed ones."""

    repeat: int = 5
    warmup: int = 1
    quick: bool = False


@dataclass(frozen=True)
class Comparison:
    """``baseline`` (slower is expected) against ``ours``; ``goal`` is the speed-up asked for."""

    label: str
    baseline: str
    ours: str
    goal: float | None = None


@dataclass
class Section:
    """One suite's part of the report."""

    title: str
    results: list[Result] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    markdown: list[str] = field(default_factory=list)  # extra tables of the suite
    data: dict[str, Any] = field(default_factory=dict)  # extra JSON of the suite

    def result(self, name: str) -> Result | None:
        return next((r for r in self.results if r.name == name), None)


def lambda_promote() -> list[str]:
    """Our CLI as a user runs it: the console script of this virtualenv."""
    script = Path(sys.executable).parent / "lambda-promote"
    return [str(script)] if script.exists() else [sys.executable, "-m", "lambda_promote"]


# Each case sets its own package caches; index settings (UV_INDEX_URL, …) are kept.
_CACHES = frozenset({"UV_CACHE_DIR", "UV_NO_CACHE", "PIP_CACHE_DIR", "PIP_NO_CACHE_DIR"})


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a timed process: no CI or AWS settings leak in, no colour, no
    telemetry, a fixed acting user."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "AWS_", "LAMBDA_PROMOTE_")) and k not in _CACHES
    }
    env.update(
        NO_COLOR="1",
        LAMBDA_PROMOTE_USER="bench",
        SAM_CLI_TELEMETRY="0",
    )
    env.update(extra)
    return env


def scratch(prefix: str) -> Path:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=SCRATCH))


def with_runtime(text: str) -> str:
    """The sample's files name python3.11; the benchmark uses the running interpreter's."""
    return re.sub(r"python3\.\d+", RUNTIME, text)


def copy_sample(dest: Path) -> Path:
    """A fresh copy of bench/sample (source, promote.yaml, template.yaml) at ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(SAMPLE / "src", dest / "src", dirs_exist_ok=True)
    for name in ("promote.yaml", "template.yaml"):
        (dest / name).write_text(with_runtime((SAMPLE / name).read_text()))
    return dest


def copy_chalice_sample(dest: Path) -> Path:
    """The same handler and requirements laid out as a Chalice project."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(SAMPLE / "chalice", dest, dirs_exist_ok=True)
    (dest / "chalicelib").mkdir(exist_ok=True)
    (dest / "chalicelib" / "__init__.py").write_text("")
    shutil.copy2(SAMPLE / "src" / "app.py", dest / "chalicelib" / "sample.py")
    shutil.copy2(SAMPLE / "src" / "requirements.txt", dest / "requirements.txt")
    return dest


def set_revision(source_file: Path, revision: str) -> None:
    """The source-only change: the sample's REVISION line."""
    text = source_file.read_text()
    source_file.write_text(re.sub(r'REVISION = "[^"]*"', f'REVISION = "{revision}"', text))


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_digest(folder: Path) -> tuple[str, int]:
    """sha256 over every file's relative path and bytes, and the bytes in all: whether two
    build folders hold the same content, whatever their timestamps."""
    digest = hashlib.sha256()
    total = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        total += len(data)
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest(), total


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
