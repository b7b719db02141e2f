"""Deploy, promotion and rollback against moto's server on 127.0.0.1, each a whole process:
the raw boto3 sequence of DESIGN §6 (``raw_boto3.py``) against ``lambda-promote deploy``,
``deploy production`` (a promotion) and ``rollback``; with no checks (the like-for-like
comparison) and with one check (what the checks add, counted separately). The counting proxy
of ``aws_world`` gives each run's API calls and uploaded bytes.

The functions are created first with boto3, as a team creates them before its first
deployment. Every timed deploy alternates between two artifacts of bench/sample, so each
run really uploads and publishes; a timed rollback or promotion is preceded by an untimed
deploy, so there is always something to roll back or promote.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.aws_world import REGION, MotoWorld, aws_env, summary
from bench.common import (
    BENCH,
    RUNTIME,
    Comparison,
    Section,
    Settings,
    child_env,
    copy_sample,
    scratch,
    set_revision,
)
from bench.harness import Case, CaseFailed, Result, Run, measure

GROUP = "deploy"
ALIAS = "live"
RAW_DEPLOY = "boto3 script · deploy"
RAW_PROMOTE = "boto3 script · promotion to production (re-upload)"
RAW_ROLLBACK = "boto3 script · rollback"
LP_DEPLOY = "lambda-promote deploy staging · no checks"
LP_PROMOTE = "lambda-promote deploy production (promotion) · no checks"
LP_ROLLBACK = "lambda-promote rollback staging · no checks"
LP_DEPLOY_CHECK = "lambda-promote deploy staging · 1 check"
LP_PROMOTE_CHECK = "lambda-promote deploy production (promotion) · 1 check"
LP_ROLLBACK_CHECK = "lambda-promote rollback staging · 1 check"

CONFIG = """\
project: bench-aws
target: aws
state: sqlite:///.lambda-promote/state.db
artifacts: .lambda-promote/artifacts
function:
  source: src
  handler: app.handler
  runtime: {runtime}
  requirements: src/requirements.txt
environments:
  staging:
    function_name: {prefix}-staging
    region: {region}
    checks: {checks}
  production:
    function_name: {prefix}-production
    region: {region}
    promote_from: staging
    checks: {checks}
"""
ONE_CHECK = "[{name: ping, payload: {action: ping, ok: true}, expect: {body: {ok: true}}}]"


def run(settings: Settings, *, lp: list[str], log: Callable[[str], None]) -> Section:
    section = Section("Deploy, promotion and rollback against moto")
    folder = scratch("aws")
    world = MotoWorld(folder)
    try:
        world.wait_ready()
        env = child_env(**aws_env(world.url, folder))
        _create_functions(world, env, ["raw", "nc", "c1"])
        zips = _two_artifacts(copy_sample(folder / "zips"), lp)
        bench = _AwsBench(world, env, settings, log)
        section.results += bench.raw(zips)
        for prefix, checks in (("nc", "[]"), ("c1", ONE_CHECK)):
            project = _aws_project(folder / prefix, prefix, checks=checks, lp=lp)
            section.results += bench.ours(lp, project, checks=checks != "[]")
    finally:
        world.close()
    section.comparisons = [
        Comparison("deploy", RAW_DEPLOY, LP_DEPLOY),
        Comparison("promotion to production", RAW_PROMOTE, LP_PROMOTE),
        Comparison("rollback", RAW_ROLLBACK, LP_ROLLBACK),
    ]
    section.markdown = calls_table(section.results)
    section.data["rollback_goal"] = rollback_goal(section.result(LP_ROLLBACK))
    return section


class _AwsBench:
    def __init__(
        self, world: MotoWorld, env: dict[str, str], settings: Settings, log: Callable[[str], None]
    ) -> None:
        self.world, self.env, self.settings, self.log = world, env, settings, log

    def measure(self, name: str, prepare: Callable[[int], Run]) -> Result:
        self.log(f"deploy: {name}")
        marks: list[int] = []

        def marked(index: int) -> Run:
            run = prepare(index)
            marks.append(self.world.log.mark())  # after the untimed set-up, just before the run
            return run

        def inspect(_: Run, done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
            return summary(self.world.log.since(marks[-1]))

        case = Case(name, GROUP, marked, inspect=inspect)
        return measure(case, repeat=self.settings.repeat, warmup=self.settings.warmup)

    def untimed(self, argv: list[str], cwd: Path) -> str:
        done = subprocess.run(
            argv, cwd=cwd, env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            tail = " / ".join((done.stderr.strip() or done.stdout.strip()).splitlines()[-4:])
            raise CaseFailed(f"set-up `{' '.join(argv[1:4])}` exited {done.returncode}: {tail}")
        return done.stdout

    def raw(self, zips: list[Path]) -> list[Result]:
        script = [sys.executable, str(BENCH / "raw_boto3.py")]
        cwd = BENCH

        def deploy_argv(fn: str, index: int) -> list[str]:
            return [*script, "deploy", fn, ALIAS, str(zips[index % 2])]

        def rollback(index: int) -> Run:
            version = self.untimed(deploy_argv("raw-staging", index + 1), cwd).strip()
            return Run(
                [*script, "rollback", "raw-staging", ALIAS, str(int(version) - 1)], cwd, self.env
            )

        def promote(index: int) -> Run:
            self.untimed(deploy_argv("raw-staging", index), cwd)
            return Run(deploy_argv("raw-production", index), cwd, self.env)

        return [
            self.measure(RAW_DEPLOY, lambda i: Run(deploy_argv("raw-staging", i), cwd, self.env)),
            self.measure(RAW_PROMOTE, promote),
            self.measure(RAW_ROLLBACK, rollback),
        ]

    def ours(self, lp: list[str], project: tuple[Path, list[str]], *, checks: bool) -> list[Result]:
        folder, digests = project

        def deploy_argv(index: int) -> list[str]:
            return [*lp, "deploy", "staging", "--artifact", digests[index % 2], "--json"]

        def rollback(index: int) -> Run:
            self.untimed(deploy_argv(index + 1), folder)
            return Run([*lp, "rollback", "staging", "--json"], folder, self.env)

        def promote(index: int) -> Run:
            self.untimed(deploy_argv(index), folder)
            return Run([*lp, "deploy", "production", "--json"], folder, self.env)

        names = (
            (LP_DEPLOY_CHECK, LP_PROMOTE_CHECK, LP_ROLLBACK_CHECK)
            if checks
            else (LP_DEPLOY, LP_PROMOTE, LP_ROLLBACK)
        )
        return [
            self.measure(names[0], lambda i: Run(deploy_argv(i), folder, self.env)),
            self.measure(names[1], promote),
            self.measure(names[2], rollback),
        ]


def _create_functions(world: MotoWorld, env: dict[str, str], prefixes: list[str]) -> None:
    """The functions and their execution role, straight at moto (not through the proxy)."""
    code = (
        "import io, os, sys, zipfile, boto3\n"
        "data = io.BytesIO()\n"
        "with zipfile.ZipFile(data, 'w') as z:\n"
        "    z.writestr('app.py', 'def handler(event, context):\\n    return event\\n')\n"
        "iam = boto3.client('iam')\n"
        "role = iam.create_role(RoleName='lambda-exec', AssumeRolePolicyDocument='{}')\n"
        "role = role['Role']['Arn']\n"
        "lam = boto3.client('lambda')\n"
        "for name in sys.argv[2:]:\n"
        "    lam.create_function(FunctionName=name, Role=role, Runtime=sys.argv[1],\n"
        "        Handler='app.handler', Code={'ZipFile': data.getvalue()},\n"
        "        Architectures=['x86_64'])\n"
    )
    names = [f"{p}-{e}" for p in prefixes for e in ("staging", "production")]
    direct = {**env, "AWS_ENDPOINT_URL": world.moto_url}
    subprocess.run(
        [sys.executable, "-c", code, RUNTIME, *names], env=direct, check=True, capture_output=True
    )


def _build(folder: Path, lp: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [*lp, "build", "--json"],
        cwd=folder,
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    artifact: dict[str, Any] = json.loads(done.stdout)["artifact"]
    return artifact


def _two_artifacts(folder: Path, lp: list[str]) -> list[Path]:
    """Two zips of bench/sample (two source revisions) for the raw script."""
    paths = []
    for revision in ("aws-a", "aws-b"):
        set_revision(folder / "src" / "app.py", revision)
        paths.append(Path(_build(folder, lp)["path"]))
    return paths


def _aws_project(
    folder: Path, prefix: str, *, checks: str, lp: list[str]
) -> tuple[Path, list[str]]:
    copy_sample(folder)
    config = CONFIG.format(runtime=RUNTIME, prefix=prefix, region=REGION, checks=checks)
    (folder / "promote.yaml").write_text(config)
    digests = []
    for revision in ("aws-a", "aws-b"):
        set_revision(folder / "src" / "app.py", revision)
        digests.append(str(_build(folder, lp)["digest"]))
    return folder, digests


def rollback_goal(result: Result | None) -> dict[str, Any]:
    """DESIGN §8 / issue 8: a rollback makes exactly one alias update and uploads nothing."""
    if result is None or not result.ok:
        return {"met": None, "why": "not measured" if result is None else result.error}
    runs = result.facts.get("runs") or [result.facts]
    met = all(
        r.get("alias_writes") == 1
        and r.get("code_bytes_uploaded") == 0
        and not r.get("by_operation", {}).get("PublishVersion")
        for r in runs
    )
    return {"met": met, "runs": len(runs)}


def calls_table(results: list[Result]) -> list[str]:
    lines = [
        "| process | API calls | alias writes | zip bytes uploaded | request bytes "
        "| calls by operation |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if not r.ok:
            continue
        counts = {
            json.dumps(run.get("by_operation"), sort_keys=True) for run in r.facts.get("runs", [])
        }
        varies = " (varied between runs)" if len(counts) > 1 else ""
        ops = ", ".join(f"{op} {n}" for op, n in r.facts.get("by_operation", {}).items())
        f = r.facts
        lines.append(
            f"| {r.name} | {f.get('api_calls')} | {f.get('alias_writes')} | "
            f"{f.get('code_bytes_uploaded', 0):,} | {f.get('request_bytes', 0):,} | {ops}{varies} |"
        )
    return lines
