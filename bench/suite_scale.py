"""Scale on the local target: how one real ``deploy`` process (and ``status``) grows with the
ledger's history (10, 100, 1,000 past deployments, seeded through the ledger's API), how the
ledger file grows, and how ``deploy`` grows with the number of checks (1, 5, 20).

Each timed deploy alternates between two prebuilt artifacts, so every run moves the alias.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    RUNTIME,
    Section,
    Settings,
    child_env,
    lambda_promote,
    scratch,
    set_revision,
)
from bench.harness import Case, Result, Run, measure_interleaved
from bench.seed import seed_deployments

GROUP = "scale"
HISTORY_SIZES = (10, 100, 1000)
QUICK_HISTORY_SIZES = (10, 100)
CHECK_COUNTS = (1, 5, 20)

CONFIG = """\
project: bench-scale
target: local
state: sqlite:///.lambda-promote/state.db
artifacts: .lambda-promote/artifacts
function:
  source: src
  handler: app.handler
  runtime: {runtime}
environments:
  staging:
    function_name: bench-scale-staging
    checks:
{checks}
"""
CHECK = (
    "      - {{name: ping-{n}, payload: {{action: ping}}, expect: {{body: {{ok: true}}}}, "
    "max_latency_ms: 30000}}"
)
APP = """\
REVISION = "r0"


def handler(event, context):
    return {"ok": True, "revision": REVISION}
"""


def checks_case(count: int) -> str:
    return f"deploy · {count} check{'' if count == 1 else 's'}"


def scale_project(folder: Path, *, checks: int) -> tuple[Path, list[str]]:
    """A tiny function on the local target with ``checks`` checks, and two artifacts built."""
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "app.py").write_text(APP)
    lines = "\n".join(CHECK.format(n=n) for n in range(checks)) if checks else "      []"
    (folder / "promote.yaml").write_text(CONFIG.format(runtime=RUNTIME, checks=lines))
    digests = []
    for revision in ("a", "b"):
        set_revision(folder / "src" / "app.py", revision)
        digests.append(_build(folder))
    return folder, digests


def _build(folder: Path) -> str:
    import json

    done = subprocess.run(
        [*lambda_promote(), "build", "--json"],
        cwd=folder,
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(done.stdout)["artifact"]["digest"])


def deploy_case(name: str, folder: Path, digests: list[str]) -> Case:
    env = child_env()

    def prepare(index: int) -> Run:
        digest = digests[index % 2]
        return Run(
            [*lambda_promote(), "deploy", "staging", "--artifact", digest, "--json"], folder, env
        )

    return Case(name, GROUP, prepare, inspect=_ledger_facts)


def _ledger_facts(run: Run, _: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return {"ledger_bytes": ledger_bytes(run.cwd)}


def ledger_bytes(folder: Path) -> int:
    state = folder / ".lambda-promote"
    return sum(p.stat().st_size for p in state.glob("state.db*"))


def run(settings: Settings, *, log: Callable[[str], None]) -> Section:
    section = Section("Scale (local target)")
    sizes = QUICK_HISTORY_SIZES if settings.quick else HISTORY_SIZES
    cases, seeded_bytes = _history_cases(sizes, log)
    for count in CHECK_COUNTS:
        folder, digests = scale_project(scratch(f"checks-{count}"), checks=count)
        cases.append(deploy_case(checks_case(count), folder, digests))
    log(f"scale: {len(cases)} cases, timed runs interleaved")
    section.results += measure_interleaved(
        [(case, settings.warmup) for case in cases], repeat=settings.repeat
    )
    for size in sizes:
        deploy = section.result(f"deploy · history {size}")
        if deploy is not None:
            deploy.facts.update(seeded_ledger_bytes=seeded_bytes[size], history=size)
    section.markdown, section.data["growth"], notes = growth_tables(section.results, sizes)
    section.notes += notes
    return section


def _history_cases(
    sizes: tuple[int, ...], log: Callable[[str], None]
) -> tuple[list[Case], dict[int, int]]:
    """A project per history size, its ledger seeded with that many past deployments (one
    seeding run grows a master copy: 10, then 90 more, then 900 more)."""
    cases: list[Case] = []
    seeded_bytes: dict[int, int] = {}
    master = scratch("seed") / "state.db"
    seeded = 0
    for size in sizes:
        log(f"scale: seeding {size} past deployments")
        seed_deployments(master, start=seeded, count=size - seeded)
        seeded = size
        folder = scratch(f"history-{size}")
        (folder / ".lambda-promote").mkdir()
        shutil.copy2(master, folder / ".lambda-promote" / "state.db")
        folder, digests = scale_project(folder, checks=1)
        seeded_bytes[size] = ledger_bytes(folder)
        cases.append(deploy_case(f"deploy · history {size}", folder, digests))
        cases.append(Case(f"status · history {size}", GROUP, _status_run(folder)))
    return cases, seeded_bytes


def _status_run(folder: Path) -> Callable[[int], Run]:
    argv, env = [*lambda_promote(), "status", "--json"], child_env()
    return lambda _: Run(argv, folder, env)


def growth_tables(
    results: list[Result], sizes: tuple[int, ...]
) -> tuple[list[str], dict[str, Any], list[str]]:
    """Per-size medians and ledger sizes; then what each step up in size cost per added past
    deployment (time and bytes). A later step costing much more per deployment than an
    earlier one is growth worse than linear, said in the notes."""
    by_name = {r.name: r for r in results}
    ledger = {
        s: by_name[f"deploy · history {s}"].facts.get("seeded_ledger_bytes")
        for s in sizes
        if f"deploy · history {s}" in by_name
    }
    data: dict[str, Any] = {
        kind: marginal_costs([(s, by_name.get(f"{kind} · history {s}")) for s in sizes])
        for kind in ("deploy", "status")
    }
    data["ledger_bytes"] = ledger
    data["deploy_per_check"] = marginal_costs(
        [(n, by_name.get(checks_case(n))) for n in CHECK_COUNTS]
    )
    lines = [
        "| past deployments | deploy median | status median | ledger file after seeding |",
        "|---:|---:|---:|---:|",
        *[
            f"| {s:,} | {_median(by_name.get(f'deploy · history {s}'))} | "
            f"{_median(by_name.get(f'status · history {s}'))} | {ledger.get(s) or 0:,} bytes |"
            for s in sizes
        ],
        "",
        "| step | deploy (ms per added deployment) | status (ms per added deployment) "
        "| ledger (bytes per added deployment) |",
        "|---|---:|---:|---:|",
    ]
    for step_d, step_s in zip(data["deploy"], data["status"], strict=False):
        small, large = step_d["from"], step_d["to"]
        lines.append(
            f"| {small:,} → {large:,} | {step_d['ms_per_deployment']:.3f} | "
            f"{step_s['ms_per_deployment']:.3f} | {_bytes_step(ledger, small, large)} |"
        )
    return lines, data, _growth_notes(data)


def _growth_notes(data: dict[str, Any]) -> list[str]:
    notes = []
    for kind in ("deploy", "status"):
        verdict = "**worse than linear**" if superlinear(data[kind]) else "linear or better"
        notes.append(
            f"`{kind}` time against history: {verdict} (judged on the fastest runs, allowing "
            "50 ms of noise per step)."
        )
    per_check = ", ".join(
        f"{s['from']} → {s['to']}: {s['ms_per_deployment']:.0f} ms per added check"
        for s in data["deploy_per_check"]
    )
    if per_check:
        notes.append(f"`deploy` time against checks (run concurrently): {per_check}.")
    return notes


def _bytes_step(sizes: dict[int, int | None], small: int, large: int) -> str:
    a, b = sizes.get(small), sizes.get(large)
    return "?" if a is None or b is None else f"{(b - a) / (large - small):,.0f}"


def marginal_costs(points: list[tuple[int, Result | None]]) -> list[dict[str, Any]]:
    """Milliseconds each extra past deployment (or check) added between consecutive sizes,
    from the medians and from the fastest runs (the fastest are the least disturbed by other
    work on the machine, so the verdict below uses them)."""
    steps = []
    for (small, a), (large, b) in itertools.pairwise(points):
        if a is None or b is None or not a.ok or not b.ok:
            continue
        assert a.median is not None and a.min is not None  # noqa: PT018 (ok implies both)
        assert b.median is not None and b.min is not None  # noqa: PT018
        span = large - small
        steps.append(
            {
                "from": small,
                "to": large,
                "ms_per_deployment": round((b.median - a.median) * 1000 / span, 4),
                "fastest_ms_per_deployment": round((b.min - a.min) * 1000 / span, 4),
            }
        )
    return steps


def superlinear(
    steps: list[dict[str, Any]], *, factor: float = 2.0, noise_ms: float = 50.0
) -> bool:
    """Whether a later step costs more than ``factor`` times an earlier one per deployment.
    An earlier step over a small span is known only to within ``noise_ms`` (whole processes
    on a shared machine), so that much is granted to it before comparing: only growth well
    beyond the noise is called worse than linear."""
    for i, earlier in enumerate(steps):
        span = earlier["to"] - earlier["from"]
        bound = factor * (max(earlier["fastest_ms_per_deployment"], 0.0) + noise_ms / span)
        if any(later["fastest_ms_per_deployment"] > bound for later in steps[i + 1 :]):
            return True
    return False


def _median(result: Result | None) -> str:
    if result is None or not result.ok or result.median is None:
        return "failed"
    return f"{result.median * 1000:.0f} ms"
