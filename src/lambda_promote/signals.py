"""Ctrl-C and a cancelled CI job, made one thing (DESIGN §11.5): while a command runs, SIGINT
and SIGTERM both raise ``KeyboardInterrupt`` in the main thread, once. A deploy interrupted
after traffic moved rolls back and verifies before it exits (``deploy.py``), so the second
signal a CI runner sends (GitHub Actions: SIGINT, then SIGTERM seconds later) must not cut
that rollback short: after the first, further signals are only reported. SIGKILL cannot be
caught; what it leaves is resolved by the next command (DESIGN §5.5).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interrupts_once() -> Iterator[None]:
    """Within the block, the first SIGINT/SIGTERM raises ``KeyboardInterrupt``; later ones
    are reported and ignored. Outside the main thread (tests), nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handle(number: int, _frame: FrameType | None) -> None:
        if fired:
            name = signal.Signals(number).name
            print(f"! {name} ignored: already stopping (rolling back if traffic moved)",
                  file=sys.stderr)  # fmt: skip
            return
        fired.append(number)
        raise KeyboardInterrupt(signal.Signals(number).name)

    previous: dict[int, Any] = {number: signal.getsignal(number) for number in _SIGNALS}
    for number in _SIGNALS:
        signal.signal(number, handle)
    try:
        yield
    finally:
        for restored, handler in previous.items():
            signal.signal(restored, handler)
