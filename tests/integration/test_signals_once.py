"""signals.py in a real process: SIGTERM stops a command as Ctrl-C does, and a second signal
(GitHub sends SIGINT, then SIGTERM) does not cut short what the first one started."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = """
import sys, time
from lambda_promote.signals import interrupts_once
try:
    with interrupts_once():
        print("running", flush=True)
        try:
            time.sleep(30)
        except KeyboardInterrupt as stop:
            print(f"interrupted by {stop}", flush=True)
            time.sleep(1.5)  # the rollback: a second signal must not end it
            print("rolled back", flush=True)
            raise
except KeyboardInterrupt:
    sys.exit(3)
"""


def test_sigterm_interrupts_once_and_a_second_signal_is_ignored(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "running"
    child.send_signal(signal.SIGTERM)
    assert child.stdout.readline().strip() == "interrupted by SIGTERM"
    time.sleep(0.3)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=20)
    assert "rolled back" in out
    assert "SIGINT ignored: already stopping" in err
    assert child.returncode == 3
