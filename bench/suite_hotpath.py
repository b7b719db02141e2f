"""The hot path: what a team runs most, against what it would run without us, in one run.

    ours                                   baseline                      goal (ours ÷ baseline)
    lambda-promote deploy staging          raw_boto3.py deploy           ≤ 1.5
    lambda-promote rollback staging        raw_boto3.py rollback         ≤ 2.0  (one update_alias)
    lambda-promote status                  chalice --help                ≤ 1.0
      (the project of init --example, deployed once: its ledger exists)

Whole processes, no checks, against moto's server behind the counting proxy of ``aws_world``
(the same set-up as ``suite_aws``), every case taking turns with the others so that other work
on the machine falls on all of them alike. A deploy alternates between two artifacts, so each
run uploads and publishes; a rollback (ours or the script's) follows an untimed deploy.

Besides the times, the suite records what each of our processes does: API calls per
operation (the proxy), and what it imports (``python -X importtime``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.aws_world import MotoWorld, aws_env, summary
from bench.baselines import Installed
from bench.common import BENCH, Section, Settings, child_env, copy_sample, lambda_promote, scratch
from bench.harness import Case, CaseFailed, Result, Run, failed, measure_interleaved
from bench.suite_aws import ALIAS, _aws_project, _create_functions, _two_artifacts
from bench.suite_startup import import_profile

GROUP = "hotpath"
RAW_DEPLOY = "boto3 script · deploy"
RAW_ROLLBACK = "boto3 script · one update_alias"
CHALICE_HELP = "chalice --help"
LP_DEPLOY = "lambda-promote deploy staging"
LP_ROLLBACK = "lambda-promote rollback staging"
LP_STATUS = "lambda-promote status (init --example, deployed once; local target)"
LP_STATUS_AWS = "lambda-promote status (aws target, 2 environments)"

# (label, ours, baseline, at most this many times the baseline's median)
GOALS: list[tuple[str, str, str, float]] = [
    ("`deploy` ≤ 1.5× the bare script's deploy", LP_DEPLOY, RAW_DEPLOY, 1.5),
    ("`rollback` ≤ 2× the bare script's single `update_alias`", LP_ROLLBACK, RAW_ROLLBACK, 2.0),
    ("`status` ≤ 1.0× `chalice --help`", LP_STATUS, CHALICE_HELP, 1.0),
]


def run(settings: Settings, *, chalice: Installed, log: Callable[[str], None]) -> Section:
    section = Section("Hot path: deploy, rollback and status against the bare tools")
    folder = scratch("hotpath")
    world = MotoWorld(folder)
    lp = lambda_promote()
    try:
        world.wait_ready()
        env = child_env(**aws_env(world.url, folder))
        # A function each for deploys and for rollbacks (whose untimed deploys would otherwise
        # leave the next timed deploy's code in place), for the script and for us.
        _create_functions(world, env, ["hraw", "hrawb", "hp", "hpb"])
        zips = _two_artifacts(copy_sample(folder / "zips"), lp)
        project = _aws_project(folder / "hp", "hp", checks="[]", lp=lp)
        rollbacks = _aws_project(folder / "hpb", "hpb", checks="[]", lp=lp)
        example = _example(folder / "example", lp)
        _first_deploys(env, lp=lp, raw_zip=zips[0], rollbacks=rollbacks)
        cases = _cases(world, env, lp=lp, zips=zips, projects=(project, rollbacks), example=example)
        if chalice.ok:
            cases.append(
                Case(CHALICE_HELP, GROUP, lambda _: Run([chalice.command, "--help"], BENCH))
            )
        else:
            section.results.append(failed(CHALICE_HELP, GROUP, f"not installed: {chalice.error}"))
        log(f"hotpath: {len(cases)} cases taking turns")
        repeat = max(settings.repeat * 2, 3)  # short processes: twice the runs
        section.results[:0] = measure_interleaved([(c, 1) for c in cases], repeat=repeat)
        section.data["importtime"] = _imports(project, example, env, runs=max(settings.repeat, 3))
        section.data["trace"] = _traces(project, rollbacks, example, env)
    finally:
        world.close()
    section.data["hotpath_goals"] = goal_figures(section)
    section.markdown = [*goal_table(section.data["hotpath_goals"]), "", *_calls(section.results)]
    section.markdown += ["", *_import_table(section.data["importtime"])]
    section.markdown += ["", *_trace_table(section.data["trace"])]
    return section


def _example(folder: Path, lp: list[str]) -> Path:
    folder.mkdir(parents=True)
    subprocess.run(
        [*lp, "init", "--example"], cwd=folder, env=child_env(), check=True, capture_output=True
    )
    # A project in use: its ledger and the snapshot of its promote.yaml exist.
    for command in (["deploy", "staging"], ["status"]):
        subprocess.run(
            [*lp, *command], cwd=folder, env=child_env(), check=True, capture_output=True
        )
    return folder


def _first_deploys(
    env: dict[str, str], *, lp: list[str], raw_zip: Path, rollbacks: tuple[Path, list[str]]
) -> None:
    """A first version on the functions that are rolled back, so that every timed rollback
    has an earlier good version to go to."""
    folder, digests = rollbacks
    script = [sys.executable, str(BENCH / "raw_boto3.py")]
    for argv, cwd in (
        ([*script, "deploy", "hrawb-staging", ALIAS, str(raw_zip)], BENCH),
        ([*lp, "deploy", "staging", "--artifact", digests[0]], folder),
    ):
        subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)


def _cases(
    world: MotoWorld,
    env: dict[str, str],
    *,
    lp: list[str],
    zips: list[Path],
    projects: tuple[tuple[Path, list[str]], tuple[Path, list[str]]],
    example: Path,
) -> list[Case]:
    (folder, digests), (rollback_folder, _) = projects
    script = [sys.executable, str(BENCH / "raw_boto3.py")]

    def untimed(argv: list[str], cwd: Path) -> str:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = " / ".join((done.stderr.strip() or done.stdout.strip()).splitlines()[-4:])
            raise CaseFailed(f"set-up `{' '.join(argv[1:4])}` exited {done.returncode}: {tail}")
        return done.stdout

    def raw_deploy(index: int, function: str = "hraw-staging") -> list[str]:
        return [*script, "deploy", function, ALIAS, str(zips[index % 2])]

    def ours_deploy(index: int) -> list[str]:
        # Both projects build the same two sources, so their digests are the same.
        return [*lp, "deploy", "staging", "--artifact", digests[index % 2], "--json"]

    def raw_rollback(index: int) -> Run:
        version = untimed(raw_deploy(index + 1, "hrawb-staging"), BENCH).strip()
        argv = [*script, "rollback", "hrawb-staging", ALIAS, str(int(version) - 1)]
        return Run(argv, BENCH, env)

    def ours_rollback(index: int) -> Run:
        untimed(ours_deploy(index + 1), rollback_folder)
        return Run([*lp, "rollback", "staging", "--json"], rollback_folder, env)

    counted = _Counted(world)
    return [
        counted.case(RAW_DEPLOY, lambda i: Run(raw_deploy(i), BENCH, env)),
        counted.case(LP_DEPLOY, lambda i: Run(ours_deploy(i), folder, env)),
        counted.case(RAW_ROLLBACK, raw_rollback),
        counted.case(LP_ROLLBACK, ours_rollback),
        counted.case(LP_STATUS_AWS, lambda _: Run([*lp, "status", "--json"], folder, env)),
        Case(LP_STATUS, GROUP, lambda _: Run([*lp, "status"], example, child_env())),
    ]


class _Counted:
    """Cases whose API calls the proxy counts: marked after the untimed set-up."""

    def __init__(self, world: MotoWorld) -> None:
        self.world = world

    def case(self, name: str, prepare: Callable[[int], Run]) -> Case:
        marks: list[int] = []

        def marked(index: int) -> Run:
            run = prepare(index)
            marks.append(self.world.log.mark())
            return run

        def inspect(_: Run, done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
            return summary(self.world.log.since(marks[-1]))

        return Case(name, GROUP, marked, inspect=inspect)


def goal_figures(section: Section) -> list[dict[str, Any]]:
    found = []
    for label, ours_name, base_name, most in GOALS:
        ours, base = section.result(ours_name), section.result(base_name)
        times = ratio_of(ours, base)
        found.append(
            {
                "goal": label,
                "ours": ours_name,
                "baseline": base_name,
                "ours_median_s": ours.median if ours and ours.ok else None,
                "baseline_median_s": base.median if base and base.ok else None,
                "times": None if times is None else round(times, 2),
                "at_most": most,
                "met": None if times is None else times <= most,
            }
        )
    return found


def ratio_of(ours: Result | None, baseline: Result | None) -> float | None:
    """Ours ÷ baseline (medians): how many times the baseline's time ours takes."""
    if ours is None or baseline is None or not ours.ok or not baseline.ok:
        return None
    if ours.median is None or not baseline.median:
        return None
    return ours.median / baseline.median


def goal_table(goals: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| goal | ours | baseline | ours ÷ baseline | met |",
        "|---|---:|---:|---:|---|",
    ]
    for g in goals:
        times = "—" if g["times"] is None else f"{g['times']:.2f}×"
        met = {True: "yes", False: "**no**", None: "not measured"}[g["met"]]
        lines.append(
            f"| {g['goal']} | {_ms(g['ours_median_s'])} | {_ms(g['baseline_median_s'])} | "
            f"{times} | {met} |"
        )
    return lines


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.0f} ms"


def _calls(results: list[Result]) -> list[str]:
    lines = ["| process | API calls | calls by operation |", "|---|---:|---|"]
    for r in results:
        if r.ok and "api_calls" in r.facts:
            ops = ", ".join(f"{op} {n}" for op, n in r.facts.get("by_operation", {}).items())
            lines.append(f"| {r.name} | {r.facts['api_calls']} | {ops} |")
    return lines


def _imports(
    project: tuple[Path, list[str]], example: Path, env: dict[str, str], *, runs: int
) -> dict[str, Any]:
    """What each of our hot-path processes imports (``python -X importtime``)."""
    folder, digests = project
    profiles = {
        LP_STATUS: import_profile(["status"], cwd=example, runs=runs),
        LP_DEPLOY: import_profile(
            ["deploy", "staging", "--artifact", digests[0]], cwd=folder, runs=1, env=env
        ),
        LP_ROLLBACK: import_profile(["rollback", "staging"], cwd=folder, runs=1, env=env),
    }
    return {name: profile.to_json() for name, profile in profiles.items()}


def _import_table(profiles: dict[str, Any]) -> list[str]:
    lines = [
        "`python -X importtime` of our processes (the sum of every module's own import time):",
        "",
        "| process | imports (ms) | modules | heavy libraries loaded |",
        "|---|---:|---:|---|",
    ]
    for name, p in profiles.items():
        heavy = ", ".join(p["heavy_loaded"]) or "none"
        lines.append(f"| {name} | {p['total_ms']:.0f} | {p['modules']} | {heavy} |")
    return lines


def _traces(
    project: tuple[Path, list[str]],
    rollbacks: tuple[Path, list[str]],
    example: Path,
    env: dict[str, str],
) -> dict[str, Any]:
    """What each of our processes does, counted by ``bench/trace.py`` (one untimed run)."""
    folder, digests = project

    def trace(args: list[str], cwd: Path, run_env: dict[str, str]) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, str(BENCH / "trace.py"), *args],
            cwd=cwd,
            env=run_env,
            capture_output=True,
            text=True,
            check=False,
        )
        lines = [x for x in done.stderr.splitlines() if x.startswith("TRACE ")]
        return json.loads(lines[-1].removeprefix("TRACE ")) if lines else {"error": done.stderr}

    deploys = [trace(["deploy", "staging", "--artifact", d], folder, env) for d in digests]
    uploading = [d for d in deploys if d.get("api_by_operation", {}).get("UpdateFunctionCode")]
    rollback_folder, rollback_digests = rollbacks
    for digest in rollback_digests:
        trace(["deploy", "staging", "--artifact", digest], rollback_folder, env)
    return {
        LP_DEPLOY: (uploading or deploys)[-1],
        LP_ROLLBACK: trace(["rollback", "staging"], rollback_folder, env),
        LP_STATUS: trace(["status"], example, child_env()),
        LP_STATUS_AWS: trace(["status"], folder, env),
    }


def _trace_table(traces: dict[str, Any]) -> list[str]:
    lines = [
        "Counted in one untimed run of each (`bench/trace.py`): ledger statements and write "
        "transactions (each one commit), AWS API calls.",
        "",
        "| process | SQL statements | write transactions | API calls | heavy libraries loaded |",
        "|---|---:|---:|---:|---|",
    ]
    for name, t in traces.items():
        heavy = ", ".join(t.get("heavy_loaded", [])) or "none"
        lines.append(
            f"| {name} | {t.get('sql_statements', '—')} | {t.get('sql_write_transactions', '—')} "
            f"| {t.get('api_calls', '—')} | {heavy} |"
        )
    return lines
