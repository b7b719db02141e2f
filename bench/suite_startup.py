"""Start-up: how long a user waits for the quick commands (``--help``, ``validate``, ``status``
on the example project of ``init --example``) against ``sam build --help`` and
``chalice --help``; and what ``python -X importtime`` says our commands import, so heavy
libraries (boto3, SQLAlchemy, …) stay out of the commands that do not need them.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.baselines import Installed
from bench.common import Comparison, Section, Settings, child_env, lambda_promote, scratch
from bench.harness import Case, Run, failed, measure_interleaved

GROUP = "startup"
HELP = "lambda-promote --help"
VALIDATE = "lambda-promote validate"
STATUS = "lambda-promote status"
STATUS_NEW = "lambda-promote status · first command, new ledger"
SAM_HELP = "sam build --help"
CHALICE_HELP = "chalice --help"
BUILD_CACHED = "lambda-promote build (cache hit)"
HEAVY = ("boto3", "botocore", "sqlalchemy", "alembic", "pydantic", "rich", "yaml", "requests")
TOP = 8


def run(
    settings: Settings,
    *,
    sam: Installed,
    chalice: Installed,
    log: Callable[[str], None],
) -> Section:
    section = Section("Start-up")
    example = _example_project()
    repeat = max(settings.repeat * 2, 3)  # cheap and noisy: twice the runs
    ours = [HELP, VALIDATE, STATUS]
    cases = [_case(n, [*lambda_promote(), *n.split()[1:]], example) for n in ours]
    cases.append(_new_ledger_case(example))
    for name, tool in ((SAM_HELP, sam), (CHALICE_HELP, chalice)):
        if tool.ok:
            cases.append(_case(name, [tool.command, *name.split()[1:]], example))
        else:
            section.results.append(failed(name, GROUP, f"not installed: {tool.error}"))
    log(f"startup: {len(cases)} cases, timed runs interleaved")
    section.results[:0] = measure_interleaved([(c, 1) for c in cases], repeat=repeat)
    section.comparisons = [
        Comparison("--help", SAM_HELP, HELP),
        Comparison("--help", CHALICE_HELP, HELP),
    ]
    profiles = {n: import_profile([n.split()[1]], cwd=example, runs=repeat) for n in ours}
    # A cache hit does almost nothing but start: its imports are most of its time.
    _run([*lambda_promote(), "build"], example)
    profiles[BUILD_CACHED] = import_profile(["build"], cwd=example, runs=repeat)
    section.data["importtime"] = {n: p.to_json() for n, p in profiles.items()}
    section.markdown = _importtime_table(profiles)
    return section


def _case(name: str, argv: list[str], cwd: Path) -> Case:
    env = child_env()
    return Case(name, GROUP, lambda _: Run(argv, cwd, env))


def _new_ledger_case(example: Path) -> Case:
    """``status`` as the first command of a project: it creates the ledger (migrations)."""
    argv, env = [*lambda_promote(), "status"], child_env()

    def prepare(_: int) -> Run:
        folder = scratch("new-ledger")
        shutil.copy2(example / "promote.yaml", folder / "promote.yaml")
        return Run(argv, folder, env)

    return Case(STATUS_NEW, GROUP, prepare)


def _example_project() -> Path:
    folder = scratch("example")
    _run([*lambda_promote(), "init", "--example"], folder)
    return folder


def _run(argv: list[str], cwd: Path) -> None:
    subprocess.run(argv, cwd=cwd, env=child_env(), check=True, capture_output=True)


# --- python -X importtime ------------------------------------------------------------------


@dataclass(frozen=True)
class Imported:
    name: str
    self_us: int
    cumulative_us: int
    depth: int


def parse_importtime(text: str) -> list[Imported]:
    """The lines of ``-X importtime`` (``import time: self | cumulative | name``)."""
    found = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3:
            continue
        raw_name = fields[2].rstrip()
        name = raw_name.lstrip()
        depth = (len(raw_name) - len(name) - 1) // 2
        found.append(Imported(name, int(fields[0]), int(fields[1]), max(depth, 0)))
    return found


@dataclass(frozen=True)
class ImportProfile:
    total_ms: float  # median over runs of the sum of every module's own time
    modules: int
    heavy: list[str]
    top: list[Imported]  # slowest top-level imports (cumulative) of the last run

    def to_json(self) -> dict[str, Any]:
        return {
            "total_ms": round(self.total_ms, 1),
            "modules": self.modules,
            "heavy_loaded": self.heavy,
            "top": [
                {"name": i.name, "cumulative_ms": round(i.cumulative_us / 1000, 1)}
                for i in self.top
            ],
        }


def summarise(runs: list[list[Imported]]) -> ImportProfile:
    totals = [sum(i.self_us for i in imports) / 1000 for imports in runs]
    last = runs[-1]
    loaded = {i.name.split(".")[0] for i in last}
    top = sorted((i for i in last if i.depth == 0), key=lambda i: -i.cumulative_us)[:TOP]
    return ImportProfile(
        total_ms=statistics.median(totals),
        modules=len(last),
        heavy=[h for h in HEAVY if h in loaded],
        top=top,
    )


def import_profile(
    args: list[str], *, cwd: Path, runs: int, env: dict[str, str] | None = None
) -> ImportProfile:
    argv = [sys.executable, "-X", "importtime", "-m", "lambda_promote", *args]
    parsed = []
    for _ in range(runs):
        done = subprocess.run(
            argv, cwd=cwd, env=env or child_env(), capture_output=True, text=True, check=False
        )
        parsed.append(parse_importtime(done.stderr))
    return summarise(parsed)


def _importtime_table(profiles: dict[str, ImportProfile]) -> list[str]:
    lines = [
        "`python -X importtime -m lambda_promote …` (median of the runs; the sum of every "
        "module's own import time):",
        "",
        "| command | imports (ms) | modules | heavy libraries loaded | slowest top-level imports |",
        "|---|---:|---:|---|---|",
    ]
    for name, p in profiles.items():
        top = ", ".join(f"{i.name} {i.cumulative_us / 1000:.0f} ms" for i in p.top[:5])
        heavy = ", ".join(p.heavy) or "none"
        lines.append(f"| {name} | {p.total_ms:.0f} | {p.modules} | {heavy} | {top} |")
    return lines
