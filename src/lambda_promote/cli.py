"""The command line (DESIGN §4): the entry point. It loads the commands (commands*.py) onto
the group of ``invocation.py`` and runs it; usage errors exit 2. Thin on purpose: each command
parses, calls the layer that does the work (``release`` for deploy, rollback and run), and
renders. Heavy modules are imported inside the commands that use them, so ``--help`` starts
fast.
"""

from __future__ import annotations

import sys

import click

# Loaded for their side effect: each registers its commands on the group.
from lambda_promote import commands as _commands  # noqa: F401
from lambda_promote import commands_audit as _commands_audit  # noqa: F401
from lambda_promote import commands_aws as _commands_aws  # noqa: F401
from lambda_promote import commands_gate as _commands_gate  # noqa: F401
from lambda_promote import commands_github as _commands_github  # noqa: F401
from lambda_promote import commands_metrics as _commands_metrics  # noqa: F401
from lambda_promote import commands_report as _commands_report  # noqa: F401
from lambda_promote import commands_state as _commands_state  # noqa: F401
from lambda_promote.invocation import cli
from lambda_promote.ui import UI


def main() -> None:
    """Console entry point. Usage errors exit 2, as one JSON object under ``--json``."""
    args = sys.argv[1:]
    if "--json" in args and not _command_name() and not {"-h", "--help", "--version"} & {*args}:
        # click would print the help page: a script that asked for JSON gets one object.
        _json_usage_error("missing command", hint="see `lambda-promote --help` for the commands")
        sys.exit(2)
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.Abort:
        sys.exit(1)
    except click.ClickException as problem:
        if "--json" in args:
            _json_usage_error(problem.format_message(), hint="see --help")
        else:
            problem.show()
        sys.exit(2)


def _json_usage_error(message: str, *, hint: str) -> None:
    error = {"code": "usage", "message": message, "hint": hint}
    body = {"ok": False, "command": _command_name(), "exit_code": 2, "error": error}
    UI(json_mode=True).emit_json(body)


def _command_name() -> str:
    """The first word on the command line that is neither an option nor an option's value."""
    words = iter(sys.argv[1:])
    for word in words:
        if word in ("--config", "--as"):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return ""


if __name__ == "__main__":
    main()
