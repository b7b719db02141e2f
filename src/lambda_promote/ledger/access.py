"""How ``sql.SqlLedger`` reaches its database: reading never writes, writing is prepared on
the first write, and a database failing under either becomes a ``LedgerError`` that says what
happened and what to do.

    reading  → the database as it is: no folder, file, table or migration is created.
               A ledger not created yet reads as empty; a SQLite file on a read-only or full
               disk (where SQLite cannot make its lock files) is read as a snapshot.
    writing  → on the first write only: the SQLite folder is created and the schema is
               created or upgraded (``migrate.ensure_schema``).
    failing  → read-only (permissions, a read-only mount, a read-only PostgreSQL session)
               or full (no space left): named as such; anything else: the database's words.

Each step of a deployment is written before it is done (DESIGN §6), so a ledger that refuses
writes stops a command at its first step, before it changes anything.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from lambda_promote.errors import LedgerError
from lambda_promote.ledger import migrate
from lambda_promote.ledger.engine import (
    empty_engine,
    engine_for,
    reading,
    snapshot_engine,
    sqlite_file,
)

Warn = Callable[[str], None]
# SQLite failures after which a snapshot may still be read: the file or its lock files could
# not be opened or written (read-only, no space). Not "busy" or "locked": a writer is active.
_UNWRITABLE = ("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_FULL")
# PostgreSQL SQLSTATEs: read_only_sql_transaction, insufficient_privilege; disk_full.
_PG_READ_ONLY = ("25006", "42501")
_PG_FULL = ("53100",)
# Less free space than this on the ledger's disk, after a failed write, means "full".
_NEARLY_FULL_BYTES = 256 * 1024
_READERS = "reading commands (status, history, show, audit, report) still work"


class LedgerAccess:
    """The Engine to read with and the Engine to write with, for one ledger URL."""

    def __init__(self, url: URL, *, warn: Warn | None = None) -> None:
        self._url = url
        self.shown = url.render_as_string(hide_password=True)
        self._warn = warn
        self._file = sqlite_file(url)
        self._writer: Engine | None = None
        self._reader: Engine | None = None
        self._disposable: list[Engine] = []
        self._guard = threading.Lock()
        # Whether preparing to write ran the migrations (an up-to-date ledger does not).
        self.schema_upgraded = False

    @classmethod
    def of_engine(cls, engine: Engine) -> LedgerAccess:
        """Access through an Engine someone else prepared: used as it is, never migrated."""
        access = cls(engine.url)
        access._writer = engine
        return access

    def for_reading(self) -> Engine:
        with self._guard:
            if self._writer is not None:
                return self._writer
            if self._reader is None:
                self._reader = self._open_reader()
            return self._reader

    def for_writing(self) -> Engine:
        with self._guard:
            if self._writer is None:
                self._writer = self._open_writer()
            return self._writer

    def dispose(self) -> None:
        engines = [*self._disposable, *([self._writer] if self._writer is not None else [])]
        for engine in dict.fromkeys(engines):
            engine.dispose()

    @contextmanager
    def errors(self, *, writing: bool) -> Iterator[None]:
        """The database failing under us (read-only, full, unreachable, busy past the
        timeout) becomes a LedgerError; the password in the URL is never shown."""
        try:
            yield
        except sa.exc.IntegrityError:
            raise  # each caller gives constraint violations their meaning
        except sa.exc.DBAPIError as error:
            raise self.failure(error.orig, writing=writing) from error

    # --- opening --------------------------------------------------------------------------
    def _open_reader(self) -> Engine:
        if self._file is not None and not self._file.exists():
            return self._keep(empty_engine())  # not created yet: nothing recorded
        engine = self._keep(engine_for(self._url))
        try:
            revision = self._readable_revision(engine)
        except LedgerError as older:
            if older.code != "ledger_schema":
                raise
            return self._upgraded_for_reading(older)
        except sa.exc.DBAPIError as error:
            if not self._snapshot_possible(error.orig):
                raise self.failure(error.orig, writing=False) from error
            engine = self._keep(snapshot_engine(self._file))  # type: ignore[arg-type]
            self._warn_of_left_over_wal()
            with self.errors(writing=False):
                revision = self._readable_revision(engine)
        return engine if revision is not None else self._keep(empty_engine())

    def _upgraded_for_reading(self, older: LedgerError) -> Engine:
        """A ledger of an earlier lambda-promote: upgrade it where it is writable, as every
        command did before reading commands stopped writing (someone who upgrades the tool
        expects ``status`` to work); where it cannot be written, refuse and say why."""
        try:
            self._writer = self._open_writer()
        except LedgerError as error:
            raise older from error
        return self._writer

    def _readable_revision(self, engine: Engine) -> str | None:
        with reading(engine) as connection:
            return migrate.readable_revision(connection, shown_url=self.shown)

    def _open_writer(self) -> Engine:
        if self._file is not None:
            try:
                self._file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                why = f"cannot create {self._file.parent}: {error.strerror}"
                raise self._unwritable(why) from error
        reader = self._reader
        engine = reader if reader is not None and reader.url == self._url else None
        engine = engine or self._keep(engine_for(self._url))
        with self.errors(writing=True):
            self.schema_upgraded = migrate.ensure_schema(engine, shown_url=self.shown)
        return engine

    def _keep(self, engine: Engine) -> Engine:
        self._disposable.append(engine)
        return engine

    def _snapshot_possible(self, orig: BaseException | None) -> bool:
        name = str(getattr(orig, "sqlite_errorname", ""))
        return self._file is not None and name.startswith(_UNWRITABLE)

    def _warn_of_left_over_wal(self) -> None:
        wal = Path(f"{self._file}-wal")
        if self._warn is not None and wal.is_file() and wal.stat().st_size > 0:
            self._warn(
                f"the ledger at {self.shown} cannot be opened for writing here; reading it "
                f"as it is on disk, without {wal.name} ({wal.stat().st_size} bytes): the "
                "last steps recorded may be missing until it is opened where it is writable"
            )

    # --- failing --------------------------------------------------------------------------
    def failure(self, orig: BaseException | None, *, writing: bool) -> LedgerError:
        """The LedgerError for the database's error ``orig``."""
        said = str(orig).strip() or type(orig).__name__
        kind = self._kind(orig) if writing else None
        if kind == "read-only":
            return self._unwritable(said)
        if kind == "full":
            return LedgerError(
                f"the ledger at {self.shown} cannot record this command: no space left ({said})",
                hint="free space on the disk or database holding the ledger, then run the "
                "command again; lambda-promote records each step before doing it, so it "
                f"stopped at the first step it could not record; {_READERS}",
                code="ledger_full",
            )
        return LedgerError(
            f"the ledger at {self.shown} failed: {said}",
            hint="check that the database is reachable and the `state` setting in "
            "promote.yaml; a SQLite file stays busy while another process writes to it",
        )

    def _unwritable(self, said: str) -> LedgerError:
        return LedgerError(
            f"the ledger at {self.shown} is read-only here, and this command must record what "
            f"it does ({said})",
            hint="make the ledger writable (for SQLite the file and its folder; for "
            "PostgreSQL a role and session that may write) or point `state` / "
            "LAMBDA_PROMOTE_STATE at a writable ledger; lambda-promote records each step "
            f"before doing it, so it stopped at the first step it could not record; {_READERS}",
            code="ledger_read_only",
        )

    def _kind(self, orig: BaseException | None) -> str | None:
        name = str(getattr(orig, "sqlite_errorname", ""))
        state = str(getattr(orig, "sqlstate", "") or "")
        if name.startswith("SQLITE_READONLY") or state in _PG_READ_ONLY:
            return "read-only"
        if name == "SQLITE_FULL" or state in _PG_FULL:
            return "full"
        if self._file is not None and name.startswith(("SQLITE_CANTOPEN", "SQLITE_IOERR")):
            return _disk_state(self._file)
        return None


def _disk_state(file: Path) -> str | None:
    """Why SQLite could not open or write ``file``: "read-only", "full", or None."""
    folder = file.parent if file.parent.exists() else file.parent.parent
    try:
        disk = os.statvfs(folder)
    except OSError:
        return None
    if disk.f_flag & os.ST_RDONLY:
        return "read-only"
    writable = os.access(folder, os.W_OK) and (not file.exists() or os.access(file, os.W_OK))
    if not writable:
        return "read-only"
    if disk.f_bavail * disk.f_frsize < _NEARLY_FULL_BYTES:
        return "full"
    return None
