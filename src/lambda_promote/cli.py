"""The command line (DESIGN §4): parse, call ``service``, render. Thin on purpose.

Every command takes ``--config``, ``--json``, ``--debug`` and ``--as``. Errors become exit codes
in exactly one place (``errors.exit_code_for``); tracebacks appear only with ``--debug``.
Heavy modules (the build, the ledger, targets) are imported inside the commands that use them,
so ``--help`` starts fast.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lambda_promote import __version__
from lambda_promote.errors import PromoteError, exit_code_for
from lambda_promote.ui import UI

if TYPE_CHECKING:
    from lambda_promote.notify.redact import Redactor
    from lambda_promote.workspace import Workspace


@dataclass
class Outcome:
    """What a command produced: extra ``--json`` keys and the human result for stdout."""

    data: dict[str, Any] = field(default_factory=dict)
    text: str | None = None


@dataclass
class Invocation:
    config_path: Path
    json_mode: bool
    debug: bool
    actor_name: str | None
    ui: UI
    _workspace: Workspace | None = None
    _redactor: Redactor | None = None

    def workspace(self, *, check_source: bool = False) -> Workspace:
        """The loaded config and its parts. ``check_source`` also checks the function's
        source folder and handler: only commands that build need it, so a broken ``src/``
        never blocks an emergency rollback."""
        if self._workspace is None:
            from lambda_promote.config import load_config
            from lambda_promote.notify.redact import secret_names
            from lambda_promote.workspace import Workspace

            config = load_config(self.config_path, check_source=check_source)
            self.keep_secret(secret_names(config.notifications))
            self._workspace = Workspace(config=config, ui=self.ui, actor=self.actor())
        return self._workspace

    def keep_secret(self, names: Iterable[str]) -> Redactor:
        """Redact, from here on, the values of the variables promote.yaml names as secret
        besides the well-known ones (DESIGN §5.8)."""
        from lambda_promote.notify.redact import Redactor

        self._redactor = self.ui.scrub = Redactor.from_environ(os.environ, names=names)
        return self._redactor

    def actor(self) -> str:
        from lambda_promote.workspace import acting_user

        return acting_user(self.actor_name)

    def redact(self, value: Any) -> Any:
        """``value`` with every secret of the environment replaced by its variable's name
        (DESIGN §5.8): handler logs or a notifier's error must not carry one to the output."""
        return (self._redactor or self.keep_secret(())).deep(value)

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()


CommandBody = Callable[..., Outcome]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="lambda-promote")
def cli() -> None:
    """Build a Lambda function once, prove it in staging, promote the same bytes to production
    behind an approval gate, and roll back — verified — when anything fails."""


def command(
    name: str, *, group: click.Group | None = None
) -> Callable[[CommandBody], click.Command]:
    """Register ``body`` as a command of ``group`` (default: the top level) with the common
    options and the one error handler."""
    parent = group or cli
    full_name = name if group is None else f"{group.name} {name}"

    def decorate(body: CommandBody) -> click.Command:
        @click.option(
            "--as",
            "actor_name",
            metavar="NAME",
            help="Act as NAME (see README: claimed, not proven).",
        )
        @click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
        @click.option("--json", "json_mode", is_flag=True, help="Print one JSON object on stdout.")
        @click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path, dir_okay=False),
            default=Path("promote.yaml"),
            envvar="LAMBDA_PROMOTE_CONFIG",
            show_default=True,
            help="The promote.yaml to use.",
        )
        @functools.wraps(body)
        def run(
            config_path: Path, json_mode: bool, debug: bool, actor_name: str | None, **kw: Any
        ) -> None:
            inv = Invocation(config_path, json_mode, debug, actor_name, UI(json_mode=json_mode))
            sys.exit(execute(full_name, inv, lambda: body(inv, **kw)))

        return parent.command(name)(run)

    return decorate


def execute(name: str, inv: Invocation, call: Callable[[], Outcome]) -> int:
    from lambda_promote.render import jsonable

    ui = inv.ui
    try:
        outcome = call()
        error: PromoteError | None = None
        exit_code = 0
    except PromoteError as caught:
        error, exit_code, outcome = caught, exit_code_for(caught), Outcome(data=caught.payload)
        error.message, error.hint = inv.redact(error.message), inv.redact(error.hint)
        _report_error(ui, caught, exit_code)
    except KeyboardInterrupt:
        error = PromoteError("interrupted", code="interrupted")
        exit_code, outcome = 1, Outcome()
        ui.error("interrupted")
    except Exception as unexpected:
        if inv.debug:
            traceback.print_exc(file=ui.err)
        error = PromoteError(
            f"unexpected error: {type(unexpected).__name__}: {unexpected}",
            hint="run again with --debug to see the traceback, and please report it",
            code="unexpected",
        )
        exit_code, outcome = 1, Outcome()
        ui.error(error.message, error.hint)
    finally:
        inv.close()
    if inv.json_mode:
        body: dict[str, Any] = {
            "ok": error is None,
            "command": name,
            "exit_code": exit_code,
            "error": None
            if error is None
            else {"code": error.code, "message": error.message, "hint": error.hint},
        }
        body.update(jsonable(outcome.data))
        if ui.warnings:
            body.setdefault("warnings", ui.warnings)
        ui.emit_json(inv.redact(body))
    elif outcome.text:
        ui.result(inv.redact(outcome.text))
    return exit_code


def _report_error(ui: UI, error: PromoteError, exit_code: int) -> None:
    if exit_code == 4:
        ui.loud(error.message)
        if error.hint:
            ui.detail(f"hint: {error.hint}")
    else:
        ui.error(error.message, error.hint)


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


# Commands live in their own module so this one stays a thin frame.
from lambda_promote import commands as _commands  # noqa: E402, F401
from lambda_promote import commands_audit as _commands_audit  # noqa: E402, F401
from lambda_promote import commands_aws as _commands_aws  # noqa: E402, F401
from lambda_promote import commands_gate as _commands_gate  # noqa: E402, F401
from lambda_promote import commands_github as _commands_github  # noqa: E402, F401
from lambda_promote import commands_report as _commands_report  # noqa: E402, F401

if __name__ == "__main__":
    main()
