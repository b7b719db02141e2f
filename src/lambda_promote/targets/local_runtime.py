"""The local target's Lambda runtime: both ends of one invocation's files, in one module.

Child side (``main``): ``local.py`` starts ``<python> -I -S -B -u -X utf8 local_runtime.py
REQUEST RESULT`` in the function's code directory. The child reads the request file (event,
handler, context values), imports the handler the way Lambda's Python runtime does, calls it with
a Lambda-like context and writes the outcome to the RESULT file — never to stdout, because stdout
and stderr belong to the handler and are captured as its logs.

Parent side (``lambda_answer``): turns what the child left behind (result file, exit status,
timeout, output) into Lambda's answer — payload, ``FunctionError`` and START/END/REPORT logs.

The child runs under the function's runtime (python3.9 … 3.13), not under lambda-promote's
interpreter, so this module imports only the standard library and uses no syntax newer than
Python 3.9. Error payloads follow Lambda's runtime interface client (``awslambdaric``) and the
Lambda service: ``errorMessage``, ``errorType``, ``requestId``, ``stackTrace``, ``Runtime.*``
for import/marshal/exit faults, ``Sandbox.Timedout`` for a timeout.
"""

from __future__ import annotations

import decimal
import importlib
import json
import logging
import math
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

_THIS_FILE = os.path.abspath(__file__)
_LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # Lambda's limit for a synchronous response
_SIGNAL_WORDS = {  # how Lambda words a runtime killed by a signal
    signal.SIGSEGV: "segmentation fault",
    signal.SIGKILL: "killed",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
}


class LambdaContext:
    """What Lambda passes as ``context``. ``memory_limit_in_mb`` is a string, as on Lambda."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.aws_request_id: str = request["request_id"]
        self.function_name: str = request["function_name"]
        self.function_version: str = request["function_version"]
        self.invoked_function_arn: str = request["invoked_function_arn"]
        self.memory_limit_in_mb: str = str(request["memory_mb"])
        self.log_group_name: str = "/aws/lambda/" + self.function_name
        self.log_stream_name: str = request.get("log_stream_name", "")
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline_ms: int = int(request["deadline_epoch_ms"])

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, message: object) -> None:
        sys.stdout.write(str(message))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"function_name={self.function_name},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"memory_limit_in_mb={self.memory_limit_in_mb}])"
        )


class _Fault(Exception):
    """A runtime-level failure with one of Lambda's ``Runtime.*`` error types."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def _load_handler(handler: str) -> Callable[..., Any]:
    """Import ``module.function`` from the task root, failing the way Lambda does."""
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}") from None
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise _Fault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {module_name} as a handler module",
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise _Fault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise _Fault(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_name}': {exc}",
            trace,
        ) from None
    try:
        return getattr(module, function_name)  # type: ignore[no-any-return]
    except AttributeError:
        raise _Fault(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        ) from None


def _user_frames(tb: Any) -> list[str]:
    """The traceback without the runtime's own frames, formatted like Lambda's stackTrace."""
    frames = [
        frame
        for frame in traceback.extract_tb(tb)
        if os.path.abspath(frame.filename) != _THIS_FILE
        and not frame.filename.startswith("<frozen importlib")
    ]
    return traceback.format_list(frames)


def _log_error(error: dict[str, Any]) -> None:
    """Lambda writes every unhandled error to the function's log as well."""
    lines = ["[ERROR] {}: {}".format(error["errorType"], error["errorMessage"])]
    if error["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(line.rstrip("\n") for line in error["stackTrace"])
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _marshal(response: Any) -> str:
    if isinstance(response, (bytes, bytearray)):
        return bytes(response).decode("utf-8", "replace")
    try:
        return json.dumps(response, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise _Fault("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None


def _setup_logging(request_id: str) -> None:
    """The root logger writes Lambda's text format to stdout, like the managed runtime."""

    class _RequestIdFilter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.aws_request_id = request_id
            return True

    handler = logging.StreamHandler(sys.stdout)
    handler.terminator = ""
    formatter = logging.Formatter(_LOG_FORMAT, "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        root.setLevel(level)


def _failure(message: str, error_type: str, trace: list[str], request_id: str) -> dict[str, Any]:
    error = {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": trace,
    }
    return {"status": "error", "error": error}


def _invoke(request: dict[str, Any]) -> dict[str, Any]:
    """Run the handler once; the returned dict is what the parent reads from the result file."""
    request_id = request["request_id"]
    # Init failures carry no request id on Lambda: they happen before any request is taken.
    try:
        handler = _load_handler(request["handler"])
    except _Fault as fault:
        return _failure(fault.message, fault.error_type, fault.trace, "")
    except Exception as exc:
        return _failure(str(exc), type(exc).__name__, _user_frames(exc.__traceback__), "")
    try:
        response = handler(request["event"], LambdaContext(request))
    except Exception as exc:
        trace = _user_frames(exc.__traceback__)
        return _failure(str(exc), type(exc).__name__, trace, request_id)
    try:
        return {"status": "ok", "body": _marshal(response)}
    except _Fault as fault:
        return _failure(fault.message, fault.error_type, fault.trace, request_id)


def _max_memory_kb() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # macOS reports bytes


def _write_result(path: str, result: dict[str, Any]) -> None:
    # Written aside and renamed, so the parent never reads half a result from a killed child.
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump(result, handle, ensure_ascii=False)
    os.replace(partial, path)


def main(argv: list[str]) -> int:
    request_path, result_path = argv[1], argv[2]
    with open(request_path, encoding="utf-8") as handle:
        request = json.load(handle)
    sys.argv = [argv[0]]
    # As Lambda's Python runtime: the task root first, then the layers (/opt/python).
    sys.path[0:0] = [request["task_root"], *request.get("layer_paths", [])]
    _setup_logging(request["request_id"])
    result = _invoke(request)
    if result["status"] == "error":
        _log_error(result["error"])
    result["max_memory_kb"] = _max_memory_kb()
    sys.stdout.flush()
    sys.stderr.flush()
    _write_result(result_path, result)
    return 0


# --- parent side: what Lambda answers --------------------------------------------------------


def lambda_answer(
    run: dict[str, Any], *, request_id: str, version: str, timeout_seconds: int, memory_mb: int
) -> tuple[Any, str | None, str]:
    """``(payload, function_error, logs)`` for one finished child. ``run`` holds ``timed_out``,
    ``returncode``, ``duration_ms``, ``output`` and ``result`` (the result file, or None)."""
    result = run["result"]
    extra_log = ""
    function_error: str | None = "Unhandled"
    if run["timed_out"]:
        message = f"Task timed out after {timeout_seconds:.2f} seconds"
        payload: Any = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: {message}",
        }
        extra_log = f"{_timestamp()} {request_id} {message}\n"
    elif result is None:
        reason = _exit_reason(run["returncode"])
        payload = {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: {reason}",
        }
        extra_log = f"{payload['errorMessage']}\nRuntime.ExitError\n"
    elif result["status"] == "error":
        payload = result["error"]
    else:
        payload, function_error = _decode_body(result["body"], request_id)
    output = run["output"]
    if output and not output.endswith("\n"):
        output += "\n"
    logs = (
        f"START RequestId: {request_id} Version: {version}\n{output}{extra_log}"
        f"END RequestId: {request_id}\n{_report(run, request_id, timeout_seconds, memory_mb)}\n"
    )
    return payload, function_error, logs


def _report(run: dict[str, Any], request_id: str, timeout_seconds: int, memory_mb: int) -> str:
    duration = timeout_seconds * 1000.0 if run["timed_out"] else run["duration_ms"]
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration:.2f} ms",
        f"Billed Duration: {math.ceil(duration)} ms",
        f"Memory Size: {memory_mb} MB",
    ]
    peak_kb = (run["result"] or {}).get("max_memory_kb")
    if peak_kb:
        fields.append(f"Max Memory Used: {math.ceil(peak_kb / 1024)} MB")
    if run["timed_out"]:
        fields.append("Status: timeout")
    return "\t".join(fields)


def _decode_body(body: str, request_id: str) -> tuple[Any, str | None]:
    size = len(body.encode("utf-8"))
    if size > MAX_RESPONSE_BYTES:
        return {
            "errorType": "Function.ResponseSizeTooLarge",
            "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed "
            f"payload size ({MAX_RESPONSE_BYTES} bytes).",
            "requestId": request_id,
        }, "Unhandled"
    try:
        return json.loads(body), None
    except (ValueError, RecursionError):  # RecursionError: nested past what json can follow
        return body, None  # a handler returning bytes that are not JSON


def _exit_reason(returncode: int) -> str:
    if returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode < 0:
        try:
            number = signal.Signals(-returncode)
            word = _SIGNAL_WORDS.get(number, number.name.lower())
        except ValueError:
            word = f"signal {-returncode}"
        return f"Runtime exited with error: signal: {word}"
    return f"Runtime exited with error: exit status {returncode}"


def _timestamp() -> str:
    now = time.time()
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(now))}.{int(now % 1 * 1000):03d}Z"


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
