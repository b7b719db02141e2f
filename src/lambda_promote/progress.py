"""Live progress for the long steps of a command (installing dependencies, uploading, waiting
for Lambda, baking, running checks), for the UI object to use (STYLE §4):

    with progress.task("installing dependencies") as task:
        ...
        task.update("42 packages")

On a terminal a rich spinner shows the step (and the inner step, when one runs inside
another) and a ``✓ step (3.1 s)`` line stays when it ends; in CI, or with NO_COLOR, or when
stderr is not a TTY, there is exactly one plain line per step (``· step…``), plus one more if
it fails. Everything goes to stderr, so ``--json`` stays one object on stdout. rich is
imported only on a terminal.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any


def live_by_default(stream: IO[str], environ: Mapping[str, str] = os.environ) -> bool:
    """The same rule as the UI's colours: a TTY, and neither NO_COLOR nor CI set."""
    return stream.isatty() and "NO_COLOR" not in environ and "CI" not in environ


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 60 else f"{int(value // 60)} min {round(value % 60)} s"


@dataclass
class Task:
    """One running step; ``update`` changes the text next to the spinner (terminal only)."""

    title: str
    started: float
    _progress: Progress
    detail: str = ""

    def update(self, detail: str) -> None:
        self.detail = detail
        self._progress._refresh()


@dataclass
class Progress:
    stream: IO[str] = field(default_factory=lambda: sys.stderr)
    live: bool | None = None
    console_factory: Callable[[], Any] | None = None  # e.g. the UI's rich Console
    clock: Callable[[], float] = time.monotonic
    _stack: list[Task] = field(default_factory=list)
    _status: Any = None
    _console: Any = None
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        if self.live is None:
            self.live = live_by_default(self.stream)

    @contextmanager
    def task(self, title: str) -> Iterator[Task]:
        step = Task(title=title, started=self.clock(), _progress=self)
        with self._lock:
            self._stack.append(step)
            self._begin(step)
        try:
            yield step
        except BaseException:
            self._end(step, ok=False)
            raise
        self._end(step, ok=True)

    # --- internals ---------------------------------------------------------------------------
    def _begin(self, step: Task) -> None:
        if not self.live:
            indent = "  " * (len(self._stack) - 1)
            self._plain(f"{indent}· {step.title}…")
            return
        if self._status is None:
            self._status = self._rich().status(self._text(), spinner="dots")
            self._status.start()
        else:
            self._refresh()

    def _end(self, step: Task, *, ok: bool) -> None:
        took = seconds(max(self.clock() - step.started, 0.0))
        with self._lock:
            if step in self._stack:
                self._stack.remove(step)
            if not self.live:
                if not ok:
                    self._plain(f"✗ {step.title} failed after {took}")
                return
            if not self._stack and self._status is not None:
                self._status.stop()
                self._status = None
            else:
                self._refresh()
            self._print_done(step, ok=ok, took=took)

    def _print_done(self, step: Task, *, ok: bool, took: str) -> None:
        from rich.markup import escape

        if ok:
            self._rich().print(f"[green]✓[/] {escape(step.title)} [dim]({took})[/]")
        else:
            self._rich().print(f"[bold red]✗[/] {escape(step.title)} failed after {took}")

    def _refresh(self) -> None:
        with self._lock:
            if self.live and self._status is not None:
                self._status.update(self._text())

    def _text(self) -> str:
        from rich.markup import escape

        parts = [escape(t.title) for t in self._stack]
        line = " › ".join(parts) + "…"
        detail = self._stack[-1].detail if self._stack else ""
        return line + (f" [dim]{escape(detail)}[/]" if detail else "")

    def _plain(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def _rich(self) -> Any:
        if self._console is None:
            if self.console_factory is not None:
                self._console = self.console_factory()
            else:
                from rich.console import Console

                self._console = Console(file=self.stream, highlight=False)
        return self._console
