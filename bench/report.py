"""The results of one benchmark run as a JSON document (``latest.json``) and the readable
tables made from it (``latest.md``): machine, versions, the goals of issue 8, then one
section per suite with median/min/max per case and the ratio to each baseline measured in
the same run. The markdown is made from the document alone, so it can be re-rendered.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import Comparison, Section, Settings
from bench.harness import Result, ratio


def comparison_json(section: Section, comparison: Comparison) -> dict[str, Any]:
    slow, fast = section.result(comparison.baseline), section.result(comparison.ours)
    found = ratio(slow, fast)
    return {
        "label": comparison.label,
        "baseline": comparison.baseline,
        "ours": comparison.ours,
        "baseline_median_s": slow.median if slow else None,
        "ours_median_s": fast.median if fast else None,
        "speedup": None if found is None else round(found, 2),
        "goal": comparison.goal,
        "met": None if found is None or comparison.goal is None else found >= comparison.goal,
    }


def section_json(section: Section) -> dict[str, Any]:
    return {
        "title": section.title,
        "results": [r.to_json() for r in section.results],
        "comparisons": [comparison_json(section, c) for c in section.comparisons],
        "notes": section.notes,
        "markdown": section.markdown,
        "data": section.data,
    }


def document(
    *,
    settings: Settings,
    machine: dict[str, Any],
    versions: dict[str, str | None],
    sections: list[Section],
    goals: list[dict[str, Any]],
    elapsed_s: float,
) -> dict[str, Any]:
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {"repeat": settings.repeat, "warmup": settings.warmup, "quick": settings.quick},
        "elapsed_s": round(elapsed_s, 1),
        "machine": machine,
        "versions": versions,
        "goals": goals,
        "sections": [section_json(s) for s in sections],
    }


def goal(text: str, *, measured: str, met: bool | None, why: str = "") -> dict[str, Any]:
    return {"goal": text, "measured": measured, "met": met, "why": why}


def find_result(sections: list[Section], name: str) -> Result | None:
    for section in sections:
        found = section.result(name)
        if found is not None:
            return found
    return None


# --- markdown ------------------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _verdict(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "not measured"}[met]


def render(doc: dict[str, Any]) -> str:
    settings = doc["settings"]
    mode = "quick (smoke run)" if settings["quick"] else "full"
    lines = [
        "# lambda-promote benchmarks",
        "",
        f"{doc['generated_at']} · {mode}: {settings['repeat']} timed run(s) per case after "
        f"{settings['warmup']} warm-up(s) · the whole run took {doc['elapsed_s']:.0f} s. "
        "Every case is a whole process; times are wall-clock.",
        "",
        "## Machine and versions",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in doc["machine"].items()],
        *[f"| {k} | {v or 'not available'} |" for k, v in doc["versions"].items()],
        "",
        "## Goals (issue 8)",
        "",
        "| goal | measured | met | why |",
        "|---|---|---|---|",
        *[
            f"| {g['goal']} | {g['measured']} | {_verdict(g['met'])} | {g['why']} |"
            for g in doc["goals"]
        ],
    ]
    for section in doc["sections"]:
        lines += ["", *render_section(section)]
    return "\n".join(lines) + "\n"


def render_section(section: dict[str, Any]) -> list[str]:
    lines = [
        f"## {section['title']}",
        "",
        "| case | median | min | max | runs |",
        "|---|---:|---:|---:|---:|",
    ]
    failures = []
    for r in section["results"]:
        if r["ok"]:
            lines.append(
                f"| {r['name']} | {_seconds(r['median_s'])} | {_seconds(r['min_s'])} | "
                f"{_seconds(r['max_s'])} | {r['runs']} |"
            )
        else:
            lines.append(f"| {r['name']} | failed | | | {r['runs']} |")
            failures.append(f"- **{r['name']}** failed: {r['error']}")
    if section["comparisons"]:
        lines += [
            "",
            "| comparison | baseline | ours | speed-up (baseline ÷ ours) | goal |",
            "|---|---|---|---:|---|",
        ]
        for c in section["comparisons"]:
            speed = "—" if c["speedup"] is None else f"{c['speedup']:.2f}×"
            wanted = "" if c["goal"] is None else f"≥ {c['goal']:g}×: {_verdict(c['met'])}"
            lines.append(f"| {c['label']} | {c['baseline']} | {c['ours']} | {speed} | {wanted} |")
    if section["markdown"]:
        lines += ["", *section["markdown"]]
    if failures or section["notes"]:
        lines += ["", *failures, *[f"- {n}" for n in section["notes"]]]
    return lines


def write(doc: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    as_json, as_md = folder / "latest.json", folder / "latest.md"
    as_json.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    as_md.write_text(render(doc))
    return as_json, as_md
