"""The timing core of the benchmarks: every case is a whole process, run ``warmup`` times
untimed and then ``repeat`` times timed; a case's ``prepare`` (untimed) makes each run's
command, folder and environment, so a "cold" case can start every run from an empty cache.

A case that fails is recorded with the reason and the tail of its output; the run goes on.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUN_TIMEOUT = 600.0


@dataclass(frozen=True)
class Run:
    """One process to time."""

    argv: list[str]
    cwd: Path
    env: Mapping[str, str] | None = None


@dataclass
class Result:
    """What a case measured: seconds per timed run, plus facts (sizes, digests, counts)."""

    name: str
    group: str
    samples: list[float] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.samples)

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def min(self) -> float | None:
        return min(self.samples) if self.samples else None

    @property
    def max(self) -> float | None:
        return max(self.samples) if self.samples else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "ok": self.ok,
            "median_s": _rounded(self.median),
            "min_s": _rounded(self.min),
            "max_s": _rounded(self.max),
            "runs": len(self.samples),
            "samples_s": [round(s, 4) for s in self.samples],
            "facts": self.facts,
            "error": self.error,
            "note": self.note,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


Inspect = Callable[[Run, "subprocess.CompletedProcess[str]"], dict[str, Any]]


@dataclass
class Case:
    """``prepare(i)`` returns the i-th run (0-based over warm-ups and timed runs alike);
    ``inspect`` reads facts from a finished run (untimed); ``accept`` lists the exit codes
    that count as success."""

    name: str
    group: str
    prepare: Callable[[int], Run]
    inspect: Inspect | None = None
    accept: tuple[int, ...] = (0,)
    note: str = ""


class CaseFailed(Exception):
    """A run of a case exited with a code it does not accept."""


def run_once(case: Case, index: int) -> tuple[float, dict[str, Any]]:
    """Time one run of ``case`` (only the process itself is inside the clock)."""
    run = case.prepare(index)
    env = dict(run.env) if run.env is not None else dict(os.environ)
    started = time.perf_counter()
    done = subprocess.run(
        run.argv,
        cwd=run.cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode not in case.accept:
        raise CaseFailed(_failure_text(run, done))
    facts = case.inspect(run, done) if case.inspect is not None else {}
    return elapsed, facts


def _failure_text(run: Run, done: subprocess.CompletedProcess[str]) -> str:
    output = (done.stderr.strip() or done.stdout.strip()).splitlines()[-6:]
    command = " ".join(Path(run.argv[0]).name if i == 0 else a for i, a in enumerate(run.argv))
    return f"`{command}` exited {done.returncode}: " + " / ".join(output)


def measure(case: Case, *, repeat: int, warmup: int = 1) -> Result:
    """Run ``case`` ``warmup + repeat`` times; facts of the timed runs are kept per run
    under ``facts["runs"]`` and the last run's facts at the top level."""
    return measure_interleaved([(case, warmup)], repeat=repeat)[0]


Runner = Callable[[Case, int], tuple[float, dict[str, Any]]]


def measure_interleaved(
    cases: list[tuple[Case, int]], *, repeat: int, runner: Runner = run_once
) -> list[Result]:
    """Warm each case up (its own count), then take the timed runs round-robin — case 1,
    case 2, …, case 1, … — so that other work on the machine, which comes and goes, falls on
    every case alike instead of on whichever ran at the wrong minute. A case that fails
    stops there with the reason; the others go on."""
    results = [Result(case.name, case.group, note=case.note) for case, _ in cases]
    per_run: list[list[dict[str, Any]]] = [[] for _ in cases]
    for (case, warmup), result in zip(cases, results, strict=True):
        _attempt(result, lambda c=case, w=warmup: [runner(c, i) for i in range(w)])
    for round_ in range(repeat):
        for slot, ((case, warmup), result) in enumerate(zip(cases, results, strict=True)):
            if result.error is not None:
                continue
            timed = _attempt(result, lambda c=case, i=warmup + round_: runner(c, i))
            if timed is not None:
                result.samples.append(timed[0])
                per_run[slot].append(timed[1])
    for result, facts in zip(results, per_run, strict=True):
        if result.error is None and facts:
            result.facts.update(facts[-1])
            if any(facts):
                result.facts["runs"] = facts
    return results


def _attempt(result: Result, action: Callable[[], Any]) -> Any:
    try:
        return action()
    except (CaseFailed, OSError, subprocess.TimeoutExpired) as exc:
        result.error = str(exc)
        return None


def failed(name: str, group: str, reason: str) -> Result:
    """A case that could not even start (e.g. its baseline would not install)."""
    return Result(name, group, error=reason)


def ratio(slower: Result | None, faster: Result | None) -> float | None:
    """How many times faster ``faster`` is than ``slower`` (medians); None if either failed."""
    if slower is None or faster is None or not slower.ok or not faster.ok:
        return None
    slow, fast = slower.median, faster.median
    if slow is None or fast is None or fast <= 0:
        return None
    return slow / fast
