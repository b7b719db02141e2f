"""Fault injection for the crash-recovery tests (DESIGN §5.5): with LAMBDA_PROMOTE_CRASH_AT=NAME
the process kills itself (SIGKILL, no cleanup) right after the step NAME, as a power cut
would. Unset in normal use; each point costs one dictionary lookup."""

from __future__ import annotations

import os
import signal


def crash_point(name: str) -> None:
    if os.environ.get("LAMBDA_PROMOTE_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
