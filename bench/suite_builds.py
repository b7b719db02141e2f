"""Builds of bench/sample, each a whole process: ours (``lambda-promote build``) cold, with a
warm uv cache, unchanged and after a source-only change, against ``sam build`` (clean, and
``--cached`` unchanged / after a source change) and ``chalice package`` (cold / warm).

"Cold" means every package cache the tool uses is empty (uv's for us, pip's for SAM and
Chalice) and so is the tool's own build folder; "warm cache" keeps the package cache only.
Each run reports the zip's size and digest, so the report can say whether repeated builds
gave the same bytes. SAM builds a folder and zips it when it uploads: its zip is made here
with SAM's own ``make_zip_with_lambda_permissions`` (untimed), as ``sam deploy`` would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from bench.baselines import Installed
from bench.common import (
    RUNTIME,
    SAMPLE,
    Comparison,
    Section,
    Settings,
    child_env,
    copy_chalice_sample,
    copy_sample,
    scratch,
    set_revision,
    sha256_file,
    tree_digest,
)
from bench.harness import Case, Result, Run, failed, measure_interleaved

GROUP = "builds"
OURS_COLD = "lambda-promote build · cold"
OURS_WARM_UV = "lambda-promote build · clean store, warm uv cache"
OURS_UNCHANGED = "lambda-promote build · unchanged (cache hit)"
OURS_SOURCE = "lambda-promote build · after a source-only change"
UV_ALONE = "part of ours: uv pip install alone · empty uv cache"
SAM_COLD = "sam build · clean, empty pip cache"
SAM_WARM_PIP = "sam build · clean, warm pip cache"
SAM_UNCHANGED = "sam build --cached · unchanged"
SAM_SOURCE = "sam build --cached · after a source-only change"
CHALICE_COLD = "chalice package · cold"
CHALICE_WARM = "chalice package · warm (unchanged)"

COMPARISONS = [
    Comparison("cold build", SAM_COLD, OURS_COLD, goal=4.0),
    Comparison("clean build, warm package cache", SAM_WARM_PIP, OURS_WARM_UV),
    Comparison("unchanged rebuild", SAM_UNCHANGED, OURS_UNCHANGED, goal=5.0),
    Comparison("rebuild after a source change", SAM_SOURCE, OURS_SOURCE),
    Comparison("cold build", CHALICE_COLD, OURS_COLD),
    Comparison("unchanged rebuild", CHALICE_WARM, OURS_UNCHANGED),
]


def run(
    settings: Settings,
    *,
    lp: list[str],
    sam: Installed,
    chalice: Installed,
    log: Callable[[str], None],
) -> Section:
    section = Section("Builds of bench/sample")
    ours = _our_cases(lp)
    sams = _sam_cases(sam) if sam.ok else []
    chalices = _chalice_cases(chalice) if chalice.ok else []
    cases = [*ours, *sams, *chalices]
    if settings.quick:  # a smoke run: the warm-package-cache pair is the one left out
        cases = [(c, cold) for c, cold in cases if c.name not in (OURS_WARM_UV, SAM_WARM_PIP)]
    log(
        f"builds: {len(cases)} cases, timed runs interleaved: {', '.join(c.name for c, _ in cases)}"
    )
    section.results += measure_interleaved(
        [(case, 0 if cold and settings.quick else settings.warmup) for case, cold in cases],
        repeat=settings.repeat,
    )
    if not sam.ok:
        section.results += [failed(n, GROUP, f"SAM not installed: {sam.error}") for n in _SAM]
    if not chalice.ok:
        section.results += [
            failed(n, GROUP, f"Chalice not installed: {chalice.error}") for n in _CHALICE
        ]
    section.comparisons = COMPARISONS
    section.markdown = _identity_table(section.results)
    section.data["identical"] = {r.name: _identity(r) for r in section.results}
    section.notes += same_source_notes(section.results)
    section.notes += _sam_zip_note(section.result(SAM_SOURCE))
    section.notes.append(
        f"The sample's runtime is {RUNTIME} (the running interpreter): `sam build` without a "
        "container builds with the `pythonX.Y` on PATH matching the template's runtime."
    )
    return section


_SAM = (SAM_COLD, SAM_WARM_PIP, SAM_UNCHANGED, SAM_SOURCE)
_CHALICE = (CHALICE_COLD, CHALICE_WARM)


# --- ours ----------------------------------------------------------------------------------


def _our_inspect(_: Run, done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    artifact = json.loads(done.stdout)["artifact"]
    return {
        "zip_bytes": artifact["size"],
        "digest": artifact["digest"],
        "cached": artifact["cached"],
    }


def _our_cases(lp: list[str]) -> list[tuple[Case, bool]]:
    argv = [*lp, "build", "--json"]
    warm_uv = scratch("uv-warm")
    # One project each, so the cases can take turns without disturbing each other.
    kept, edited = copy_sample(scratch("ours-kept")), copy_sample(scratch("ours-edited"))
    kept_env = child_env(UV_CACHE_DIR=str(scratch("uv-kept")))

    def cold(_: int) -> Run:
        return Run(
            argv, copy_sample(scratch("ours-cold")), child_env(UV_CACHE_DIR=str(scratch("uv")))
        )

    def clean_store(_: int) -> Run:
        return Run(argv, copy_sample(scratch("ours-warm")), child_env(UV_CACHE_DIR=str(warm_uv)))

    def unchanged(_: int) -> Run:
        return Run(argv, kept, kept_env)

    def source_change(index: int) -> Run:
        set_revision(edited / "src" / "app.py", f"ours-{index}")
        return Run(argv, edited, kept_env)

    def case(name: str, prepare: Callable[[int], Run]) -> Case:
        return Case(name, GROUP, prepare, inspect=_our_inspect)

    return [
        (case(OURS_COLD, cold), True),
        (Case(UV_ALONE, GROUP, _uv_alone, note="the install step of a cold build, alone"), True),
        (case(OURS_WARM_UV, clean_store), False),
        (case(OURS_UNCHANGED, unchanged), False),
        (case(OURS_SOURCE, source_change), False),
    ]


def _uv_alone(_: int) -> Run:
    """What our cold build spends in uv: the same command the builder runs
    (lambda_promote.build.deps.UvInstaller), into an empty folder with an empty cache."""
    from lambda_promote.build.deps import find_uv, platform_tag, python_version

    folder = scratch("uv-alone")
    argv = [
        find_uv(), "pip", "install",
        "--target", str(folder / "target"),
        "--python-platform", platform_tag(RUNTIME, "x86_64"),
        "--python-version", python_version(RUNTIME),
        "--python", sys.executable,
        "--only-binary", ":all:", "--no-compile-bytecode", "--link-mode", "copy",
        "--no-progress", "--color", "never",
        "-r", str(SAMPLE / "src" / "requirements.txt"),
    ]  # fmt: skip
    return Run(argv, folder, child_env(UV_CACHE_DIR=str(folder / "uv-cache")))


# --- SAM -----------------------------------------------------------------------------------


def _sam_env(sam: Installed, **extra: str) -> dict[str, str]:
    # SAM's python workflow runs the `pythonX.Y` it finds on PATH: its own venv's first.
    assert sam.bin_dir is not None
    return child_env(PATH=f"{sam.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", **extra)


def _sam_inspect(
    sam: Installed,
) -> Callable[[Run, subprocess.CompletedProcess[str]], dict[str, Any]]:
    assert sam.bin_dir is not None
    python = str(sam.bin_dir / "python")
    code = (
        "import sys, time\n"
        "from samcli.lib.package import utils as u\n"
        "zipper = getattr(u, 'make_zip_with_lambda_permissions', u.make_zip)\n"
        "started = time.perf_counter()\n"
        "zipper(sys.argv[1], sys.argv[2])\n"
        "print(time.perf_counter() - started)\n"
    )

    def inspect(run: Run, _: subprocess.CompletedProcess[str]) -> dict[str, Any]:
        built = run.cwd / ".aws-sam" / "build" / "Function"
        tree, size = tree_digest(built)
        base = run.cwd / ".aws-sam" / "bench-function"
        argv = [python, "-c", code, str(base), str(built)]
        done = subprocess.run(argv, check=True, capture_output=True, text=True)
        zipped = base.with_suffix(".zip")
        facts = {
            "zip_bytes": zipped.stat().st_size,
            "digest": sha256_file(zipped),
            "zip_s": round(float(done.stdout.strip()), 4),
        }
        zipped.unlink()
        return {**facts, "content_digest": tree, "unzipped_bytes": size}

    return inspect


def _sam_cases(sam: Installed) -> list[tuple[Case, bool]]:
    build = [sam.command, "build", "--template-file", "template.yaml"]
    warm_pip = scratch("pip-warm")
    kept, edited = copy_sample(scratch("sam-kept")), copy_sample(scratch("sam-edited"))
    kept_env = _sam_env(sam, PIP_CACHE_DIR=str(scratch("pip-kept")))

    def cold(_: int) -> Run:
        env = _sam_env(sam, PIP_CACHE_DIR=str(scratch("pip")))
        return Run(build, copy_sample(scratch("sam-cold")), env)

    def clean(_: int) -> Run:
        env = _sam_env(sam, PIP_CACHE_DIR=str(warm_pip))
        return Run(build, copy_sample(scratch("sam-warm")), env)

    def unchanged(_: int) -> Run:
        return Run([*build, "--cached"], kept, kept_env)

    def source_change(index: int) -> Run:
        set_revision(edited / "src" / "app.py", f"sam-{index}")
        return Run([*build, "--cached"], edited, kept_env)

    inspect = _sam_inspect(sam)
    return [
        (Case(SAM_COLD, GROUP, cold, inspect=inspect), True),
        (Case(SAM_WARM_PIP, GROUP, clean, inspect=inspect), False),
        (Case(SAM_UNCHANGED, GROUP, unchanged, inspect=inspect), False),
        (Case(SAM_SOURCE, GROUP, source_change, inspect=inspect), False),
    ]


# --- Chalice -------------------------------------------------------------------------------


def _chalice_inspect(run: Run, _: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    zipped = run.cwd / "out" / "deployment.zip"
    return {"zip_bytes": zipped.stat().st_size, "digest": sha256_file(zipped)}


def _chalice_cases(chalice: Installed) -> list[tuple[Case, bool]]:
    package = [chalice.command, "package", "out"]
    kept = copy_chalice_sample(scratch("chalice-kept"))
    kept_env = child_env(PIP_CACHE_DIR=str(scratch("pip-chalice")), AWS_DEFAULT_REGION="us-east-1")

    def cold(_: int) -> Run:
        env = child_env(PIP_CACHE_DIR=str(scratch("pip")), AWS_DEFAULT_REGION="us-east-1")
        return Run(package, copy_chalice_sample(scratch("chalice-cold")), env)

    def warm(_: int) -> Run:
        shutil.rmtree(kept / "out", ignore_errors=True)
        return Run(package, kept, kept_env)

    return [
        (Case(CHALICE_COLD, GROUP, cold, inspect=_chalice_inspect), True),
        (Case(CHALICE_WARM, GROUP, warm, inspect=_chalice_inspect), False),
    ]


# --- same bytes? ---------------------------------------------------------------------------


def _identity(result: Result) -> bool | None:
    """Whether every timed run produced the same zip (None when it could not be told, or
    when the case changes the source on purpose)."""
    runs = result.facts.get("runs") or []
    digests = {r.get("digest") for r in runs if r.get("digest")}
    if not result.ok or len(runs) < 2 or "source" in result.name:
        return None
    return len(digests) == 1


def _identity_table(results: list[Result]) -> list[str]:
    lines = ["| build | zip bytes | repeated builds byte-identical |", "|---|---:|---|"]
    for r in results:
        if not r.ok or "zip_bytes" not in r.facts:
            continue
        same = _identity(r)
        shown = {True: "yes", False: "**no**", None: "n/a"}[same]
        size = r.facts.get("zip_bytes")
        lines.append(
            f"| {r.name} | {size:,} | {shown} |" if size else f"| {r.name} | ? | {shown} |"
        )
    return lines


def same_source_notes(results: list[Result]) -> list[str]:
    """Per tool: how many distinct zips its builds of the unchanged sample gave, over every
    way of building it (cold, warm cache, cached) — one means reproducible bytes."""
    notes = []
    for tool in ("lambda-promote build", "sam build", "chalice package"):
        runs = [
            run
            for r in results
            if r.ok and r.name.startswith(tool) and "source" not in r.name
            for run in r.facts.get("runs") or [r.facts]
        ]
        zips = {run["digest"] for run in runs if run.get("digest")}
        contents = {run["content_digest"] for run in runs if run.get("content_digest")}
        if not zips:
            continue
        text = (
            f"`{tool}`: {len(runs)} builds of the unchanged sample gave {len(zips)} distinct zip(s)"
        )
        if contents:
            text += f" from {len(contents)} distinct build folder content(s)"
        notes.append(text + ".")
    return notes


def _sam_zip_note(result: Result | None) -> list[str]:
    """SAM builds a folder and zips it only when it deploys; ours zips while building."""
    if result is None or not result.ok:
        return []
    times = sorted(run["zip_s"] for run in result.facts.get("runs", []) if "zip_s" in run)
    if not times:
        return []
    median = times[len(times) // 2]
    return [
        "`sam build` leaves a folder; `sam deploy` zips it later. Zipping it with SAM's own "
        f"code took {median * 1000:.0f} ms (median) more, not counted in SAM's times above; "
        "our times include the zip."
    ]
