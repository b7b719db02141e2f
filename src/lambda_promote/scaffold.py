"""What `lambda-promote init [--example]` writes: the first step of the flow, before `build`.

Without ``--example``: one commented promote.yaml for ``target: aws`` that explains every
section; the function's code (``src/app.py`` by default) is the user's to provide, and
``validate`` says so until it exists. With ``--example``: a promote.yaml for the local target
plus a small working function with one pinned dependency, which validates with no errors and
no warnings, so ``build`` → ``deploy staging`` → approval → ``deploy production`` works at once.
The texts live under ``templates/`` (package data) so they read as the files they become.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path
from string import Template

from lambda_promote.errors import PromoteError, UsageError

CONFIG_NAME = "promote.yaml"
STATE_DIR_PATTERN = ".lambda-promote/"
EXAMPLE_PROJECT = "orders-api"

_GITIGNORE_ENTRY = (
    f"# lambda-promote: ledger, built artifacts and local emulator state\n{STATE_DIR_PATTERN}\n"
)


def write_config(folder: Path, *, example: bool, force: bool = False) -> list[Path]:
    """Write the files of ``init`` into ``folder`` and return their paths.

    Nothing is written when one of the files exists and ``force`` is false (``UsageError``),
    so a second ``init`` never clobbers a config or code. ``.lambda-promote/`` is added to an
    existing .gitignore; the example also creates the .gitignore when there is none.
    """
    planned = {folder / name: text for name, text in _files(folder, example=example).items()}
    existing = [path for path in planned if path.exists()]
    if existing and not force:
        names = ", ".join(str(path.relative_to(folder)) for path in existing)
        verb = "exists" if len(existing) == 1 else "exist"
        raise UsageError(
            f"{names} already {verb} in {folder}",
            hint="pass --force to overwrite (the current contents are lost), "
            "or run init in another folder",
        )
    written: list[Path] = []
    for path, text in planned.items():
        _write(path, text)
        written.append(path)
    gitignore = _ignore_state_dir(folder, create=example)
    if gitignore is not None:
        written.append(gitignore)
    return written


def config_template(project: str) -> str:
    """The commented promote.yaml for ``target: aws`` written by a plain ``init``."""
    return Template(_template("promote-aws.yaml")).safe_substitute(project=project)


def example_files() -> dict[str, str]:
    """The files of ``init --example``, by path relative to the project folder."""
    return {
        CONFIG_NAME: _template("promote-example.yaml"),
        "src/app.py": _template("example/app.py.tmpl"),
        "requirements.txt": _template("example/requirements.txt"),
    }


def project_name(folder: Path) -> str:
    """A project name from the folder's name: lowercase words joined by '-'."""
    words = re.sub(r"[^a-z0-9]+", "-", folder.absolute().name.lower()).strip("-")
    return words[:40].rstrip("-") or "my-function"


def _files(folder: Path, *, example: bool) -> dict[str, str]:
    if example:
        return example_files()
    return {CONFIG_NAME: config_template(project_name(folder))}


def _template(name: str) -> str:
    return (
        files("lambda_promote").joinpath("templates", *name.split("/")).read_text(encoding="utf-8")
    )


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PromoteError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="check that the folder exists and is writable",
        ) from None


def _ignore_state_dir(folder: Path, *, create: bool) -> Path | None:
    """Make git ignore ``.lambda-promote/`` (ledger, artifacts); the path if it changed."""
    path = folder / ".gitignore"
    if not path.exists():
        if not create:
            return None
        _write(path, _GITIGNORE_ENTRY)
        return path
    text = path.read_text(encoding="utf-8", errors="replace")
    entries = {line.strip().strip("/") for line in text.splitlines()}
    if STATE_DIR_PATTERN.strip("/") in entries:
        return None
    separator = "" if not text or text.endswith("\n") else "\n"
    _write(path, text + separator + _GITIGNORE_ENTRY)
    return path
