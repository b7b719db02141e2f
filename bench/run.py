"""``make bench``: every benchmark of issue 8 in one run, with the baselines installed by the
run itself, results in bench/results/latest.md (printed at the end) and latest.json.

    python bench/run.py [--quick] [--repeat N]
        [--only builds,release-build,startup,deploy,scale,hotpath,ledger,traffic,serve]

Suites: builds (ours against ``sam build`` and ``chalice package``), release-build (a
release of three functions against three single-function builds), startup (``--help``,
``validate``, ``status``, importtime), deploy (moto's server: raw boto3 against our deploy,
promotion and rollback, with API calls and bytes counted), scale (history and checks),
hotpath (deploy, rollback and status against the bare script and ``chalice --help``, taking
turns in one run, with the goals of the release plan), ledger (status, deploy and rollback with
a SQLite ledger against a DynamoDB one on moto's server, with DynamoDB's round trips),
traffic (a two-step canary's cost over its bake), serve (the dashboard's pages and API
over a ledger of 10,000 deployments).
"""

from __future__ import annotations

import argparse
import compileall
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import baselines, machine, report
from bench.common import SCRATCH, Section, Settings, lambda_promote
from bench.harness import ratio

SUITES = (
    "builds",
    "release-build",
    "startup",
    "deploy",
    "scale",
    "hotpath",
    "ledger",
    "traffic",
    "serve",
)
RESULTS = Path(__file__).resolve().parent / "results"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs: a smoke run")
    parser.add_argument("--only", default=",".join(SUITES), help="comma-separated suites")
    parser.add_argument("--repeat", type=int, help="timed runs per case (default 5, quick 1)")
    parser.add_argument("--keep-scratch", action="store_true", help="keep bench/.work")
    args = parser.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(args.only) - set(SUITES))
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    return args


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def byte_compile_ours() -> None:
    """Our package as an installed wheel is: byte-compiled, like boto3, chalice and SAM in
    their virtualenvs. The checkout is installed in editable mode, and with
    PYTHONDONTWRITEBYTECODE set (as in CI and on this machine) nothing ever writes its
    ``.pyc`` files, so every timed process compiled all of our modules it imported from
    source again — 0.1–0.2 s a process that no installed lambda-promote spends."""
    import lambda_promote

    package = Path(lambda_promote.__file__).resolve().parent
    if not compileall.compile_dir(str(package), quiet=1):
        log(f"could not byte-compile {package}; our processes compile it on each run")


def guarded(title: str, suite: Callable[[], Section]) -> Section:
    """A suite that crashes becomes a section saying so; the other suites still run."""
    try:
        return suite()
    except Exception as exc:  # any failure is reported; the run goes on
        log(f"{title} crashed: {exc!r}")
        return Section(title, notes=[f"the suite crashed: {exc!r}", traceback.format_exc(limit=3)])


def main(argv: list[str]) -> int:
    args = parse(argv)
    settings = Settings(repeat=args.repeat or (1 if args.quick else 5), warmup=1, quick=args.quick)
    started = time.perf_counter()
    load_at_start = machine.load_average()
    shutil.rmtree(SCRATCH, ignore_errors=True)
    byte_compile_ours()
    lp = lambda_promote()
    needs_baselines = {"builds", "startup", "hotpath"} & set(args.only)
    sam = chalice = None
    if needs_baselines:
        log("installing the baselines (once; kept in bench/.venvs)")
        sam, chalice = baselines.ensure(baselines.SAM), baselines.ensure(baselines.CHALICE)
        for tool in (sam, chalice):
            log(f"{tool.baseline.requirement}: {'ready' if tool.ok else tool.error}")
    sections = [guarded(name, _suite(name, settings, lp, sam, chalice)) for name in args.only]
    doc = report.document(
        settings=settings,
        machine={
            **machine.machine(),
            "load at start (1/5/15 min)": load_at_start,
            "load at end (1/5/15 min)": machine.load_average(),
        },
        versions=_versions(sam, chalice),
        sections=sections,
        goals=goals(sections),
        elapsed_s=time.perf_counter() - started,
    )
    as_json, as_md = report.write(doc, RESULTS)
    if not args.keep_scratch:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    print(as_md.read_text())
    log(f"wrote {as_md} and {as_json}")
    return 0


def _suite(
    name: str,
    settings: Settings,
    lp: list[str],
    sam: baselines.Installed | None,
    chalice: baselines.Installed | None,
) -> Callable[[], Section]:
    def call() -> Section:
        if name == "builds":
            from bench import suite_builds

            assert sam is not None
            assert chalice is not None
            return suite_builds.run(settings, lp=lp, sam=sam, chalice=chalice, log=log)
        if name == "release-build":
            from bench import suite_release

            return suite_release.run(settings, lp=lp, log=log)
        if name == "startup":
            from bench import suite_startup

            assert sam is not None
            assert chalice is not None
            return suite_startup.run(settings, sam=sam, chalice=chalice, log=log)
        if name == "deploy":
            from bench import suite_aws

            return suite_aws.run(settings, lp=lp, log=log)
        if name == "ledger":
            from bench import suite_ledger

            return suite_ledger.run(settings, lp=lp, log=log)
        if name == "traffic":
            from bench import suite_traffic

            return suite_traffic.run(settings, log=log)
        if name == "hotpath":
            from bench import suite_hotpath

            assert chalice is not None
            return suite_hotpath.run(settings, chalice=chalice, log=log)
        if name == "serve":
            from bench import suite_serve

            return suite_serve.run(settings, log=log)
        from bench import suite_scale

        return suite_scale.run(settings, log=log)

    return call


def _versions(
    sam: baselines.Installed | None, chalice: baselines.Installed | None
) -> dict[str, str | None]:
    from lambda_promote.build.deps import find_uv

    return machine.versions(
        uv=find_uv(),
        sam=sam.command if sam and sam.ok else None,
        chalice=chalice.command if chalice and chalice.ok else None,
    )


def goals(sections: list[Section]) -> list[dict[str, object]]:
    from bench import suite_builds, suite_startup

    found = []
    for text, slow, fast, wanted in (
        (
            "cold build ≥ 4× faster than `sam build`",
            suite_builds.SAM_COLD,
            suite_builds.OURS_COLD,
            4.0,
        ),
        (
            "unchanged build ≥ 5× faster than `sam build --cached`",
            suite_builds.SAM_UNCHANGED,
            suite_builds.OURS_UNCHANGED,
            5.0,
        ),
    ):
        a, b = report.find_result(sections, slow), report.find_result(sections, fast)
        speed = ratio(a, b)
        measured = "—" if speed is None else f"{speed:.2f}× ({_s(a)} vs {_s(b)})"
        why = "" if speed is not None else "a side of the comparison failed or was not run"
        found.append(
            report.goal(
                text, measured=measured, met=None if speed is None else speed >= wanted, why=why
            )
        )
    rollback = next((s.data["rollback_goal"] for s in sections if "rollback_goal" in s.data), None)
    rollback_text = "`rollback` makes exactly one alias update and uploads nothing"
    if rollback is None:
        found.append(report.goal(rollback_text, measured="—", met=None, why="deploy suite not run"))
    else:
        met = rollback.get("met")
        measured = "see the calls table" if met is not None else "—"
        found.append(
            report.goal(rollback_text, measured=measured, met=met, why=rollback.get("why") or "")
        )
    for section in sections:
        for g in section.data.get("hotpath_goals", []):
            measured = (
                "—"
                if g["times"] is None
                else (
                    f"{g['times']:.2f}× ({_s_value(g['ours_median_s'])} vs "
                    f"{_s_value(g['baseline_median_s'])})"
                )
            )
            why = "" if g["met"] is not None else "a side of the comparison failed or was not run"
            found.append(report.goal(g["goal"], measured=measured, met=g["met"], why=why))
    startup = next(
        (
            s.data["importtime"]
            for s in sections
            if "importtime" in s.data and s.title == "Start-up"
        ),
        None,
    )
    if startup is not None:
        heavy = startup.get(suite_startup.HELP, {}).get("heavy_loaded", [])
        bad = [h for h in heavy if h in ("boto3", "botocore", "sqlalchemy", "alembic")]
        found.append(
            report.goal(
                "`--help` imports no boto3 or SQLAlchemy (DESIGN §8)",
                measured=", ".join(heavy) or "none of the heavy libraries",
                met=not bad,
            )
        )
    return found


def _s_value(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.3f} s"


def _s(result: object) -> str:
    median = getattr(result, "median", None)
    return "—" if median is None else f"{median:.2f} s"


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
