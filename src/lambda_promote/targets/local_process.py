"""Running one invocation of the local target in a child Python process: choosing the
interpreter for the runtime, the child's environment, and waiting with Lambda's timeout.
Split from ``local.py``, which keeps versions and aliases on disk."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_promote.errors import TargetError
from lambda_promote.model import FunctionRef
from lambda_promote.targets import local_runtime

ACCOUNT_ID = "000000000000"  # the account Lambda ARNs name on the local target
_LOG_TAIL_BYTES = 1024 * 1024  # a handler printing without end must not fill our memory
_RUNTIME_SCRIPT = Path(local_runtime.__file__)
# -I: no PYTHON* variables, no script dir on sys.path; -S: no site-packages (the handler sees
# its zip and the standard library, as on Lambda); -B: the version dir is never written to.
_CHILD_FLAGS = ("-I", "-S", "-B", "-u", "-X", "utf8")


@functools.cache
def interpreter_for(runtime: str, search_path: str) -> str | None:
    """The real path of a working ``runtime`` interpreter (e.g. ``python3.12``) on
    ``search_path``, or None. The candidate is run once: a shim (pyenv) may exist yet fail,
    and the child gets a minimal environment, so we keep the path the shim resolves to."""
    candidate = shutil.which(runtime, path=search_path)
    if candidate is None:
        return None
    probe = "import sys; print('python%d.%d' % sys.version_info[:2]); print(sys.executable)"
    try:
        answer = subprocess.run(
            [candidate, "-I", "-c", probe],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = answer.stdout.split()
    if answer.returncode != 0 or len(lines) != 2 or lines[0] != runtime:
        return None
    return lines[1]


# --- publishing helpers -------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    fn: FunctionRef
    version: str
    qualifier: str
    code_dir: Path
    interpreter: str
    request_id: str

    @property
    def arn(self) -> str:
        name, region = self.fn.function_name, self.fn.region
        return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}:{self.qualifier}"


def _child_env(request: _Request) -> dict[str, str]:
    """Lambda's variables plus the function's own; nothing of ours (no keys, no tokens)."""
    fn = request.fn
    return {
        **fn.variables,
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": request.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.runtime}",
        "LAMBDA_TASK_ROOT": str(request.code_dir),
        "LAMBDA_RUNTIME_DIR": str(_RUNTIME_SCRIPT.parent),
        "_HANDLER": fn.handler,
        "PATH": os.pathsep.join(
            [str(Path(request.interpreter).parent), "/usr/local/bin", "/usr/bin", "/bin"]
        ),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
    }


def _run_child(request: _Request, event: Any, workdir: Path) -> dict[str, Any]:
    """Run one invocation in a child process and collect what it left behind."""
    timeout = request.fn.timeout_seconds
    request_file, result_file, log_file = (workdir / n for n in ("req.json", "res.json", "out"))
    _write_json(request_file, _request_document(request, event, timeout))
    files = [str(request_file), str(result_file)]
    with log_file.open("wb") as log:
        started = time.monotonic()
        try:
            child = subprocess.Popen(
                [request.interpreter, *_CHILD_FLAGS, str(_RUNTIME_SCRIPT), *files],
                cwd=request.code_dir,
                env=_child_env(request),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise TargetError(
                f"cannot start {request.interpreter}: {exc.strerror}",
                hint=f"install {request.fn.runtime} or put it on PATH",
            ) from None
        exited = _wait_without_reaping(child.pid, timeout)
        duration_ms = (time.monotonic() - started) * 1000
        # The exited leader is still unreaped, so its group id cannot have been reused: killing
        # the group ends anything the handler left running, as Lambda's sandbox would.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        returncode = child.wait()
    return {
        "returncode": returncode,
        "timed_out": not exited,
        "duration_ms": duration_ms,
        "output": local_runtime.read_output(log_file, limit=_LOG_TAIL_BYTES),
        "result": _read_json(result_file) if exited else None,
    }


def _request_document(request: _Request, event: Any, timeout: int) -> dict[str, Any]:
    return {
        "event": event,
        "handler": request.fn.handler,
        "task_root": str(request.code_dir),
        "request_id": request.request_id,
        "function_name": request.fn.function_name,
        "function_version": request.version,
        "invoked_function_arn": request.arn,
        "memory_mb": request.fn.memory_mb,
        "deadline_epoch_ms": int(time.time() * 1000) + timeout * 1000,
    }


def _wait_without_reaping(pid: int, timeout: float) -> bool:
    """True once ``pid`` exited, False after ``timeout`` seconds; the zombie is left to reap."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while not _has_exited(pid):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, 0.02)
    return True


def _has_exited(pid: int) -> bool:
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # already reaped by someone ignoring SIGCHLD: it is gone
        return True


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise TargetError(
            f"{path} is corrupt (not JSON)",
            hint="restore it from the ledger with `lambda-promote status`, or delete it",
        ) from None
    if not isinstance(value, dict):
        raise TargetError(f"{path} is corrupt (not a JSON object)", hint="delete it")
    return value


def _write_json(path: Path, value: dict[str, Any]) -> None:
    """Write atomically: readers see the old file or the new one, never half of either."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with partial.open("w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


# --- invocation helpers -------------------------------------------------------------------
