"""Builds of a release of three functions (DESIGN §11.4), each a whole process: ours
(``lambda-promote build`` of one ``functions:`` project, the functions built concurrently)
cold and unchanged, side by side with the baseline a team had before — three single-function
projects built one after the other (three ``lambda-promote build`` processes in one shell).

Each function is bench/sample's source with its own REVISION, so the three zips differ; all
three install the sample's requirements. "Cold": an empty uv cache and an empty build folder,
shared by the three functions (as one project, or one machine running three builds, would);
"unchanged": the same project again, every function a cache hit.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    RUNTIME,
    SAMPLE,
    Comparison,
    Section,
    Settings,
    child_env,
    scratch,
    set_revision,
)
from bench.harness import Case, Run, measure_interleaved

GROUP = "release-build"
NAMES = ("api", "worker", "jobs")
RELEASE_COLD = "release of 3 functions · cold (one build, concurrent)"
RELEASE_UNCHANGED = "release of 3 functions · unchanged (cache hit)"
SEQUENTIAL_COLD = "3 single-function builds one after another · cold"
SEQUENTIAL_UNCHANGED = "3 single-function builds one after another · unchanged"

COMPARISONS = [
    Comparison("3 functions, cold", SEQUENTIAL_COLD, RELEASE_COLD),
    Comparison("3 functions, unchanged", SEQUENTIAL_UNCHANGED, RELEASE_UNCHANGED),
]


def run(settings: Settings, *, lp: list[str], log: Callable[[str], None]) -> Section:
    section = Section("A release of three functions: one build against three")
    cases = _cases(lp)
    log(f"release-build: {len(cases)} cases: {', '.join(c.name for c, _ in cases)}")
    section.results += measure_interleaved(
        [(case, 0 if cold and settings.quick else settings.warmup) for case, cold in cases],
        repeat=settings.repeat,
    )
    section.comparisons = COMPARISONS
    section.notes.append(
        f"Three copies of bench/sample's function ({RUNTIME}, its requirements installed by uv), "
        "each with its own REVISION; the sequential baseline runs three `lambda-promote build` "
        "processes in one `sh -c`, so each pays its own start-up as three projects would."
    )
    return section


def _function_source(dest: Path, name: str) -> None:
    shutil.copytree(SAMPLE / "src", dest / name, dirs_exist_ok=True)
    set_revision(dest / name / "app.py", name)


def release_project(dest: Path) -> Path:
    """One ``functions:`` project holding the three functions."""
    dest.mkdir(parents=True, exist_ok=True)
    lines = ["project: bench-release", "target: local", "functions:"]
    for name in NAMES:
        _function_source(dest, name)
        lines.append(
            f"  {name}: {{source: {name}, handler: app.handler, runtime: {RUNTIME}, "
            f"requirements: {name}/requirements.txt}}"
        )
    lines += ["environments:", "  staging:", "    function_names:"]
    lines += [f"      {name}: bench-{name}-staging" for name in NAMES]
    (dest / "promote.yaml").write_text("\n".join(lines) + "\n")
    return dest


def single_projects(dest: Path) -> list[Path]:
    """Three single-function projects, one per function, as before ``functions:``."""
    folders = []
    for name in NAMES:
        folder = dest / name
        folder.mkdir(parents=True, exist_ok=True)
        _function_source(folder, "src")
        set_revision(folder / "src" / "app.py", name)
        (folder / "promote.yaml").write_text(
            f"project: bench-{name}\ntarget: local\n"
            f"function: {{source: src, handler: app.handler, runtime: {RUNTIME}, "
            "requirements: src/requirements.txt}\n"
            f"environments:\n  staging: {{function_name: bench-{name}-staging}}\n"
        )
        folders.append(folder)
    return folders


def _sequential(lp: list[str], folders: list[Path]) -> list[str]:
    build = " ".join(shlex.quote(part) for part in [*lp, "build", "--json"])
    script = " && ".join(f"(cd {shlex.quote(str(f))} && {build})" for f in folders)
    return ["sh", "-c", script]


def _inspect(_: Run, done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The release's digest and whether every function was a cache hit."""
    release = json.loads(done.stdout)["release"]
    return {
        "digest": release["digest"],
        "cached": all(f["cached"] for f in release["functions"].values()),
    }


def _cases(lp: list[str]) -> list[tuple[Case, bool]]:
    argv = [*lp, "build", "--json"]
    kept_release = release_project(scratch("release-kept"))
    kept_singles = single_projects(scratch("singles-kept"))
    kept_env = child_env(UV_CACHE_DIR=str(scratch("uv-release-kept")))
    singles_env = child_env(UV_CACHE_DIR=str(scratch("uv-singles-kept")))

    def release_cold(_: int) -> Run:
        env = child_env(UV_CACHE_DIR=str(scratch("uv-release")))
        return Run(argv, release_project(scratch("release-cold")), env)

    def sequential_cold(_: int) -> Run:
        env = child_env(UV_CACHE_DIR=str(scratch("uv-singles")))
        folder = scratch("singles-cold")
        return Run(_sequential(lp, single_projects(folder)), folder, env)

    def release_unchanged(_: int) -> Run:
        return Run(argv, kept_release, kept_env)

    def sequential_unchanged(_: int) -> Run:
        return Run(_sequential(lp, kept_singles), kept_singles[0].parent, singles_env)

    return [
        (Case(RELEASE_COLD, GROUP, release_cold, inspect=_inspect), True),
        (Case(SEQUENTIAL_COLD, GROUP, sequential_cold), True),
        (Case(RELEASE_UNCHANGED, GROUP, release_unchanged, inspect=_inspect), False),
        (Case(SEQUENTIAL_UNCHANGED, GROUP, sequential_unchanged), False),
    ]
