"""Where a hot-path process spends its work, counted rather than timed: run one command of our
CLI in this process with two hooks in place, then print a JSON summary on stderr.

    python bench/trace.py deploy staging --artifact abcd…      (in a project folder)

- every SQLite statement, on any connection (SQLAlchemy's pysqlite and the standard-library
  ledger alike both go through ``sqlite3.connect``): statements, write transactions
  (``BEGIN IMMEDIATE``) and commits;
- every AWS API call, by operation (botocore's ``_make_api_call``, the one door of every
  client).

The heavy libraries the process imported are listed too. Used by the hotpath suite once per
command; nothing here is timed.
"""

from __future__ import annotations

import collections
import json
import sqlite3
import sys
from typing import Any

HEAVY = ("boto3", "botocore", "sqlalchemy", "alembic", "pydantic", "yaml", "rich")


def main(argv: list[str]) -> int:
    statements: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    _count_sqlite(statements)
    _count_aws(calls)
    from lambda_promote.cli import main as cli

    sys.argv = ["lambda-promote", *argv]
    code = 0
    try:
        cli()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    finally:
        summary = {
            "exit_code": code,
            "sql_statements": sum(statements.values()),
            "sql_write_transactions": statements["BEGIN IMMEDIATE"],
            "sql_commits": statements["COMMIT"],
            "sql_by_kind": dict(statements.most_common()),
            "api_calls": sum(calls.values()),
            "api_by_operation": dict(sorted(calls.items())),
            "heavy_loaded": [h for h in HEAVY if h in sys.modules],
        }
        print("TRACE " + json.dumps(summary), file=sys.stderr)
    return code


def _count_sqlite(counter: collections.Counter[str]) -> None:
    import sqlite3.dbapi2  # SQLAlchemy's pysqlite connects through this name

    connect = sqlite3.connect

    def counted(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = connect(*args, **kwargs)
        connection.set_trace_callback(lambda sql: counter.update([_kind(sql)]))
        return connection

    sqlite3.connect = sqlite3.dbapi2.connect = counted  # type: ignore[assignment]


def _kind(sql: str) -> str:
    words = sql.strip().split()
    if words[:1] == ["BEGIN"]:
        return " ".join(words[:2]).upper()  # BEGIN or BEGIN IMMEDIATE
    return (words or [""])[0].upper()


def _count_aws(counter: collections.Counter[str]) -> None:
    """Counts calls only if the command imports botocore; installed on its import."""
    import importlib.abc
    import importlib.machinery

    class Hook(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
            if name != "botocore.client":
                return None
            sys.meta_path.remove(self)
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None or spec.loader is None:
                return spec
            original = spec.loader.exec_module

            def exec_module(module: Any) -> None:
                original(module)
                make = module.BaseClient._make_api_call

                def counted(self: Any, operation: str, params: Any) -> Any:
                    counter.update([operation])
                    return make(self, operation, params)

                module.BaseClient._make_api_call = counted

            spec.loader.exec_module = exec_module  # type: ignore[method-assign]
            return spec

    sys.meta_path.insert(0, Hook())


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
