"""The ledger's backends side by side (DESIGN §11.6): ``status``, ``deploy`` and ``rollback``
as whole processes with ``state`` a SQLite file and with ``state`` a DynamoDB table on moto's
server (behind the counting proxy of ``aws_world``, which gives each run's DynamoDB round
trips by operation). The target is the local emulator and there are no checks, so the
difference between the two is the ledger alone.

moto answers on 127.0.0.1 in about a millisecond; real DynamoDB answers in single-digit
milliseconds from within its region, more from a laptop far away — multiply the round
trips by your latency for your number.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from bench.aws_world import REGION, MotoWorld, aws_env
from bench.common import RUNTIME, Section, Settings, child_env, copy_sample, scratch, set_revision
from bench.harness import CaseFailed, Result, Run
from bench.suite_aws import _AwsBench

GROUP = "ledger"
BACKENDS = {"SQLite": "sqlite:///.lambda-promote/state.db", "DynamoDB": None}
CONFIG = """\
project: bench-ledger
target: local
state: {state}
artifacts: .lambda-promote/artifacts
function:
  source: src
  handler: app.handler
  runtime: {runtime}
  requirements: src/requirements.txt
environments:
  staging:
    function_name: bench-staging
"""


def name(backend: str, command: str) -> str:
    return f"{command} · {backend} ledger"


def run(settings: Settings, *, lp: list[str], log: Callable[[str], None]) -> Section:
    section = Section("The ledger: SQLite against DynamoDB (moto's server)")
    folder = scratch("ledger")
    world = MotoWorld(folder)
    try:
        world.wait_ready()
        env = child_env(**aws_env(world.url, folder))
        for backend, state in BACKENDS.items():
            url = state or f"dynamodb://bench-ledger?region={REGION}"
            project = _project(folder / backend.lower(), url, lp=lp, env=env)
            section.results += _LedgerBench(world, env, settings, log).cases(lp, project, backend)
    finally:
        world.close()
    section.markdown = table(section.results)
    return section


class _LedgerBench(_AwsBench):
    """The deploy suite's timing and call counting, for the ledger's cases."""

    def cases(self, lp: list[str], project: tuple[Path, list[str]], backend: str) -> list[Result]:
        folder, digests = project

        def deploy_argv(index: int) -> list[str]:
            return [*lp, "deploy", "staging", "--artifact", digests[index % 2], "--json"]

        def rollback(index: int) -> Run:
            self.untimed(deploy_argv(index + 1), folder)
            return Run([*lp, "rollback", "staging", "--json"], folder, self.env)

        return [
            self.measure(
                name(backend, "status"), lambda i: Run([*lp, "status", "--json"], folder, self.env)
            ),
            self.measure(name(backend, "deploy"), lambda i: Run(deploy_argv(i), folder, self.env)),
            self.measure(name(backend, "rollback"), rollback),
        ]


def _untimed(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = " / ".join((done.stderr.strip() or done.stdout.strip()).splitlines()[-4:])
        raise CaseFailed(f"set-up `{' '.join(argv[1:4])}` exited {done.returncode}: {tail}")
    return done.stdout


def _project(
    folder: Path, state: str, *, lp: list[str], env: dict[str, str]
) -> tuple[Path, list[str]]:
    copy_sample(folder)
    (folder / "promote.yaml").write_text(CONFIG.format(state=state, runtime=RUNTIME))
    if state.startswith("dynamodb://"):
        _untimed([*lp, "state", "init", "--json"], folder, env)
    digests = []
    for revision in ("ledger-a", "ledger-b"):
        set_revision(folder / "src" / "app.py", revision)
        built = _untimed([*lp, "build", "--json"], folder, env)
        digests.append(str(json.loads(built)["artifact"]["digest"]))
    _untimed([*lp, "deploy", "staging", "--artifact", digests[1], "--json"], folder, env)
    return folder, digests


def table(results: list[Result]) -> list[str]:
    """Medians side by side, with DynamoDB's round trips by operation."""
    lines = [
        "| command | SQLite median | DynamoDB median | DynamoDB / SQLite | DynamoDB round "
        "trips | by operation |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for command in ("status", "deploy", "rollback"):
        lite = next((r for r in results if r.name == name("SQLite", command)), None)
        dyn = next((r for r in results if r.name == name("DynamoDB", command)), None)
        if lite is None or dyn is None or not lite.ok or not dyn.ok:
            lines.append(f"| {command} | — | — | — | — | a side failed |")
            continue
        assert lite.median is not None
        assert dyn.median is not None
        ops = ", ".join(f"{op} {n}" for op, n in dyn.facts.get("by_operation", {}).items())
        lines.append(
            f"| {command} | {lite.median:.3f} s | {dyn.median:.3f} s | "
            f"{dyn.median / lite.median:.2f}× | {dyn.facts.get('api_calls')} | {ops} |"
        )
    return lines
