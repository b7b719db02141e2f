"""The SQLite file of a ``sqlite:///…`` ledger over the standard library's ``sqlite3``, for
``lite.LiteLedger``: the ledger of the hot path (deploy, rollback, status), which would
otherwise spend a third of its time importing SQLAlchemy.

Same file, same guarantees as ``engine.py`` gives the SQLAlchemy ledger: WAL, a 30-second
busy timeout, foreign keys, ``BEGIN IMMEDIATE`` for a transaction that will write, one
consistent snapshot for a read. Same values too, so either ledger reads what the other wrote:
times as SQLAlchemy's SQLite dialect stores them (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC),
booleans as 0/1, JSON as text.

The schema is not written here. This module only opens a file that is already at the
migrations' head (``is_current``); creating or upgrading one stays with Alembic and the
SQLAlchemy ledger (``migrate.py``), the one way a schema changes. Column names and types are
read from the file itself, so whatever columns the migrations made are read and written.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from lambda_promote.errors import LedgerError
from lambda_promote.ledger.rules import utc

BUSY_TIMEOUT_SECONDS = 30  # as engine.BUSY_TIMEOUT_SECONDS
MIGRATIONS = Path(__file__).with_name("migrations") / "versions"
_SCHEME_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")
_STORED_TIME = "%Y-%m-%d %H:%M:%S.%f"


def sqlite_file(url: str, *, root: Path) -> Path | None:
    """The file a plain ``sqlite:///path`` URL names (relative to ``root``), or None for
    anything this module leaves to SQLAlchemy: other databases, in-memory or ``file:`` URIs,
    query options, escapes."""
    prefix = next((p for p in _SCHEME_PREFIXES if url.startswith(p)), None)
    if prefix is None:
        return None
    database = url[len(prefix) :]
    if not database or any(c in database for c in "?%#") or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    path = Path(database).expanduser()
    return path if path.is_absolute() else root / path


def migrations_head(folder: Path = MIGRATIONS) -> str:
    """The newest revision id among the migration scripts (``NNNN_name.py``); a test holds
    it equal to ``migrate.HEAD``, which Alembic's own view of the scripts is checked against."""
    ids = [p.name[:4] for p in folder.glob("[0-9][0-9][0-9][0-9]_*.py")]
    return max(ids, default="")


class LiteDatabase:
    """One ``sqlite3`` connection to the ledger's file, shared by the threads of a process
    (a lock makes them take turns; SQLite serialises writers anyway)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.shown = f"sqlite:///{path}"
        self._lock = threading.RLock()
        with self.failures():
            self._connection = sqlite3.connect(
                str(path),
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,  # BEGIN is ours, as in engine.py
                check_same_thread=False,
            )
            self._connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
            self._connection.execute("PRAGMA journal_mode = WAL")
            self._connection.execute("PRAGMA foreign_keys = ON")
        self._types: dict[str, dict[str, str]] = {}

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    @contextmanager
    def failures(self, *, writing: bool = False) -> Iterator[None]:
        """SQLite failing under us (read-only, full, busy past the timeout) becomes the
        LedgerError the SQLAlchemy ledger gives for it; constraint violations pass through."""
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as error:
            raise self.failure(error, writing=writing) from error

    def failure(self, error: sqlite3.Error, *, writing: bool) -> LedgerError:
        """Worded in one place for both ledgers (``access.py``); SQLAlchemy is imported on
        this path only, when the database has already failed."""
        from lambda_promote.ledger.access import LedgerAccess
        from lambda_promote.ledger.engine import ledger_url

        access = LedgerAccess(ledger_url(f"sqlite:///{self.path}", root=self.path.parent))
        return access.failure(error, writing=writing)

    def revision(self) -> str | None:
        """The schema revision recorded in the file; None when it has none (a new file)."""
        with self.reading() as db:
            if not db.one(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", ["alembic_version"]
            ):
                return None
            found = db.one("SELECT version_num FROM alembic_version")
        return None if found is None else str(found[0])

    def load_types(self) -> None:
        """Each table's column types, as the migrations declared them."""
        with self.reading() as db:
            found = db.all(
                "SELECT m.name, p.name, upper(p.type) FROM sqlite_master AS m "
                "JOIN pragma_table_info(m.name) AS p WHERE m.type = 'table'"
            )
        types: dict[str, dict[str, str]] = {}
        for table, column, declared in found:
            types.setdefault(table, {})[column] = declared
        self._types = types

    @contextmanager
    def writing(self) -> Iterator[Transaction]:
        """``BEGIN IMMEDIATE`` … COMMIT, rolled back on any error."""
        with self._lock, self.failures(writing=True):
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._connection, self._types)
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[Transaction]:
        """One consistent snapshot, always rolled back."""
        with self._lock, self.failures():
            self._connection.execute("BEGIN")
            try:
                yield Transaction(self._connection, self._types)
            finally:
                self._connection.execute("ROLLBACK")


class Transaction:
    """Statements inside one transaction of ``LiteDatabase``; rows come back as objects with
    one attribute per column (what ``rows.py`` reads), times aware and in UTC."""

    def __init__(self, connection: sqlite3.Connection, types: dict[str, dict[str, str]]) -> None:
        self._connection = connection
        self._types = types

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute a statement; the number of rows it changed."""
        cursor = self._connection.execute(sql, [stored(v) for v in params])
        return cursor.rowcount

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        cursor = self._connection.execute(sql, [stored(v) for v in params])
        found: tuple[Any, ...] | None = cursor.fetchone()
        return found

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self._connection.execute(sql, [stored(v) for v in params]).fetchall())

    def insert(self, table: str, row: Mapping[str, Any], *, extra: str = "") -> None:
        """``INSERT INTO table`` the columns of ``row``; ``extra`` adds ``, "col" = (SQL)``
        style computed columns as ``name:sql`` (only the insertion seq uses it)."""
        names = [_quoted(name) for name in row]
        values = ["?"] * len(row)
        if extra:
            name, _, expression = extra.partition(":")
            names.append(_quoted(name))
            values.append(f"({expression})")
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(values)})"
        self.run(sql, list(row.values()))

    def rows(self, table: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """``SELECT * FROM table …``: the rows as attribute objects."""
        cursor = self._connection.execute(
            f"SELECT * FROM {table} {sql}", [stored(v) for v in params]
        )
        names = [d[0] for d in cursor.description]
        types = self._types.get(table, {})
        readers = [_READERS.get(types.get(name, ""), _as_is) for name in names]
        return [
            SimpleNamespace(
                **{n: read(v) for n, read, v in zip(names, readers, values, strict=True)}
            )
            for values in cursor.fetchall()
        ]

    def row(self, table: str, sql: str, params: Sequence[Any] = ()) -> Any:
        found = self.rows(table, sql, params)
        return found[0] if found else None


def placeholders(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def listing(
    *,
    equal: Sequence[tuple[str, object | None]] = (),
    state_in: Sequence[str] | None = None,
    newest_by: str,
    limit: int | None,
    since: datetime | None = None,
) -> tuple[str, list[object]]:
    """The ``WHERE … ORDER BY … LIMIT`` of a newest-first listing, and its parameters:
    columns equal to the values that are not None, ``state`` among ``state_in`` (none: no
    row), ``newest_by`` at or after ``since``, newest first, insertion order breaking ties."""
    where: list[str] = []
    params: list[object] = []
    for column, value in equal:
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if state_in is not None:
        where.append(f"state IN ({placeholders(state_in)})" if state_in else "0")
        params += state_in
    if since is not None:
        # Stored times are fixed-width UTC text: comparing the text compares the instants.
        where.append(f"{newest_by} >= ?")
        params.append(stored(since))
    sql = ("WHERE " + " AND ".join(where)) if where else ""
    sql += f" ORDER BY {newest_by} DESC, seq DESC, id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params


def stored(value: Any) -> Any:
    """A Python value as SQLAlchemy would have stored it in SQLite."""
    if isinstance(value, datetime):
        return utc(value).strftime(_STORED_TIME)
    if isinstance(value, bool):
        return int(value)
    return value


def _quoted(name: str) -> str:
    # "commit" and "rollback" are SQL keywords; every column name is quoted alike.
    return '"' + name.replace('"', '""') + '"'


def _as_is(value: Any) -> Any:
    return value


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _boolean(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


_READERS: dict[str, Callable[[Any], Any]] = {
    "DATETIME": _time,
    "BOOLEAN": _boolean,
    "FLOAT": _number,
}
