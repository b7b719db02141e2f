"""A small model of how GitHub Actions runs the generated workflow, for testing its *logic*:
job conditions and concurrency groups, evaluated over the generated YAML.

What it models, from GitHub's documentation (docs/STAGING_TO_PRODUCTION_WORKFLOW.md §8):
- a job starts when every job it ``needs`` has ended; its ``if:`` decides whether it runs
  (``skipped`` otherwise); without a status function the condition is ``success() && (…)``,
  and ``success()`` needs every ancestor to have succeeded;
- ``always()`` is true, ``failure()`` when an ancestor failed, ``cancelled()`` when the run
  was cancelled; ``needs.J.result`` and ``needs.J.outputs.X`` (empty when J wrote none);
- a concurrency group holds at most one running and one pending job; a newly queued job
  *cancels the pending one* and takes its place; ``cancel-in-progress: false`` leaves the
  running one alone;
- cancelling a run cancels its running and pending jobs (a running job keeps the outputs it
  wrote); jobs whose condition holds ``always()`` are still evaluated.

The expression evaluator covers the subset the generator writes: ``&&``, ``||``, ``!``,
``==``/``!=`` (case-insensitive for strings), parentheses, string literals, ``startsWith``
and the status functions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>&&|\|\||==|!=|!|\(|\)|,)|(?P<name>[A-Za-z_][\w.-]*))"
)
STATUS_FUNCTIONS = ("success()", "failure()", "cancelled()", "always()")


def tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m, f"cannot read {text[pos:]!r}"
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class Expression:
    def __init__(self, text: str, lookup: Callable[[str], Any], call: Callable[..., Any]):
        self.toks = tokens(text.removeprefix("${{").removesuffix("}}"))
        self.i = 0
        self.lookup, self.call = lookup, call

    def value(self) -> Any:
        result = self._or()
        assert self.i == len(self.toks), f"unread: {self.toks[self.i :]}"
        return result

    def _peek(self) -> str:
        return self.toks[self.i][1] if self.i < len(self.toks) else ""

    def _take(self) -> tuple[str, str]:
        self.i += 1
        return self.toks[self.i - 1]

    def _or(self) -> Any:
        left = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            left = left if truthy(left) else right
        return left

    def _and(self) -> Any:
        left = self._unary()
        while self._peek() == "&&":
            self._take()
            right = self._unary()
            left = right if truthy(left) else left
        return left

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not truthy(self._unary())
        left = self._primary()
        if self._peek() in ("==", "!="):
            op = self._take()[1]
            same = equal(left, self._primary())
            return same if op == "==" else not same
        return left

    def _primary(self) -> Any:
        kind, text = self._take()
        if text == "(":
            inner = self._or()
            assert self._take()[1] == ")"
            return inner
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if text in ("true", "false"):
            return text == "true"
        if self._peek() == "(":
            self._take()
            args = []
            while self._peek() != ")":
                args.append(self._or())
                if self._peek() == ",":
                    self._take()
            self._take()
            return self.call(text, *args)
        return self.lookup(text)


def truthy(value: Any) -> bool:
    return bool(value) and value != 0


def equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return bool(a == b)


@dataclass
class JobRun:
    name: str
    state: str = "waiting"  # waiting → queued|pending → running → ended
    result: str | None = None  # success | failure | cancelled | skipped
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    id: int
    event: str
    ref: str = ""
    base_ref: str = ""
    inputs: dict[str, str] = field(default_factory=dict)
    head_repo: str = ""  # a pull request's source repository
    cancelled: bool = False
    jobs: dict[str, JobRun] = field(default_factory=dict)


class GitHubModel:
    """Runs of one workflow, driven step by step by a test."""

    def __init__(self, workflow: dict[str, Any], *, repository: str = "acme/orders-api") -> None:
        self.workflow = workflow
        self.repository = repository
        self.runs: list[Run] = []
        self.groups: dict[str, dict[str, tuple[Run, str] | None]] = {}
        self.log: list[str] = []

    # --- the test's verbs ------------------------------------------------------------------
    def trigger(self, event: str, *, branch: str = "", head_repo: str = "", **inputs: str) -> Run:
        run = Run(len(self.runs) + 1, event, inputs=dict(inputs))
        run.head_repo = head_repo or (self.repository if event == "pull_request" else "")
        if event == "pull_request":
            run.base_ref = branch
        else:
            run.ref = f"refs/heads/{branch or 'main'}"
        run.jobs = {name: JobRun(name) for name in self.workflow["jobs"]}
        self.runs.append(run)
        self._advance()
        return run

    def finish(self, run: Run, job: str, result: str = "success") -> None:
        current = run.jobs[job]
        assert current.state == "running", f"run {run.id} {job} is {current.state}"
        self._end(run, job, result)
        self._advance()

    def cancel(self, run: Run) -> None:
        run.cancelled = True
        for job in run.jobs.values():
            if job.state in ("pending", "running"):
                self._end(run, job.name, "cancelled")
        self._advance()

    def running(self) -> list[tuple[int, str]]:
        return [(r.id, j.name) for r in self.runs for j in r.jobs.values() if j.state == "running"]

    # --- GitHub's rules ----------------------------------------------------------------------
    def _advance(self) -> None:
        moved = True
        while moved:
            moved = False
            for run in self.runs:
                for name, job in run.jobs.items():
                    if job.state == "waiting" and self._needs_ended(run, name):
                        self._decide(run, name)
                        moved = True

    def _needs_ended(self, run: Run, name: str) -> bool:
        return all(run.jobs[n].state == "ended" for n in self._needs(name))

    def _needs(self, name: str) -> list[str]:
        needs = self.workflow["jobs"][name].get("needs", [])
        return [needs] if isinstance(needs, str) else list(needs)

    def _ancestors(self, name: str) -> set[str]:
        found: set[str] = set()
        todo = self._needs(name)
        while todo:
            n = todo.pop()
            if n not in found:
                found.add(n)
                todo += self._needs(n)
        return found

    def _decide(self, run: Run, name: str) -> None:
        spec = self.workflow["jobs"][name]
        condition = str(spec.get("if", "true"))
        if not any(f in condition.replace(" ", "") for f in STATUS_FUNCTIONS):
            condition = f"success() && ({condition})"
        if run.cancelled and "always()" not in condition and "cancelled()" not in condition:
            self._end(run, name, "skipped")
            return
        if not truthy(self.evaluate(run, name, condition)):
            self._end(run, name, "skipped")
            return
        group = spec.get("concurrency", {}).get("group")
        if group is None:
            self._start(run, name)
            return
        key = self.evaluate(run, name, "'" + str(group).replace("'", "''") + "'", template=True)
        slot = self.groups.setdefault(str(key).lower(), {"running": None, "pending": None})
        if slot["running"] is None:
            slot["running"] = (run, name)
            self._start(run, name)
            return
        if slot["pending"] is not None:
            old_run, old_name = slot["pending"]
            self.log.append(f"run {run.id} {name} cancels pending run {old_run.id} {old_name}")
            self._end(old_run, old_name, "cancelled")
        slot["pending"] = (run, name)
        run.jobs[name].state = "pending"

    def _start(self, run: Run, name: str) -> None:
        job = run.jobs[name]
        job.state = "running"
        outputs = self.workflow["jobs"][name].get("outputs", {})
        if "host" in outputs:
            job.outputs["host"] = f"runner-{run.id}-{name}"  # its first step writes it
        if "digest" in outputs:
            job.outputs["digest"] = "ab" * 32

    def _end(self, run: Run, name: str, result: str) -> None:
        job = run.jobs[name]
        was = job.state
        job.state, job.result = "ended", result
        self.log.append(f"run {run.id} {name}: {result}")
        for slot in self.groups.values():
            if slot["pending"] == (run, name):
                slot["pending"] = None
            if slot["running"] == (run, name) and was == "running":
                slot["running"] = None
                if slot["pending"] is not None:
                    nxt_run, nxt = slot["pending"]
                    slot["pending"] = None
                    slot["running"] = (nxt_run, nxt)
                    self._start(nxt_run, nxt)

    # --- expressions ---------------------------------------------------------------------------
    def evaluate(self, run: Run, name: str, text: str, *, template: bool = False) -> Any:
        if template:  # a string holding ${{ … }} parts
            raw = text[1:-1].replace("''", "'")
            return re.sub(
                r"\$\{\{(.*?)\}\}", lambda m: str(self.evaluate(run, name, m.group(1))), raw
            )
        ancestors = [run.jobs[a] for a in self._ancestors(name)]

        def call(fn: str, *args: Any) -> Any:
            if fn == "success":
                return all(a.result == "success" for a in ancestors) and not run.cancelled
            if fn == "failure":
                return any(a.result == "failure" for a in ancestors)
            if fn == "cancelled":
                return run.cancelled
            if fn == "always":
                return True
            if fn == "startsWith":
                return str(args[0]).lower().startswith(str(args[1]).lower())
            raise AssertionError(f"function {fn} is not modelled")

        return Expression(text, lambda path: self._lookup(run, path), call).value()

    def _lookup(self, run: Run, path: str) -> Any:
        parts = path.split(".")
        if parts[0] == "github":
            values = {
                "github.event_name": run.event,
                "github.ref": run.ref,
                "github.base_ref": run.base_ref,
                "github.repository": self.repository,
                "github.run_id": str(run.id),
                "github.event.pull_request.head.repo.full_name": run.head_repo,
            }
            return values[path]
        if parts[0] == "inputs":
            return run.inputs.get(parts[1], "")
        if parts[0] == "needs":
            job = run.jobs[parts[1]]
            if parts[2] == "result":
                return job.result or ""
            return job.outputs.get(parts[3], "")
        raise AssertionError(f"context {path} is not modelled")
