"""The one object that writes to the terminal (STYLE §4).

Progress and human messages go to stderr, so stdout carries only the command's result: the
digest a script captures, or the single JSON object of ``--json``. On a TTY (and without
``NO_COLOR``) lines are styled with rich, imported only then; in CI they are plain, one per step.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_promote.progress import Task

_STYLES = {"step": "cyan", "ok": "green", "warn": "yellow", "error": "bold red", "loud": "bold red"}
_MARKS = {"step": "·", "ok": "✓", "warn": "!", "error": "✗", "loud": "!!"}


class UI:
    def __init__(
        self,
        *,
        json_mode: bool = False,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
        color: bool | None = None,
    ) -> None:
        self.json_mode = json_mode
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        if color is None:
            color = self.err.isatty() and "NO_COLOR" not in os.environ and "CI" not in os.environ
        self.color = color
        self._console: Any = None
        self._progress: Any = None
        self.warnings: list[str] = []
        # Replaces secrets by their variable's name in everything shown (DESIGN §5.8);
        # the CLI sets it once the config names the secrets.
        self.scrub: Callable[[str], str] = _unchanged

    # --- progress and messages (stderr) ------------------------------------------------------
    def step(self, message: str) -> None:
        self._say("step", message)

    def ok(self, message: str) -> None:
        self._say("ok", message)

    def warn(self, message: str) -> None:
        self.warnings.append(self.scrub(message))
        self._say("warn", message)

    def error(self, message: str, hint: str = "") -> None:
        self._say("error", message)
        for number, line in enumerate(hint.splitlines()):
            self._say_plain(f"  {'hint: ' if number == 0 else '      '}{line}")

    def loud(self, message: str) -> None:
        """For the one situation that needs a person now: a rollback that failed."""
        bar = "!" * 72
        self._say_plain(bar)
        self._say("loud", message)
        self._say_plain(bar)

    def detail(self, message: str) -> None:
        """An indented line belonging to the previous message (human mode only)."""
        if not self.json_mode:
            self._say_plain(f"  {message}")

    def task(self, title: str) -> AbstractContextManager[Task]:
        """A long step: a live spinner on a terminal, one plain line in CI (progress.py)."""
        if self._progress is None:
            from lambda_promote.progress import Progress

            self._progress = Progress(stream=self.err, live=self.color, console_factory=self._rich)
        task: AbstractContextManager[Task] = self._progress.task(title)
        return task

    # --- results (stdout) --------------------------------------------------------------------
    def result(self, text: str) -> None:
        """The command's human result on stdout (suppressed in --json mode)."""
        if not self.json_mode:
            print(text, file=self.out)

    def emit_json(self, obj: dict[str, Any]) -> None:
        print(json.dumps(obj, indent=None, sort_keys=False, default=str), file=self.out)

    # --- internals ---------------------------------------------------------------------------
    def _say(self, kind: str, message: str) -> None:
        message = self.scrub(message)
        mark = _MARKS[kind]
        if self.color:
            from rich.markup import escape

            self._rich().print(f"[{_STYLES[kind]}]{mark}[/] {escape(message)}")
        else:
            print(f"{mark} {message}", file=self.err, flush=True)

    def _say_plain(self, message: str) -> None:
        message = self.scrub(message)
        if self.color:
            from rich.markup import escape

            self._rich().print(escape(message))
        else:
            print(message, file=self.err, flush=True)

    def _rich(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.err, highlight=False)
        return self._console


def _unchanged(text: str) -> str:
    return text
