"""A hostile handler on the local target: what a pull request's code, run by `deploy staging` in
CI, must not be able to do to the process that deploys it (docs/local-target.md, "Isolation").

Each test is named after the attack it stops. The secret tests run the deployer in a fresh
process started with the secret in its environment and on its command line, under a shell that
holds the secret too, because /proc shows what a process was started with. Linux only: the
attacks and the defences are Linux's (/proc, setsid, Landlock, the child subreaper).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lambda_promote.model import FunctionRef
from lambda_promote.targets.local import LocalTarget
from lambda_promote.targets.local_sandbox import landlock_abi

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's /proc and setsid"),
    pytest.mark.timeout(60),
]
needs_landlock = pytest.mark.skipif(
    landlock_abi() < 1, reason="this kernel has no Landlock: the handler cannot be fenced off"
)

DEPLOYER = Path(__file__).with_name("emulator_deployer.py")

SNOOP = """
import os

def _read(path):
    try:  # non-blocking: a descriptor may lead to a pipe or a terminal
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        return "denied: %s" % exc.strerror
    try:
        return os.read(fd, 1 << 20).decode("utf-8", "replace")
    except OSError as exc:
        return "unreadable: %s" % exc.strerror
    finally:
        os.close(fd)

def handler(event, context):
    pids = {os.getppid(), event["deployer_pid"], event["deployer_parent_pid"], 1}
    try:
        pids.update(int(name) for name in os.listdir("/proc") if name.isdigit())
    except OSError:
        pass
    found = {}
    for pid in sorted(pids):
        for part in ("environ", "cmdline"):
            found["/proc/%d/%s" % (pid, part)] = _read("/proc/%d/%s" % (pid, part))
    for fd in range(3, 64):
        try:
            os.set_blocking(fd, False)
            found["fd %d" % fd] = os.read(fd, 4096).decode("utf-8", "replace")
        except OSError:
            pass
    for fd in range(64):
        found["parent fd %d" % fd] = _read("/proc/%d/fd/%d" % (os.getppid(), fd))
    return found
"""


@pytest.fixture
def secret() -> str:
    return f"adv-secret-{uuid.uuid4().hex}"


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A folder outside /tmp, where a project checkout (and its .lambda-promote/) would be."""
    folder = Path(tempfile.mkdtemp(prefix="lambda-promote-adv-", dir="/var/tmp"))
    try:
        yield folder
    finally:
        subprocess.run(["rm", "-rf", str(folder)], check=False)


def deploy_in_ci(
    folder: Path, source: str, event: dict[str, Any], *, secret: str
) -> dict[str, Any]:
    """Invoke ``source`` once from a deployer process that holds ``secret`` in its environment
    and on its command line, started by a shell that holds it as well."""
    handler = folder / "app_source.py"
    handler.write_text(source, encoding="utf-8")
    root = folder / "project" / ".lambda-promote" / "local"
    root.mkdir(parents=True)
    command = [sys.executable, str(DEPLOYER), str(root), str(handler), json.dumps(event)]
    env = {**os.environ, "DEPLOY_SECRET": secret, "AWS_SECRET_ACCESS_KEY": secret}
    shell = '"$@"; exit $?'  # a second command, so the shell stays alive as an ancestor
    done = subprocess.run(
        ["sh", "-c", shell, "sh", *command, f"--token={secret}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    assert answer["deployer_environ_has_secret"]  # the attack has something to find
    return answer


def test_handler_cannot_read_deployer_environ_via_proc(tmp_path: Path, secret: str) -> None:
    answer = deploy_in_ci(tmp_path, SNOOP, {"timeout_seconds": 20}, secret=secret)

    assert answer["function_error"] is None, answer["payload"]
    assert secret not in json.dumps(answer["payload"])
    assert secret not in answer["logs"]


def test_handler_cannot_read_deployer_cmdline_or_ancestors_via_proc(
    tmp_path: Path, secret: str
) -> None:
    answer = deploy_in_ci(tmp_path, SNOOP, {"timeout_seconds": 20}, secret=secret)

    read = answer["payload"]
    deployer = [key for key in read if key.endswith("/cmdline")]
    assert deployer  # the handler did try
    assert not [key for key, text in read.items() if secret in text]


def test_handler_inherits_no_descriptor_of_the_deployer(tmp_path: Path, secret: str) -> None:
    answer = deploy_in_ci(tmp_path, SNOOP, {"timeout_seconds": 20}, secret=secret)

    leaked = [key for key, text in answer["payload"].items() if "fd" in key and secret in text]
    assert leaked == []


def test_handler_finds_nothing_of_ours_in_its_direct_parents_environ(
    tmp_path: Path, secret: str
) -> None:
    source = (
        "import os\n"
        "def handler(event, context):\n"
        "    try:\n"
        "        return open('/proc/%d/environ' % os.getppid(), 'rb').read().decode()\n"
        "    except OSError as exc:\n"
        "        return 'denied: ' + exc.strerror\n"
    )
    answer = deploy_in_ci(tmp_path, source, {}, secret=secret)

    parent = answer["payload"]
    # Fenced off by Landlock, or else the supervisor, started with Lambda's variables only.
    assert parent == "denied: Permission denied" or "AWS_LAMBDA_FUNCTION_NAME=adversary" in parent
    assert secret not in parent
    assert "DEPLOY_SECRET" not in parent


# --- processes that try to outlive the invocation ---------------------------------------------

DAEMON = """
import json, os, signal, time

def _daemon(pid_file):
    # The classic double fork: the middle process exits, the grandchild has a session of its own.
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            with open(pid_file, "w") as handle:
                json.dump({"daemon": os.getpid()}, handle)
            while True:
                time.sleep(1)
        os._exit(0)
    os.wait()
    for _ in range(500):
        if os.path.exists(pid_file) and os.path.getsize(pid_file):
            return
        time.sleep(0.01)

def handler(event, context):
    _daemon(event["pid_file"])
    if event.get("kill_parent"):
        try:
            os.kill(os.getppid(), signal.SIGKILL)
        except OSError as exc:
            return {"kill_parent": exc.strerror}
    if event.get("ignore_sigterm"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if event.get("hang"):
        while True:
            time.sleep(1)
    return {"ok": True}
"""

STAGING = FunctionRef("staging", "adversary", "live", timeout_seconds=1)


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def publish(target: LocalTarget, tmp_path: Path, source: str, fn: FunctionRef) -> FunctionRef:
    import hashlib
    import zipfile

    from lambda_promote.model import Artifact

    package = tmp_path / "code.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", source)
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    artifact = Artifact(digest=digest, size=package.stat().st_size, path=str(package))
    target.publish(fn, artifact, package)
    target.point_alias(fn, "1", expected_revision=None)
    return fn


@pytest.fixture
def target(tmp_path: Path) -> LocalTarget:
    return LocalTarget(tmp_path / "local", python_for=lambda runtime: sys.executable)


def daemon_pid(pid_file: Path) -> int:
    pid: int = json.loads(pid_file.read_text())["daemon"]
    return pid


def kill_if_alive(pid: int) -> None:
    if is_alive(pid):  # a failing test must not leave the daemon behind
        os.kill(pid, signal.SIGKILL)


def test_setsid_grandchild_is_killed_on_timeout(target: LocalTarget, tmp_path: Path) -> None:
    fn = publish(target, tmp_path, DAEMON, STAGING)
    pid_file = tmp_path / "daemon.json"

    result = target.invoke(fn, {"pid_file": str(pid_file), "hang": True})

    pid = daemon_pid(pid_file)
    try:
        assert result.payload["errorType"] == "Sandbox.Timedout"
        assert not is_alive(pid)
    finally:
        kill_if_alive(pid)


def test_setsid_daemon_is_killed_when_the_handler_returns(
    target: LocalTarget, tmp_path: Path
) -> None:
    fn = publish(target, tmp_path, DAEMON, STAGING)
    pid_file = tmp_path / "daemon.json"

    result = target.invoke(fn, {"pid_file": str(pid_file)})

    pid = daemon_pid(pid_file)
    try:
        assert result.payload == {"ok": True}
        assert not is_alive(pid)
    finally:
        kill_if_alive(pid)


def test_handler_ignoring_sigterm_is_killed_on_timeout(target: LocalTarget, tmp_path: Path) -> None:
    fn = publish(target, tmp_path, DAEMON, STAGING)
    pid_file = tmp_path / "daemon.json"

    result = target.invoke(fn, {"pid_file": str(pid_file), "hang": True, "ignore_sigterm": True})

    pid = daemon_pid(pid_file)
    try:
        assert result.payload["errorType"] == "Sandbox.Timedout"
        assert "Status: timeout" in result.logs
        assert not is_alive(pid)
    finally:
        kill_if_alive(pid)


@pytest.mark.skipif(landlock_abi() < 6, reason="signal scoping needs Landlock ABI 6 (Linux 6.12)")
def test_handler_cannot_kill_its_supervisor_to_orphan_a_daemon(
    target: LocalTarget, tmp_path: Path
) -> None:
    fn = publish(target, tmp_path, DAEMON, STAGING)
    pid_file = tmp_path / "daemon.json"

    result = target.invoke(fn, {"pid_file": str(pid_file), "kill_parent": True})

    pid = daemon_pid(pid_file)
    try:
        assert result.payload == {"kill_parent": "Operation not permitted"}
        assert not is_alive(pid)
    finally:
        kill_if_alive(pid)


# --- output, result file and the file system -------------------------------------------------

FLOOD = """
import os, sys

def handler(event, context):
    chunk = b"y" * 65536
    for _ in range(event["megabytes"] * 16):
        os.write(1, chunk)
    sys.stdout.write("last line\\n")
    return {"ok": True}
"""


def test_endless_output_is_capped_in_memory_and_on_disk(
    target: LocalTarget, tmp_path: Path
) -> None:
    fn = publish(target, tmp_path, FLOOD, replace(STAGING, timeout_seconds=20))
    before = shutil_disk_free(tmp_path)

    result = target.invoke(fn, {"megabytes": 64})

    assert result.payload == {"ok": True}
    assert len(result.logs) < 2 * 1024 * 1024
    assert "bytes of earlier output dropped" in result.logs
    assert "last line" in result.logs
    assert before - shutil_disk_free(tmp_path) < 32 * 1024 * 1024  # the flood never hit the disk


def shutil_disk_free(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


HIJACK_RESULT = """
import os, sys

def handler(event, context):
    runtime = sys.modules["__main__"]
    def forged(path, result):
        if event["how"] == "symlink":
            os.symlink(event["target"], path)
        else:
            with open(path, "w") as handle:
                handle.truncate(event["size"])
    runtime._write_result = forged
    return {"ok": True}
"""


def test_result_symlink_is_not_followed_by_the_deployer(
    target: LocalTarget, tmp_path: Path
) -> None:
    fn = publish(target, tmp_path, HIJACK_RESULT, STAGING)
    private = tmp_path / "deployer-only.json"
    private.write_text(json.dumps({"status": "ok", "body": '"deployer-private"'}))

    result = target.invoke(fn, {"how": "symlink", "target": str(private)})

    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Runtime.ExitError"
    assert "deployer-private" not in json.dumps(result.payload) + result.logs


def test_oversized_result_file_is_not_read_into_memory(target: LocalTarget, tmp_path: Path) -> None:
    fn = publish(target, tmp_path, HIJACK_RESULT, STAGING)

    result = target.invoke(fn, {"how": "sparse", "size": 8 * 1024**3})  # 8 GiB, no blocks

    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Function.ResponseSizeTooLarge"


WRITER = """
def handler(event, context):
    done = {}
    for path in event["paths"]:
        try:
            with open(path, "w") as handle:
                handle.write("hijacked")
            done[path] = "written"
        except OSError as exc:
            done[path] = exc.strerror
    return done
"""


@needs_landlock
def test_handler_cannot_rewrite_aliases_or_the_ledger_outside_tmp(
    outside_tmp: Path, secret: str
) -> None:
    project = outside_tmp / "project"
    alias = project / ".lambda-promote" / "local" / "adversary" / "aliases" / "live.json"
    ledger = project / ".lambda-promote" / "state.db"
    hook = project / ".git" / "hooks" / "post-checkout"
    hook.parent.mkdir(parents=True)
    scratch = f"/tmp/lambda-promote-adv-{uuid.uuid4().hex}"
    event = {"paths": [str(alias), str(ledger), str(hook), scratch]}

    answer = deploy_in_ci(outside_tmp, WRITER, event, secret=secret)

    written = answer["payload"]
    try:
        assert written[str(alias)] == "Permission denied"
        assert written[str(ledger)] == "Permission denied"
        assert written[str(hook)] == "Permission denied"
        assert written[scratch] == "written"  # /tmp is writable, as on Lambda
        assert "hijacked" not in alias.read_text()
    finally:
        Path(scratch).unlink(missing_ok=True)


CAPABILITIES = """
def handler(event, context):
    status = open("/proc/self/status").read().splitlines()
    return {line.split(":")[0]: line.split()[1] for line in status if line.startswith("Cap")}
"""


@needs_landlock
def test_handler_run_as_root_keeps_no_capability(target: LocalTarget, tmp_path: Path) -> None:
    fn = publish(target, tmp_path, CAPABILITIES, STAGING)

    caps = target.invoke(fn, {}).payload

    assert (caps["CapEff"], caps["CapPrm"], caps["CapBnd"]) == ("0" * 16,) * 3
