"""Progressive traffic on the local target (DESIGN §11.5): what a two-step canary costs over
its bake. The same project deploys alternately two prebuilt artifacts, once with
``traffic: all-at-once`` and once with ``traffic: canary 10% 2s``; the canary's overhead is
its median minus the all-at-once median minus the 2 s bake — the recorded step, the weighted
alias, the checks on the new version, the alarm and request polls and the 100 % step's
record. Goal: under 1 s.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.common import RUNTIME, Section, Settings, scratch, set_revision
from bench.harness import Case, measure_interleaved
from bench.suite_scale import _build, deploy_case

BAKE_SECONDS = 2
GOAL_SECONDS = 1.0
CONFIG = """\
project: bench-traffic
target: local
state: sqlite:///.lambda-promote/state.db
artifacts: .lambda-promote/artifacts
function:
  source: src
  handler: app.handler
  runtime: {runtime}
environments:
  staging:
    function_name: bench-traffic-staging
    traffic: {traffic}
    checks:
      - name: ping
        payload: {{action: ping}}
        expect: {{body: {{ok: true}}}}
        max_latency_ms: 30000
"""
APP = 'REVISION = "r0"\n\n\ndef handler(event, context):\n    return {"ok": True}\n'
CASES = {"all-at-once": "deploy · all-at-once", f"canary 10% {BAKE_SECONDS}s": "deploy · canary"}


def project(folder: Path, traffic: str) -> tuple[Path, list[str]]:
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "app.py").write_text(APP)
    (folder / "promote.yaml").write_text(CONFIG.format(runtime=RUNTIME, traffic=traffic))
    digests = []
    for revision in ("a", "b"):
        set_revision(folder / "src" / "app.py", revision)
        digests.append(_build(folder))
    return folder, digests


def run(settings: Settings, *, log: Callable[[str], None]) -> Section:
    section = Section("Progressive traffic (local target)")
    cases: list[Case] = []
    for traffic, name in CASES.items():
        folder, digests = project(scratch(name.split(" · ")[1]), traffic)
        cases.append(deploy_case(name, folder, digests))
    log("traffic: all-at-once and a two-step canary, timed runs interleaved")
    section.results += measure_interleaved(
        [(case, settings.warmup) for case in cases], repeat=settings.repeat
    )
    plain, canary = (section.result(name) for name in CASES.values())
    if plain and canary and plain.median is not None and canary.median is not None:
        overhead = canary.median - plain.median - BAKE_SECONDS
        section.data["canary_overhead_s"] = round(overhead, 3)
        verdict = "meets" if overhead < GOAL_SECONDS else "misses"
        section.notes.append(
            f"a two-step canary (canary 10% {BAKE_SECONDS}s) costs {overhead:.2f} s over its "
            f"{BAKE_SECONDS} s bake ({verdict} the goal of < {GOAL_SECONDS:.0f} s)"
        )
    return section
