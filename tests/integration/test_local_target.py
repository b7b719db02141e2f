"""The local target with real child processes: versions, aliases and their revision guard, and
invocations that look to the handler and to the caller like Lambda (DESIGN §6)."""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import stat
import sys
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lambda_promote.checks import run_checks
from lambda_promote.config.schema import Check
from lambda_promote.errors import ConflictError, TargetError
from lambda_promote.model import Artifact, FunctionRef, InvokeResult
from lambda_promote.targets import local_runtime
from lambda_promote.targets.local import LocalTarget, interpreter_for

HANDLER = """
import json, logging, os, subprocess, sys, time

logger = logging.getLogger()
logger.setLevel(logging.INFO)
CONTEXT = ("function_name", "function_version", "invoked_function_arn", "memory_limit_in_mb",
           "aws_request_id")


def handler(event, context):
    action = event.get("action")
    if action == "context":
        return {**{name: getattr(context, name) for name in CONTEXT}, "cwd": os.getcwd(),
                "remaining_ms": context.get_remaining_time_in_millis()}
    if action == "environ":
        return dict(os.environ)
    if action == "fail":
        return helper_that_fails(event["message"])
    if action == "log":
        print("printed to stdout")
        logger.info("logged at info")
        print("printed to stderr", file=sys.stderr)
        return {"ok": True}
    if action == "sleep":
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(event["pid_file"], "w") as handle:
            json.dump({"handler": os.getpid(), "grandchild": grandchild.pid}, handle)
        time.sleep(120)
    if action == "big":
        return {"data": "x" * event["size"]}
    if action == "exit":
        os._exit(3)
    if action == "segfault":
        import signal
        os.kill(os.getpid(), signal.SIGSEGV)
    return {"ok": True, "version": VERSION}


def helper_that_fails(message):
    raise ValueError(message)
"""


def make_zip(folder: Path, files: dict[str, str], name: str = "code.zip") -> tuple[Artifact, Path]:
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        for filename, text in files.items():
            archive.writestr(filename, text)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Artifact(digest=digest, size=path.stat().st_size, path=str(path)), path


def handler_zip(tmp_path: Path, version: str = "one") -> tuple[Artifact, Path]:
    code = HANDLER + f"\nVERSION = {version!r}\n"
    return make_zip(tmp_path, {"app.py": code}, name=f"{version}.zip")


STAGING = FunctionRef("staging", "lambda-function-staging", "live", region="eu-west-1")


def function(**changes: Any) -> FunctionRef:
    return replace(STAGING, **changes)


def in_parallel(work: Callable[[int], Any], count: int) -> list[Any]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(work, range(count)))


@pytest.fixture
def target(tmp_path: Path) -> LocalTarget:
    # Pinned to our own interpreter: these tests are about the emulator, not PATH lookups.
    return LocalTarget(tmp_path / "local", python_for=lambda runtime: sys.executable)


def deploy(target: LocalTarget, tmp_path: Path, fn: FunctionRef) -> FunctionRef:
    """Publish HANDLER as version 1 of ``fn`` and point its alias at it."""
    artifact, path = handler_zip(tmp_path)
    target.publish(fn, artifact, path)
    target.point_alias(fn, "1", expected_revision=None)
    return fn


@pytest.fixture
def live(target: LocalTarget, tmp_path: Path) -> FunctionRef:
    return deploy(target, tmp_path, function())


Invoke = Callable[..., InvokeResult]


@pytest.fixture
def invoke(target: LocalTarget, live: FunctionRef) -> Invoke:
    """Invokes the deployed function: ``invoke(event, qualifier=None)``."""
    return functools.partial(target.invoke, live)


def request_id(logs: str) -> str:
    return logs.splitlines()[0].split("RequestId: ")[1].split()[0]


# --- versions ----------------------------------------------------------------------------


def test_publish_numbers_versions_and_reuses_same_code(target: LocalTarget, tmp_path: Path) -> None:
    fn = function()
    one, one_zip = handler_zip(tmp_path, "one")
    two, two_zip = handler_zip(tmp_path, "two")

    first = target.publish(fn, one, one_zip)
    again = target.publish(fn, one, one_zip)
    second = target.publish(fn, two, two_zip)

    assert (first.version, again.version, second.version) == ("1", "1", "2")
    versions = target.list_versions(fn)
    assert [(v.version, v.digest) for v in versions] == [("1", one.digest), ("2", two.digest)]
    assert versions[0].created_at is not None


def test_bytes_not_matching_the_digest_are_refused(target: LocalTarget, tmp_path: Path) -> None:
    fn = function()
    artifact, path = handler_zip(tmp_path)
    path.write_bytes(path.read_bytes() + b"tampered")

    with pytest.raises(TargetError, match=r"hashes to .*refusing to publish"):
        target.publish(fn, artifact, path)

    assert target.list_versions(fn) == []
    assert [p.name for p in (tmp_path / "local" / fn.function_name / "versions").iterdir()] == []


def snapshot(tree: Path) -> dict[str, tuple[bytes, int]]:
    files = sorted(p for p in tree.rglob("*") if p.is_file())
    return {
        str(p.relative_to(tree)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in files
    }


def test_old_versions_never_change(target: LocalTarget, live: FunctionRef, tmp_path: Path) -> None:
    version_one = tmp_path / "local" / live.function_name / "versions" / "1"
    before = snapshot(version_one)
    target.invoke(live, {})

    two, two_zip = handler_zip(tmp_path, "two")
    target.publish(live, two, two_zip)
    target.point_alias(live, "2", expected_revision=target.alias_state(live).revision_id)
    target.invoke(live, {})

    assert snapshot(version_one) == before
    assert before["code/app.py"][1] & 0o222 == 0  # the unpacked code is read-only
    assert target.invoke(live, {}, qualifier="1").payload == {"ok": True, "version": "one"}


def test_concurrent_publishers_get_distinct_versions(target: LocalTarget, tmp_path: Path) -> None:
    fn = function()
    zips = [handler_zip(tmp_path, f"v{i}") for i in range(6)]

    in_parallel(lambda i: target.publish(fn, *zips[i]), 6)

    versions = target.list_versions(fn)
    assert [v.version for v in versions] == ["1", "2", "3", "4", "5", "6"]
    assert {v.digest for v in versions} == {artifact.digest for artifact, _ in zips}


# --- aliases -----------------------------------------------------------------------------


def test_alias_is_created_and_moved_under_its_revision(target: LocalTarget, tmp_path: Path) -> None:
    fn = function()
    one, one_zip = handler_zip(tmp_path, "one")
    two, two_zip = handler_zip(tmp_path, "two")
    target.publish(fn, one, one_zip)
    target.publish(fn, two, two_zip)
    assert target.alias_state(fn).version is None

    created = target.point_alias(fn, "1", expected_revision=None)
    moved = target.point_alias(fn, "2", expected_revision=created.revision_id)

    assert target.alias_state(fn) == moved
    assert (moved.version, moved.digest) == ("2", two.digest)
    assert moved.revision_id not in (None, created.revision_id)
    assert target.invoke(fn, {}).payload == {"ok": True, "version": "two"}


def test_stale_revision_is_conflict(target: LocalTarget, live: FunctionRef, tmp_path: Path) -> None:
    stale = target.alias_state(live).revision_id
    two, two_zip = handler_zip(tmp_path, "two")
    target.publish(live, two, two_zip)
    current = target.point_alias(live, "2", expected_revision=stale)

    with pytest.raises(ConflictError) as conflict:
        target.point_alias(live, "1", expected_revision=stale)
    with pytest.raises(ConflictError):
        target.point_alias(live, "1", expected_revision=None)  # "create" an existing alias

    assert conflict.value.message == (
        f"the alias live of lambda-function-staging was changed by someone else "
        f"(revision {current.revision_id}, expected {stale})"
    )
    assert conflict.value.hint
    assert target.alias_state(live) == current


def test_of_concurrent_alias_writers_one_wins(target: LocalTarget, live: FunctionRef) -> None:
    revision = target.alias_state(live).revision_id

    def move(_: int) -> str:
        try:
            target.point_alias(live, "1", expected_revision=revision)
        except ConflictError:
            return "conflict"
        return "moved"

    outcomes = in_parallel(move, 8)

    assert sorted(outcomes) == ["conflict"] * 7 + ["moved"]


def test_what_does_not_exist_is_a_target_error(target: LocalTarget, live: FunctionRef) -> None:
    revision = target.alias_state(live).revision_id
    with pytest.raises(TargetError, match="version 9 of lambda-function-staging does not exist"):
        target.point_alias(live, "9", expected_revision=revision)
    with pytest.raises(TargetError, match="has no published version"):
        target.invoke(function(function_name="lambda-function-production"), {})
    with pytest.raises(TargetError, match=r"alias canary .* does not exist"):
        target.invoke(live, {}, qualifier="canary")
    with pytest.raises(TargetError, match=r"version 5 .* does not exist"):
        target.invoke(live, {}, qualifier="5")


# --- invocation --------------------------------------------------------------------------


def test_the_handler_sees_a_lambda_context_and_environment_but_no_secrets_of_ours(
    target: LocalTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "parent-secret-key")
    monkeypatch.setenv("GITHUB_TOKEN", "parent-github-token")
    fn = deploy(target, tmp_path, function(memory_mb=256, variables={"TABLE_NAME": "orders"}))

    result = target.invoke(fn, {"action": "context"})
    environ = target.invoke(fn, {"action": "environ"}).payload

    context = result.payload
    assert (result.function_error, result.version) == (None, "1")
    assert context["function_name"] == "lambda-function-staging"
    assert context["function_version"] == "1"
    assert context["invoked_function_arn"] == (
        "arn:aws:lambda:eu-west-1:000000000000:function:lambda-function-staging:live"
    )
    assert context["memory_limit_in_mb"] == "256"  # a string, as on Lambda
    assert context["aws_request_id"] == request_id(result.logs)
    assert 0 < context["remaining_ms"] <= 30_000
    assert Path(context["cwd"]).name == "code"
    assert environ["TABLE_NAME"] == "orders"
    assert (environ["AWS_REGION"], environ["_HANDLER"]) == ("eu-west-1", "app.handler")
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == "lambda-function-staging"
    assert environ["AWS_LAMBDA_FUNCTION_VERSION"] == "1"
    assert "AWS_SECRET_ACCESS_KEY" not in environ
    assert not any("parent-" in value for value in environ.values())


def test_a_version_or_latest_can_be_invoked_directly(invoke: Invoke) -> None:
    by_version = invoke({"action": "context"}, qualifier="1")
    latest = invoke({"action": "context"}, qualifier="$LATEST")

    assert by_version.payload["invoked_function_arn"].endswith(":lambda-function-staging:1")
    assert latest.payload["invoked_function_arn"].endswith(":$LATEST")
    assert latest.payload["function_version"] == "1"


def test_an_exception_comes_back_as_lambda_reports_it(invoke: Invoke) -> None:
    result = invoke({"action": "fail", "message": "boom"})

    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "ValueError"
    assert result.payload["errorMessage"] == "boom"
    assert result.payload["requestId"] == request_id(result.logs)
    trace = result.payload["stackTrace"]
    assert len(trace) == 2  # the handler and its helper; none of the runtime's own frames
    assert "app.py" in trace[0]
    assert "in handler" in trace[0]
    assert "raise ValueError(message)" in trace[1]
    assert "[ERROR] ValueError: boom" in result.logs


# fmt: off
FAULTS = {
    "missing-dependency": ("import left_out", "Runtime.ImportModuleError",
                           "Unable to import module 'app': No module named 'left_out'"),
    # pydantic is installed next to lambda-promote, but it is not in the function's zip.
    "our-packages-invisible": ("import pydantic", "Runtime.ImportModuleError",
                               "Unable to import module 'app': No module named 'pydantic'"),
    "handler-not-found": ("def other(e, c): return 1", "Runtime.HandlerNotFound",
                          "Handler 'handler' missing on module 'app'"),
    "marshal-error": ("def handler(e, c): return {1, 2}", "Runtime.MarshalError",
                      "Unable to marshal response: Object of type set is not JSON serializable"),
}
# fmt: on


@pytest.mark.parametrize("fault", FAULTS)
def test_runtime_faults_look_like_lambdas(target: LocalTarget, tmp_path: Path, fault: str) -> None:
    source, error_type, message = FAULTS[fault]
    artifact, path = make_zip(tmp_path, {"app.py": source + "\n"})
    target.publish(STAGING, artifact, path)

    result = target.invoke(STAGING, {}, qualifier="1")

    assert result.function_error == "Unhandled"
    assert (result.payload["errorType"], result.payload["errorMessage"]) == (error_type, message)


def is_running(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] not in ("Z", "X")  # a zombie has already been killed


def eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 10
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process state in /proc")
@pytest.mark.timeout(60)
def test_timeout_kills_the_handler_and_its_children(target: LocalTarget, tmp_path: Path) -> None:
    fn = deploy(target, tmp_path, function(timeout_seconds=1))
    pid_file = tmp_path / "pids.json"

    result = target.invoke(fn, {"action": "sleep", "pid_file": str(pid_file)})

    rid = request_id(result.logs)
    assert result.function_error == "Unhandled"
    assert result.payload == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds",
    }
    assert f"{rid} Task timed out after 1.00 seconds" in result.logs
    assert "Status: timeout" in result.logs
    pids = json.loads(pid_file.read_text())
    assert eventually(lambda: not is_running(pids["handler"]))
    assert eventually(lambda: not is_running(pids["grandchild"]))


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        ("exit", "Runtime exited with error: exit status 3"),
        ("segfault", "Runtime exited with error: signal: segmentation fault"),
    ],
)
def test_a_crashing_runtime_is_an_exit_error(invoke: Invoke, action: str, reason: str) -> None:
    result = invoke({"action": action})

    assert result.function_error == "Unhandled"
    assert result.payload == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id(result.logs)} Error: {reason}",
    }


def test_the_handlers_output_is_kept_between_start_and_report(invoke: Invoke) -> None:
    result = invoke({"action": "log"})

    rid = request_id(result.logs)
    lines = result.logs.splitlines()
    assert lines[0] == f"START RequestId: {rid} Version: 1"
    assert lines[1] == "printed to stdout"
    assert lines[2].startswith("[INFO]\t")
    assert lines[2].endswith(f"\t{rid}\tlogged at info")
    assert lines[3] == "printed to stderr"
    assert lines[4] == f"END RequestId: {rid}"
    assert lines[5].startswith(f"REPORT RequestId: {rid}\tDuration: ")
    assert "\tBilled Duration: " in lines[5]
    assert "\tMemory Size: 128 MB" in lines[5]


def test_answers_larger_than_a_pipe_arrive_whole_up_to_lambdas_limit(invoke: Invoke) -> None:
    big = invoke({"action": "big", "size": 2_000_000})
    too_big = invoke({"action": "big", "size": 7_000_000})

    assert (big.function_error, big.payload) == (None, {"data": "x" * 2_000_000})
    assert too_big.function_error == "Unhandled"
    assert too_big.payload["errorType"] == "Function.ResponseSizeTooLarge"


def test_health_checks_run_against_the_local_target(target: LocalTarget, live: FunctionRef) -> None:
    checks = [
        Check(name="ping", payload={}, expect={"body": {"ok": True}}),  # type: ignore[arg-type]
        Check(name="fails", payload={"action": "fail", "message": "db down"}),
    ]

    ping, fails = run_checks(target, live, checks)

    assert ping.ok, ping.detail
    assert not fails.ok
    assert fails.detail == "function error Unhandled: ValueError: db down"
    assert "[ERROR] ValueError: db down" in fails.logs


# --- the interpreter ---------------------------------------------------------------------


def other_runtime() -> str:
    ours = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return "python3.13" if ours != "python3.13" else "python3.12"


def test_without_the_runtimes_python_the_handler_runs_on_ours_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A broken shim (as pyenv leaves for versions that are not selected) counts as missing.
    shim = tmp_path / "bin" / other_runtime()
    shim.parent.mkdir()
    shim.write_text("#!/bin/sh\necho 'pyenv: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", str(shim.parent))
    warnings: list[str] = []
    target = LocalTarget(tmp_path / "local", warn=warnings.append)
    fn = function(runtime=other_runtime())
    source = {"app.py": "import sys\ndef handler(e, c): return sys.version"}
    target.publish(fn, *make_zip(tmp_path, source))

    answers = [target.invoke(fn, {}, qualifier="1").payload for _ in range(2)]

    assert answers == [sys.version, sys.version]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{other_runtime()} not found on PATH; running the handler with")


def test_an_interpreter_on_path_is_used_only_if_it_is_that_version(tmp_path: Path) -> None:
    ours = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (tmp_path / ours).symlink_to(sys.executable)
    (tmp_path / other_runtime()).symlink_to(sys.executable)  # a liar

    assert interpreter_for(ours, str(tmp_path)) is not None
    assert interpreter_for(other_runtime(), str(tmp_path)) is None


@pytest.mark.parametrize("runtime", [f"python3.{minor}" for minor in range(9, 14)])
def test_the_child_runtime_works_under_each_python_found(tmp_path: Path, runtime: str) -> None:
    interpreter = interpreter_for(runtime, os.environ.get("PATH", os.defpath))
    if interpreter is None:
        pytest.skip(f"{runtime} is not on PATH")
    target = LocalTarget(tmp_path / "local", python_for=lambda _: interpreter)
    fn = deploy(target, tmp_path, function(runtime=runtime))

    ok = target.invoke(fn, {})
    failed = target.invoke(fn, {"action": "fail", "message": "boom"})

    assert ok.payload == {"ok": True, "version": "one"}
    assert failed.payload["errorType"] == "ValueError"


def test_the_child_runtime_is_python_39_and_standard_library_only() -> None:
    source = Path(local_runtime.__file__).read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source, feature_version=(3, 9))):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(str(node.module).split(".")[0] if node.level == 0 else ".")

    assert imported - {"__future__"} <= sys.stdlib_module_names


def test_the_supervisor_is_python_39_and_standard_library_only() -> None:
    # It runs under the function's runtime too, before the handler's runtime starts.
    source = Path(local_runtime.__file__).with_name("local_sandbox.py").read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source, feature_version=(3, 9))):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(str(node.module).split(".")[0] if node.level == 0 else ".")

    assert imported - {"__future__"} <= sys.stdlib_module_names


def test_without_landlock_the_user_is_warned_once_that_handlers_are_not_fenced(
    tmp_path: Path,
) -> None:
    warnings: list[str] = []
    target = LocalTarget(tmp_path / "local", warn=warnings.append)
    unfenced = {"subreaper": True, "landlock": 0, "missing": ["Landlock (Linux 5.13+)"]}

    for _ in range(3):
        target._warn_once_about_isolation(unfenced)
    target._warn_once_about_isolation({"subreaper": True, "landlock": 4, "missing": []})

    assert len(warnings) == 1
    assert "cannot fence handlers off here (missing: Landlock (Linux 5.13+))" in warnings[0]
    assert "can read the environment of lambda-promote" in warnings[0]
