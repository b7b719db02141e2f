"""Loading promote.yaml: the one entry point every command uses to get a checked ``Config``.

The file goes through four steps, each reporting problems with a line number:

    read_document   (yamlsource.py)   YAML syntax, empty file, duplicate keys
    model_validate  (explain.py)      types and values, unknown keys ("did you mean …?")
    cross_check     (crosscheck.py)   rules spanning fields: promote_from, triggers, gates, URLs
    check_function_source             the handler's module and function exist on disk

Every problem found is reported together as one ``ConfigError`` (exit code 2) whose message
has one ``file:line: field.path: …`` line per problem. Risks that do not stop a deployment
come back as warnings from ``validate``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from lambda_promote.config.bounds import MAX_DOCUMENT_BYTES, check_size
from lambda_promote.config.crosscheck import cross_check
from lambda_promote.config.explain import problems_from
from lambda_promote.config.lookup import require_env
from lambda_promote.config.problems import Problem, config_error
from lambda_promote.config.schema import Config
from lambda_promote.config.sourcecheck import check_function_source
from lambda_promote.config.yamlsource import LocatedDocument, read_document
from lambda_promote.errors import ConfigError

_INIT_HINT = (
    "run `lambda-promote init` here to write a commented promote.yaml "
    "(`--example` adds a working example function), or pass --config PATH"
)


@dataclass(frozen=True)
class ConfigWarning:
    """Something that works but is probably unintended, e.g. an unverified environment."""

    location: str  # "promote.yaml:20"
    message: str  # "environments.production: has an approval gate but no branches rule, …"
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass(frozen=True)
class ValidationReport:
    config: Config
    warnings: list[ConfigWarning] = field(default_factory=list)


def load_config(path: Path, *, check_source: bool = True) -> Config:
    """The checked config at ``path``, remembering where it came from; ``ConfigError`` if not.

    ``check_source=False`` skips the checks of the function's files, for commands that never
    build (status, history, rollback): an emergency rollback must work from a broken tree.
    """
    return validate(path, check_source=check_source).config


def validate(path: Path, *, check_source: bool = True) -> ValidationReport:
    """Like ``load_config``, also returning the warnings."""
    display = display_name(path)
    raw = _read_bytes(path, display)
    check_size(raw, display)
    doc = read_document(_decode(raw, display), display)
    problems = list(doc.problems)
    config: Config | None = None
    try:
        config = Config.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(problems_from(exc, doc))
    if problems or config is None:
        raise config_error(problems, display)
    findings = cross_check(config, doc)
    problems = findings.errors
    if check_source:
        problems += check_function_source(config, doc, path.absolute().parent)
    if problems:
        raise config_error(problems, display)
    config.located_at(path.absolute(), file_sha256=hashlib.sha256(raw).hexdigest())
    return ValidationReport(config, _warnings(findings.warnings, display))


def display_name(path: Path) -> str:
    """``path`` as the user will recognise it: relative to the current folder when inside it."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)


def _read_bytes(path: Path, display: str) -> bytes:
    """The file's bytes, or its first ``MAX_DOCUMENT_BYTES + 1`` when it is larger: enough
    to refuse it without holding a huge file in memory."""
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{display}: file not found", hint=_INIT_HINT) from None
    except IsADirectoryError:
        raise ConfigError(
            f"{display}: is a folder, not a file", hint="pass the file: --config path/promote.yaml"
        ) from None
    except PermissionError:
        raise ConfigError(
            f"{display}: cannot read the file: permission denied",
            hint="check the file's permissions (it needs to be readable by you)",
        ) from None
    except OSError as exc:
        raise ConfigError(f"{display}: cannot read the file: {exc.strerror}") from None


def _decode(raw: bytes, display: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{display}: not UTF-8 text (bad byte at offset {exc.start})",
            hint="save promote.yaml as UTF-8",
        ) from None


def _warnings(found: list[Problem], display: str) -> list[ConfigWarning]:
    return [
        ConfigWarning(
            location=f"{display}:{problem.line}",
            message=problem.described,
            hint=problem.hint,
        )
        for problem in sorted(found, key=lambda p: p.line)
    ]


__all__ = [
    "ConfigWarning",
    "LocatedDocument",
    "ValidationReport",
    "display_name",
    "load_config",
    "require_env",
    "validate",
]
