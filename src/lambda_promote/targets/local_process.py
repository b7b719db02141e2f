"""Running one invocation of the local target in a child Python process: choosing the
interpreter for the runtime, the child's environment, starting the supervisor
(``local_sandbox.py``) that runs and fences the handler, and reading what came back with caps
(output, status, result file). Split from ``local.py``, which keeps versions and aliases."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import select
import shutil
import signal
import stat
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_promote.errors import TargetError
from lambda_promote.function_config import LOCAL_DEFAULTS, FunctionConfiguration
from lambda_promote.model import FunctionRef
from lambda_promote.targets import local_runtime

ACCOUNT_ID = "000000000000"  # the account Lambda ARNs name on the local target
_LOG_TAIL_BYTES = 1024 * 1024  # a handler printing without end must not fill our memory
_STATUS_BYTES = 64 * 1024  # the supervisor's one status line
# A result holds the answer (at most Lambda's 6 MB, JSON-escaped once more) or an error.
_RESULT_BYTES = 4 * local_runtime.MAX_RESPONSE_BYTES
_SUPERVISOR_GRACE_S = 10.0  # beyond the timeout, for the supervisor to end everything
_DRAIN_S = 2.0  # output still arriving after the supervisor reported (an escaped process)
_RUNTIME_SCRIPT = Path(local_runtime.__file__)
_SANDBOX_SCRIPT = _RUNTIME_SCRIPT.with_name("local_sandbox.py")  # run, never imported here
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
class RunSettings:
    """What one invocation runs with: the version's configuration, Lambda's defaults for
    what it leaves unset, and its layers as folders (a layer ARN cannot be fetched here)."""

    memory_mb: int
    timeout_seconds: int
    variables: dict[str, str]
    layer_paths: tuple[str, ...] = ()

    @classmethod
    def of(cls, configuration: FunctionConfiguration) -> RunSettings:
        defaults = LOCAL_DEFAULTS
        return cls(
            memory_mb=configuration.memory_mb or defaults["memory_mb"],
            timeout_seconds=configuration.timeout_seconds or defaults["timeout_seconds"],
            variables=dict(configuration.variables or {}),
            layer_paths=tuple(
                path for layer in configuration.layers or () for path in layer_paths(layer)
            ),
        )


def layer_paths(layer: str) -> list[str]:
    """Where Lambda's Python runtime finds a layer's modules, for a layer that is a folder:
    its ``python/`` (as ``/opt/python``) when there is one, else the folder itself. A layer
    ARN gives none: the local target cannot download it."""
    if layer.startswith("arn:"):
        return []
    folder = Path(layer)
    python = folder / "python"
    return [str(python.absolute())] if python.is_dir() else [str(folder.absolute())]


@dataclass(frozen=True)
class _Request:
    fn: FunctionRef
    version: str
    qualifier: str
    code_dir: Path
    interpreter: str
    request_id: str
    settings: RunSettings = RunSettings(memory_mb=128, timeout_seconds=30, variables={})

    @property
    def arn(self) -> str:
        name, region = self.fn.function_name, self.fn.region
        return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}:{self.qualifier}"


def _child_env(request: _Request) -> dict[str, str]:
    """Lambda's variables plus the function's own; nothing of ours (no keys, no tokens)."""
    fn = request.fn
    return {
        **request.settings.variables,
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": request.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(request.settings.memory_mb),
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
    """Run one invocation under the supervisor (``local_sandbox.py``) and collect what it left:
    ``returncode``, ``timed_out``, ``duration_ms``, ``output``, ``result`` and ``isolation``."""
    timeout = request.settings.timeout_seconds
    request_file, result_file = workdir / "req.json", workdir / "res.json"
    _write_json(request_file, _request_document(request, event, timeout))
    runtime = [request.interpreter, *_CHILD_FLAGS, str(_RUNTIME_SCRIPT)]
    supervisor = [request.interpreter, *_CHILD_FLAGS, str(_SANDBOX_SCRIPT)]
    command = [*supervisor, str(timeout), str(workdir), "--", *runtime]
    try:
        # No descriptor of ours is passed (close_fds), the environment is Lambda's only, and the
        # supervisor's stdin stays open as long as we want the handler to live.
        child = subprocess.Popen(
            [*command, str(request_file), str(result_file)],
            cwd=request.code_dir,
            env=_child_env(request),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        raise TargetError(
            f"cannot start {request.interpreter}: {exc.strerror}",
            hint=f"install {request.fn.runtime} or put it on PATH",
        ) from None
    started = time.monotonic()
    try:
        status, output = _collect(child, timeout + _SUPERVISOR_GRACE_S)
    finally:
        _stop(child)
    return _outcome(
        status,
        output,
        supervisor_code=child.returncode,
        started=started,
        result_file=result_file,
        request_id=request.request_id,
    )


def _collect(child: subprocess.Popen[bytes], limit_s: float) -> tuple[dict[str, Any] | None, str]:
    """Read the supervisor's status line and the handler's output (its last bytes only) until
    both pipes close, or ``limit_s`` passes (a supervisor that no longer answers)."""
    assert child.stdout is not None
    assert child.stderr is not None
    status, tail = bytearray(), _OutputTail(_LOG_TAIL_BYTES)
    open_pipes = {child.stdout.fileno(): status, child.stderr.fileno(): tail}
    deadline = time.monotonic() + limit_s
    while open_pipes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        readable, _, _ = select.select(list(open_pipes), [], [], remaining)
        for fd in readable:
            chunk = os.read(fd, 65536)
            if not chunk:
                del open_pipes[fd]
                if fd == child.stdout.fileno():  # the supervisor is done: drain briefly, go
                    deadline = min(deadline, time.monotonic() + _DRAIN_S)
            elif fd == child.stdout.fileno():
                status += chunk[: max(_STATUS_BYTES - len(status), 0)]
            else:
                tail.add(chunk)
    return _parse_status(bytes(status)), tail.text()


def _parse_status(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw.decode("utf-8"))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _stop(child: subprocess.Popen[bytes]) -> None:
    """Closing stdin tells a supervisor still running to end the handler's processes; one that
    does not answer is killed with its process group."""
    for pipe in (child.stdin, child.stdout, child.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=_SUPERVISOR_GRACE_S)
    # The supervisor is unreaped until wait() below succeeds, so its group id is still ours.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def _outcome(
    status: dict[str, Any] | None,
    output: str,
    *,
    supervisor_code: int | None,
    started: float,
    result_file: Path,
    request_id: str,
) -> dict[str, Any]:
    if status is None:  # the supervisor died or hung: no answer and no trust in any file
        return {
            "returncode": supervisor_code if supervisor_code is not None else -signal.SIGKILL,
            "timed_out": supervisor_code is None or supervisor_code == -signal.SIGKILL,
            "duration_ms": (time.monotonic() - started) * 1000,
            "output": output,
            "result": None,
            "isolation": {"subreaper": False, "landlock": 0, "missing": ["the supervisor"]},
        }
    timed_out = bool(status.get("timed_out"))
    return {
        "returncode": status.get("returncode"),
        "timed_out": timed_out,
        "duration_ms": float(status.get("duration_ms") or 0.0),
        "output": output,
        "result": None if timed_out else _read_result(result_file, request_id),
        "isolation": status.get("isolation") or {},
    }


def _read_result(path: Path, request_id: str) -> dict[str, Any] | None:
    """The runtime's result file, read with care: the handler runs in the process that writes
    it and may have put a symlink, a huge file or garbage there instead."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None  # missing, or a symlink (ELOOP): no result, as if the runtime had died
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size > _RESULT_BYTES:
            return _too_large(info.st_size, request_id)
        raw = handle.read(_RESULT_BYTES + 1)
    try:
        value = json.loads(raw.decode("utf-8"))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _too_large(size: int, request_id: str) -> dict[str, Any]:
    limit = local_runtime.MAX_RESPONSE_BYTES
    error = {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed "
        f"payload size ({limit} bytes).",
        "requestId": request_id,
    }
    return {"status": "error", "error": error}


class _OutputTail:
    """The last ``limit`` bytes of the handler's output, and how many came before them."""

    def __init__(self, limit: int) -> None:
        self.limit, self.dropped, self.kept = limit, 0, bytearray()

    def add(self, chunk: bytes) -> None:
        self.kept += chunk
        if len(self.kept) > 2 * self.limit:  # trim in large steps, not on every chunk
            self._trim()

    def _trim(self) -> None:
        extra = max(len(self.kept) - self.limit, 0)
        self.dropped += extra
        del self.kept[:extra]

    def text(self) -> str:
        self._trim()
        text = self.kept.decode("utf-8", "replace")
        if self.dropped:
            text = f"[… {self.dropped} bytes of earlier output dropped …]\n{text}"
        return text


def _request_document(request: _Request, event: Any, timeout: int) -> dict[str, Any]:
    return {
        "event": event,
        "handler": request.fn.handler,
        "task_root": str(request.code_dir),
        "request_id": request.request_id,
        "function_name": request.fn.function_name,
        "function_version": request.version,
        "invoked_function_arn": request.arn,
        "memory_mb": request.settings.memory_mb,
        "layer_paths": list(request.settings.layer_paths),
        "deadline_epoch_ms": int(time.time() * 1000) + timeout * 1000,
    }


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
