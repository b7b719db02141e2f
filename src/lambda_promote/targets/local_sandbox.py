"""The local target's supervisor: the one process between lambda-promote and a handler.

``local_process.py`` starts, for each invocation::

    <python> -I -S -B -u -X utf8 local_sandbox.py TIMEOUT WORKDIR -- <runtime command…>

with Lambda's environment only, so the handler's parent shows nothing of ours in /proc. The
supervisor makes itself the child subreaper (Linux), forks the runtime into a session of its own,
fences it in with Landlock where the kernel has it, and waits at most TIMEOUT seconds. Then it
kills every process the handler left behind — a double-forked ``setsid`` daemon too, because an
orphan is re-parented to the nearest subreaper, which is us — and writes one JSON status line
to its stdout. The handler's stdout and stderr are the supervisor's stderr, a pipe the parent
reads with a cap. If lambda-promote goes away, stdin reaches end of file and the supervisor ends
the handler's processes at once.

Landlock (Linux 5.13+, no privileges needed, not undone by root) keeps the handler from reading
other processes in /proc (their environment, command line and descriptors), from writing
anywhere but /tmp, the invocation's folder and /dev/shm, and — from ABI 6 (Linux 6.12) — from
signalling processes outside its domain (this supervisor included). docs/local-target.md says
what is and is not isolated. Runs under the function's runtime: standard library, Python 3.9.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import select
import signal
import struct
import sys
import time
from typing import Any

# Landlock's user API (include/uapi/linux/landlock.h); the syscall numbers are the same on every
# architecture since they were added (the unified syscall table).
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS, _PR_CAPBSET_DROP = 36, 38, 24
_READ_FILE, _READ_DIR = 1 << 2, 1 << 3
_WRITE_FILE, _TRUNCATE, _REFER = 1 << 1, 1 << 14, 1 << 13
_REMOVE_AND_MAKE = sum(1 << bit for bit in (4, 5, 7, 8, 9, 10, 12))  # dir, file, fifo, sym…
# Device nodes may never be made, anywhere: root could otherwise make /tmp/mem or /tmp/sda.
_MAKE_DEVICES = (1 << 6) | (1 << 11)
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
_FILE_RIGHTS = _READ_FILE | _WRITE_FILE | _TRUNCATE  # the only ones a rule on a file may hold
# What the handler may read in /proc and /dev: its own process and harmless system figures,
# never another process (environ, cmdline, fd, mem) and never kernel memory (kcore, mem).
_PROC_READABLE = ("self", "thread-self", "cpuinfo", "meminfo", "stat", "uptime", "loadavg",
                  "version", "sys", "filesystems")  # fmt: skip
# (/dev/fd and /dev/std* lead to /proc/self: bound here they would name the supervisor's.)
_DEV_USABLE = ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm")
_WRITABLE = ("/tmp", "/dev/shm")  # as on Lambda, plus the invocation's folder
_KILL_PATIENCE_S = 5.0  # a process stuck in the kernel may take a moment to die


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    libc.syscall.restype = ctypes.c_long
    return libc


def _syscall(libc: ctypes.CDLL, number: int, *args: object) -> int:
    result = int(libc.syscall(number, *args))
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    return result


def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers, 0 without Landlock (or outside Linux)."""
    libc = _libc()
    if libc is None:
        return 0
    try:
        return _syscall(libc, _SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except OSError:
        return 0


class _Fence:
    """A Landlock ruleset built in the supervisor, applied by the forked child to itself."""

    def __init__(self, libc: ctypes.CDLL, abi: int) -> None:
        self.libc, self.abi = libc, abi
        self.write = _WRITE_FILE | _REMOVE_AND_MAKE
        self.write |= _REFER if abi >= 2 else 0
        self.write |= _TRUNCATE if abi >= 3 else 0
        handled = _READ_FILE | _READ_DIR | _MAKE_DEVICES | self.write
        if abi >= 6:
            scoped = _SCOPE_SIGNAL | _SCOPE_ABSTRACT_UNIX_SOCKET
            attr = struct.pack("=QQQ", handled, 0, scoped)
        else:
            attr = struct.pack("=Q", handled)
        buffer = ctypes.create_string_buffer(attr, len(attr))
        self.fd = _syscall(
            libc, _SYS_CREATE_RULESET, buffer, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0)
        )

    def allow(self, path: str, rights: int) -> None:
        """Allow ``rights`` beneath ``path``; a path that cannot be opened is simply left out."""
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return
        try:
            if not os.path.isdir(f"/proc/self/fd/{fd}"):
                rights &= _FILE_RIGHTS
            rule = struct.pack("=Qi", rights, fd)
            buffer = ctypes.create_string_buffer(rule, len(rule))
            _syscall(
                self.libc, _SYS_ADD_RULE, ctypes.c_int(self.fd),
                ctypes.c_uint32(_RULE_PATH_BENEATH), buffer, ctypes.c_uint32(0),
            )  # fmt: skip
        except OSError:
            pass
        finally:
            os.close(fd)

    def allow_system(self, workdir: str) -> None:
        """Everything readable but /proc and /dev; of those, only the harmless entries."""
        read = _READ_FILE | _READ_DIR
        for name in sorted(os.listdir("/")):
            if name not in ("proc", "dev"):
                self.allow("/" + name, read)
        for name in _PROC_READABLE:
            if name not in ("self", "thread-self"):  # those are the child's, added after fork
                self.allow("/proc/" + name, read)
        for name in _DEV_USABLE:
            self.allow("/dev/" + name, read | _WRITE_FILE | _TRUNCATE)
        for path in (*_WRITABLE, workdir):
            self.allow(path, read | self.write)

    def restrict_self(self) -> None:
        """Apply the fence to the calling process and all it will start; it cannot be undone."""
        self.allow("/proc/self", _READ_FILE | _READ_DIR)  # this child's own pid, not ours
        self.allow("/proc/thread-self", _READ_FILE | _READ_DIR)
        _drop_capabilities(self.libc)
        if self.libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        _syscall(self.libc, _SYS_RESTRICT_SELF, ctypes.c_int(self.fd), ctypes.c_uint32(0))


def _drop_capabilities(libc: ctypes.CDLL) -> None:
    """Empty the bounding set, so a handler run as root execs without any capability (no
    modules, bpf, ptrace, raw devices, DAC override), as on Lambda. Without CAP_SETPCAP (not
    root) there is nothing to drop and prctl fails harmlessly."""
    for capability in range(64):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            if ctypes.get_errno() != errno.EPERM:
                return  # EINVAL: past the kernel's last capability
            if capability == 0:
                return


def _prepare(workdir: str) -> tuple[_Fence | None, dict[str, Any]]:
    """Become the subreaper and build the fence; the report says what holds and what not."""
    libc = _libc()
    if libc is None:
        return None, {"subreaper": False, "landlock": 0, "missing": ["Linux"]}
    subreaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    missing = [] if subreaper else ["the child subreaper"]
    abi = landlock_abi()
    fence: _Fence | None = None
    if abi < 1:
        missing.append("Landlock (Linux 5.13+, enabled, allowed by seccomp)")
    else:
        try:
            fence = _Fence(libc, abi)
            fence.allow_system(workdir)
        except OSError as exc:
            missing.append(f"Landlock ({exc.strerror})")
            fence = None
        if fence is not None and abi < 6:
            missing.append("Landlock signal scoping (Linux 6.12)")
    landlock = abi if fence is not None else 0
    return fence, {"subreaper": subreaper, "landlock": landlock, "missing": missing}


def _start(command: list[str], fence: _Fence | None) -> tuple[int, str]:
    """Fork and exec the runtime; ``(pid, error)``, error being what failed in the child."""
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: set up, then exec; nothing here may return
        try:
            os.close(ready_read)
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(2, 1)  # the handler's stdout and stderr: our stderr, the parent's log pipe
            os.close(devnull)
            if fence is not None:
                fence.restrict_self()
            # Every descriptor of ours is close-on-exec (Python's default, Landlock's too), and
            # lambda-promote passed us none: the runtime starts with 0, 1 and 2 only.
            os.execv(command[0], command)
        except BaseException as exc:  # fail closed: no unfenced handler; say why, then go
            message = f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")[:4000]
            os.write(ready_write, message)
            os.write(2, b"lambda-promote: cannot start the handler: " + message + b"\n")
        os._exit(127)
    os.close(ready_write)
    chunks = []
    while True:  # end of file once the exec succeeded (close-on-exec) or the child died
        chunk = os.read(ready_read, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(ready_read)
    return pid, b"".join(chunks).decode("utf-8", "replace")


def _reap(main: int) -> int | None:
    """Reap every exited child without blocking; the wait status of ``main`` if it was one."""
    status = None
    while True:
        try:
            pid, code = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return status
        if pid == 0:
            return status
        if pid == main:
            status = code


def _wait(main: int, timeout: float) -> tuple[int | None, bool]:
    """``(wait status, timed out)``: until ``main`` exits, the deadline passes, or our parent
    closes stdin (it is gone, or wants the invocation stopped)."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        status = _reap(main)
        if status is not None:
            return status, False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, True
        readable, _, _ = select.select([0], [], [], min(pause, remaining))
        if readable:
            return None, True
        pause = min(pause * 2, 0.02)


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read()


def _children() -> list[int]:
    me = os.getpid()
    try:
        tasks = os.listdir(f"/proc/{me}/task")
        return [
            int(pid) for task in tasks for pid in _read(f"/proc/{me}/task/{task}/children").split()
        ]
    except OSError:
        pass
    found = []
    for name in os.listdir("/proc"):  # no CONFIG_PROC_CHILDREN: read every parent pid
        try:
            fields = _read(f"/proc/{name}/stat").rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if name.isdigit() and int(fields[1]) == me:
            found.append(int(name))
    return found


def _end_all(main: int, status: int | None, subreaper: bool) -> tuple[int | None, bool]:
    """Kill every descendant and reap it. As subreaper every orphan becomes our child, so
    killing our children until none is left ends the whole tree, daemons included. Without
    it (not Linux) only the handler's process group can be reached."""
    if not subreaper:
        with contextlib.suppress(OSError):
            os.killpg(main, signal.SIGKILL)
    deadline = time.monotonic() + _KILL_PATIENCE_S
    while True:
        for pid in _children() if subreaper else [main]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        reaped = _reap(main)
        status = reaped if reaped is not None else status
        try:
            os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return status, True  # no child left, living or dead
        if time.monotonic() > deadline:
            return status, False
        time.sleep(0.002)


def main(argv: list[str]) -> int:
    timeout, workdir, command = float(argv[1]), argv[2], argv[4:]
    fence, report = _prepare(workdir)
    started = time.monotonic()
    pid, error = _start(command, fence)
    if error:
        report["missing"].append(f"a fenced start ({error})")
    status, timed_out = _wait(pid, timeout)
    duration_ms = (time.monotonic() - started) * 1000
    status, ended = _end_all(pid, status, bool(report["subreaper"]))
    outcome = {
        "returncode": None if status is None else os.waitstatus_to_exitcode(status),
        "timed_out": timed_out,
        "duration_ms": duration_ms,
        "all_ended": ended,
        "isolation": report,
    }
    os.write(1, (json.dumps(outcome) + "\n").encode("utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
