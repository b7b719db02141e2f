"""Failure: the ledger cannot be written — a read-only file or mount (a CI artifact, a
restored backup, a PostgreSQL replica or read-only role) or a full disk.

Reading must still work: ``status``, ``history``, ``show``, ``audit``, ``audit --verify`` and
``report`` succeed and create nothing. Writing commands (``deploy``, ``approve``, ``rollback``)
exit 1 with a message naming the ledger and what to do, and the ledger is byte-for-byte the
same afterwards (compared as a SQL dump).

How the failures are made, honestly, since root ignores file permissions:

* read-only SQLite: as root, a read-only *bind mount* of the ledger's folder in a private
  mount namespace (``unshare``; the commands run in it through ``nsenter``) — writes fail with
  EROFS as on a read-only volume. As another user, ``chmod a-w`` on the file and its folder.
* full disk: a tmpfs of 1 MiB mounted on the ledger's folder in such a namespace, the ledger
  copied in and the rest filled with a file until the kernel says "No space left on device".
* read-only PostgreSQL: a session with ``default_transaction_read_only=on``, as a replica or
  a read-only role gives.

Without the rights to make a mount namespace, the SQLite tests that need one are skipped,
saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cli_project import Project, make_project
from ledger_fixtures import postgres_schema

LEDGER_DIR = "ledger"  # the ledger alone in its own folder: only it is made unwritable
STATE = f"sqlite:///{LEDGER_DIR}/state.db"
READERS = ["status", "history", "show", "audit", "audit --verify", "report", "metrics"]
WRITERS = ["deploy", "approve", "rollback"]


# --- a private mount namespace ---------------------------------------------------------------
def _namespaces_unavailable() -> str | None:
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        return "needs unshare and nsenter (util-linux) to make a private mount namespace"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "mount", "-t", "tmpfs", "x", "/mnt"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"cannot make a private mount namespace here: {probe.stderr.strip()}"
    return None


class MountNamespace:
    """A private mount namespace held open by a sleeping process; what runs through ``run``
    or ``command`` sees the mounts made in it, the rest of the machine does not."""

    def __init__(self) -> None:
        ours = os.readlink("/proc/self/ns/mnt")
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sleep", "3600"]
        )
        deadline = time.monotonic() + 30
        while os.readlink(f"/proc/{self.holder.pid}/ns/mnt") == ours:
            assert time.monotonic() < deadline, "unshare did not make a namespace"
            time.sleep(0.02)

    def command(self, *args: str, cwd: Path | None = None) -> list[str]:
        # Entering a mount namespace resets the working directory: name it.
        wd = [f"--wd={cwd}"] if cwd is not None else []
        return ["nsenter", f"--target={self.holder.pid}", "--mount", *wd, "--", *args]

    def run(self, *args: str) -> str:
        done = subprocess.run(self.command(*args), capture_output=True, text=True, check=False)
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout

    def close(self) -> None:
        self.holder.kill()
        self.holder.wait()


@dataclass
class LockedProject(Project):
    """A project whose commands may run inside a mount namespace."""

    namespace: MountNamespace | None = None
    extra_env: dict[str, str] | None = None

    def popen(
        self, *args: str, user: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        full_env.update({"LAMBDA_PROMOTE_USER": user or self.user, "NO_COLOR": "1"})
        full_env.update({**(self.extra_env or {}), **(env or {})})
        return subprocess.Popen(
            [*self._prefix(), sys.executable, "-m", "lambda_promote", *args, "--json"],
            cwd=self.root,
            env=full_env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def _prefix(self) -> list[str]:
        return [] if self.namespace is None else self.namespace.command(cwd=self.root)


# --- the story before the ledger becomes unwritable -------------------------------------------
@dataclass
class Recorded:
    """Ids of what a reading command shows and a writing one acts on."""

    deployment: str
    request: str


def _record_some_history(project: Project) -> Recorded:
    project.run("deploy", "staging", check=0)
    project.release("r2")
    _, second = project.run("deploy", "staging", check=0)
    _, requested = project.run("request-approval", "production", check=0)
    return Recorded(second["deployment"]["id"], requested["approval_request"]["id"])


def _argv(command: str, recorded: Recorded) -> list[str]:
    return {
        "status": ["status"],
        "history": ["history"],
        "show": ["show", recorded.deployment],
        "audit": ["audit"],
        "audit --verify": ["audit", "--verify"],
        "report": ["report", recorded.deployment, "--format", "md"],
        "metrics": ["metrics", "staging"],
        "deploy": ["deploy", "staging"],
        "approve": ["approve", recorded.request, "--env", "production"],
        "rollback": ["rollback", "staging", "--reason", "drill"],
    }[command]


def _run(project: Project, command: str, recorded: Recorded) -> tuple[int, dict[str, Any], str]:
    user = "ops" if command == "approve" else None  # a reviewer of production
    proc = project.popen(*_argv(command, recorded), user=user)
    out, err = proc.communicate(timeout=180)
    try:
        body = json.loads(out)
    except ValueError as exc:
        raise AssertionError(f"{command}: stdout is not one JSON object: {out!r}\n{err}") from exc
    return proc.returncode, body, err


def _check_reads_work_and_writes_are_refused(
    project: Project, recorded: Recorded, *, error_code: str, names: str
) -> None:
    for command in READERS:
        code, body, err = _run(project, command, recorded)
        assert code == 0, (command, body, err)
    code, body, _ = _run(project, "history", recorded)
    assert recorded.deployment in [d["id"] for d in body["deployments"]]
    code, body, _ = _run(project, "status", recorded)
    assert [a["id"] for a in body["environments"]["production"]["approvals"]] == [recorded.request]
    for command in WRITERS:
        code, body, err = _run(project, command, recorded)
        assert code == 1, (command, body, err)
        assert body["error"]["code"] == error_code, (command, body)
        assert names in body["error"]["message"], (command, body)
        assert "Traceback" not in err
        assert body["error"]["hint"], command


def _sqlite_dump(path: Path, *, prefix: list[str] | None = None) -> str:
    """The ledger's content as SQL, read as it is on disk (immutable: no lock files needed)."""
    script = (
        "import sqlite3, sys, urllib.parse\n"
        "db = sqlite3.connect('file:' + urllib.parse.quote(sys.argv[1]) + '?immutable=1', "
        "uri=True)\n"
        "print('\\n'.join(db.iterdump()))\n"
    )
    done = subprocess.run(
        [*(prefix or []), sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def namespace() -> Iterator[MountNamespace]:
    reason = _namespaces_unavailable()
    if reason:
        pytest.skip(reason)
    space = MountNamespace()
    try:
        yield space
    finally:
        space.close()


# --- the tests --------------------------------------------------------------------------------
def test_a_read_only_sqlite_ledger_is_read_and_never_written(tmp_path: Path) -> None:
    project = LockedProject(make_project(tmp_path / "p", state=STATE).root)
    recorded = _record_some_history(project)
    ledger = project.root / LEDGER_DIR
    before, files_before = _sqlite_dump(ledger / "state.db"), _files(ledger)

    space = None
    if os.geteuid() == 0:  # root writes through permissions: make the mount read-only
        reason = _namespaces_unavailable()
        if reason:
            pytest.skip(f"running as root, so a read-only mount is needed, but {reason}")
        space = MountNamespace()
        space.run("mount", "--bind", str(ledger), str(ledger))
        space.run("mount", "-o", "remount,bind,ro", str(ledger))
        project.namespace = space
    else:
        (ledger / "state.db").chmod(0o444)
        ledger.chmod(0o555)
    try:
        _check_reads_work_and_writes_are_refused(
            project, recorded, error_code="ledger_read_only", names=str(ledger / "state.db")
        )
    finally:
        if space is not None:
            space.close()
        else:
            ledger.chmod(0o755)
            (ledger / "state.db").chmod(0o644)

    assert _sqlite_dump(ledger / "state.db") == before
    assert _files(ledger) == files_before


def test_a_sqlite_ledger_on_a_full_disk_is_read_and_never_half_written(
    tmp_path: Path, namespace: MountNamespace
) -> None:
    project = LockedProject(make_project(tmp_path / "p", state=STATE).root)
    recorded = _record_some_history(project)
    ledger = project.root / LEDGER_DIR
    seed = project.root / "seed.db"
    shutil.copy(ledger / "state.db", seed)
    before = _sqlite_dump(seed)

    namespace.run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(ledger))
    namespace.run("cp", str(seed), str(ledger / "state.db"))
    filled = subprocess.run(
        namespace.command("dd", "if=/dev/zero", f"of={ledger / 'filler'}", "bs=4k"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert "No space left on device" in filled.stderr  # the disk really is full
    project.namespace = namespace

    _check_reads_work_and_writes_are_refused(
        project, recorded, error_code="ledger_full", names=str(ledger / "state.db")
    )
    inside = list(namespace.command())
    assert _sqlite_dump(ledger / "state.db", prefix=inside) == before


def test_reading_a_ledger_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", state=STATE)
    for command in ("status", "history", "audit", "audit --verify"):
        code, body = project.run(*command.split())
        assert code == 0, (command, body)
    _, history = project.run("history")
    assert history["deployments"] == []
    assert not (project.root / LEDGER_DIR).exists()


@pytest.mark.postgres
def test_a_read_only_postgresql_session_reads_the_ledger_and_writes_nothing(
    tmp_path: Path,
) -> None:
    with postgres_schema() as url:
        project = LockedProject(
            make_project(tmp_path / "p").root, extra_env={"LAMBDA_PROMOTE_STATE": url}
        )
        recorded = _record_some_history(project)
        before = _postgres_dump(url)
        read_only = sa.make_url(url)
        options = f"{read_only.query['options']} -c default_transaction_read_only=on"
        read_only = read_only.update_query_dict({"options": options})
        project.extra_env = {"LAMBDA_PROMOTE_STATE": read_only.render_as_string(False)}

        _check_reads_work_and_writes_are_refused(
            project, recorded, error_code="ledger_read_only", names="127.0.0.1"
        )
        assert _postgres_dump(url) == before


def _postgres_dump(url: str) -> dict[str, list[list[str]]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: sorted(
                    [str(v) for v in row]
                    for row in connection.execute(sa.text(f"SELECT * FROM {table}"))
                )
                for table in sorted(sa.inspect(connection).get_table_names())
            }
    finally:
        engine.dispose()
