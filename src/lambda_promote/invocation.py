"""One run of the command line: the options every command takes, the ``Invocation`` they
make, the ``command`` decorator the commands*.py modules register with, and the one place
errors become exit codes (``errors.exit_code_for``; tracebacks only with ``--debug``).

``--config``, ``--json``, ``--debug`` and ``--as`` are accepted before the command name as
well as after it (DESIGN §11.1): the top-level group takes them too, and a command falls back
to the group's value for any it was not given. cli.py is the entry point that loads the
commands; this module imports none of them, so the two never import each other.
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
from lambda_promote.signals import interrupts_once
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
            from lambda_promote.config import snapshot
            from lambda_promote.notify.redact import secret_names
            from lambda_promote.workspace import Workspace

            # promote.yaml unchanged since it was last validated: no YAML, no pydantic.
            config = snapshot.load(self.config_path, check_source=check_source)
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


def _common_options(*, top: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The four options. At the top they carry the defaults; after the command name they
    default to "not given", so ``lambda-promote --json status`` ≡ ``status --json``."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.option(
            "--as",
            "actor_name",
            metavar="NAME",
            help="Act as NAME (see README: claimed, not proven).",
        )(f)
        f = click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")(f)
        f = click.option(
            "--json", "json_mode", is_flag=True, help="Print one JSON object on stdout."
        )(f)
        return click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path, dir_okay=False),
            default=Path("promote.yaml") if top else None,
            envvar="LAMBDA_PROMOTE_CONFIG" if top else None,
            show_default=top,
            help="The promote.yaml to use."
            if top
            else "The promote.yaml to use (default: ./promote.yaml, or $LAMBDA_PROMOTE_CONFIG).",
        )(f)

    return decorate


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="lambda-promote")
@_common_options(top=True)
def cli(config_path: Path, json_mode: bool, debug: bool, actor_name: str | None) -> None:
    """Build a Lambda function once, prove it in staging, promote the same bytes to production
    behind an approval gate, and roll back — verified — when anything fails."""


def _top_level(name: str) -> Any:
    """The value of a common option given before the command name (or its default)."""
    context = click.get_current_context(silent=True)
    return context.find_root().params.get(name) if context is not None else None


def command(
    name: str, *, group: click.Group | None = None
) -> Callable[[CommandBody], click.Command]:
    """Register ``body`` as a command of ``group`` (default: the top level) with the common
    options and the one error handler."""
    parent = group or cli
    full_name = name if group is None else f"{group.name} {name}"

    def decorate(body: CommandBody) -> click.Command:
        @_common_options(top=False)
        @functools.wraps(body)
        def run(
            config_path: Path | None,
            json_mode: bool,
            debug: bool,
            actor_name: str | None,
            **kw: Any,
        ) -> None:
            json_mode = json_mode or bool(_top_level("json_mode"))
            inv = Invocation(
                config_path or _top_level("config_path") or Path("promote.yaml"),
                json_mode,
                debug or bool(_top_level("debug")),
                actor_name or _top_level("actor_name"),
                UI(json_mode=json_mode),
            )
            sys.exit(execute(full_name, inv, lambda: body(inv, **kw)))

        return parent.command(name)(run)

    return decorate


def execute(name: str, inv: Invocation, call: Callable[[], Outcome]) -> int:
    from lambda_promote.output import jsonable

    ui = inv.ui
    try:
        with interrupts_once():  # SIGTERM (a cancelled CI job) stops a command as Ctrl-C does
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
