"""Progress of long steps (issue 6 §3): one plain line per step in CI, a live spinner and a
"done" line on a terminal, always on stderr so ``--json`` keeps stdout to one object."""

from __future__ import annotations

import io
import itertools

import pytest
from rich.console import Console

from lambda_promote.progress import Progress, live_by_default


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def ticking(step: float = 1.5):
    counter = itertools.count()
    return lambda: next(counter) * step


def test_in_ci_each_step_is_one_plain_line() -> None:
    err = io.StringIO()
    progress = Progress(stream=err, live=False, clock=ticking())
    with progress.task("installing dependencies") as task:
        task.update("42 packages")  # no extra line in CI
    with progress.task("uploading"):
        pass
    assert err.getvalue() == "· installing dependencies…\n· uploading…\n"


def test_an_inner_step_is_indented_under_its_outer_step() -> None:
    err = io.StringIO()
    progress = Progress(stream=err, live=False)
    with progress.task("verifying"), progress.task("check ping"):
        pass
    assert err.getvalue().splitlines() == ["· verifying…", "  · check ping…"]


def test_a_failing_step_says_so_and_the_error_goes_on() -> None:
    err = io.StringIO()
    progress = Progress(stream=err, live=False, clock=ticking(2.0))
    with pytest.raises(RuntimeError, match="upload refused"), progress.task("uploading"):
        raise RuntimeError("upload refused")
    assert err.getvalue().splitlines() == ["· uploading…", "✗ uploading failed after 2.0 s"]


def test_on_a_terminal_a_finished_step_leaves_a_done_line_with_its_duration() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, color_system=None)
    progress = Progress(stream=Tty(), live=True, console_factory=lambda: console, clock=ticking())
    with progress.task("waiting for the function to be updated") as task:
        task.update("State: Pending")
        with progress.task("check ping"):
            pass
    out = screen.getvalue()
    assert "✓ check ping (1.5 s)" in out
    assert "✓ waiting for the function to be updated (4.5 s)" in out
    assert progress._status is None  # the spinner is gone


def test_on_a_terminal_a_failed_step_is_marked() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, color_system=None)
    progress = Progress(stream=Tty(), live=True, console_factory=lambda: console, clock=ticking())
    with pytest.raises(KeyboardInterrupt), progress.task("baking for 30s"):
        raise KeyboardInterrupt
    assert "✗ baking for 30s failed after 1.5 s" in screen.getvalue()


def test_live_progress_is_only_for_an_interactive_terminal_outside_ci() -> None:
    assert live_by_default(Tty(), {}) is True
    assert live_by_default(Tty(), {"CI": "true"}) is False
    assert live_by_default(Tty(), {"NO_COLOR": "1"}) is False
    assert live_by_default(io.StringIO(), {}) is False
