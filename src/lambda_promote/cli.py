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
from lambda_promote import commands_gate as _commands_gate  # noqa: F401
from lambda_promote import commands_github as _commands_github  # noqa: F401
from lambda_promote import commands_report as _commands_report  # noqa: F401
from lambda_promote.invocation import cli
from lambda_promote.ui import UI

# Options whose value follows them, so the command name is found after it.
_TAKES_VALUE = frozenset({"--config", "--as"})


def main() -> None:
    """Console entry point. Usage errors exit 2, as one JSON object under ``--json``."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.Abort:
        sys.exit(1)
    except click.ClickException as problem:
        if "--json" in sys.argv[1:]:
            UI(json_mode=True).emit_json(
                {
                    "ok": False,
                    "command": _command_name(),
                    "exit_code": 2,
                    "error": {
                        "code": "usage",
                        "message": problem.format_message(),
                        "hint": "see --help",
                    },
                }
            )
        else:
            problem.show()
        sys.exit(2)


def _command_name() -> str:
    """The command named on the command line, skipping options given before it."""
    args = iter(sys.argv[1:])
    for arg in args:
        if arg in _TAKES_VALUE:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return ""


if __name__ == "__main__":
    main()
