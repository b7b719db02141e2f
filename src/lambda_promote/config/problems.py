"""What every stage of config loading reports: a problem at a line, turned into one error.

The YAML reader, the pydantic translation and the cross-field checks each return
``Problem``s instead of raising, so ``validate`` can show every mistake in a file at once,
in file order, as ``file:line: field.path: what was expected, got …`` lines.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from lambda_promote.errors import ConfigError

FieldPath = tuple[str | int, ...]

# Shown with every config error that has no more specific advice.
REFERENCE_HINT = "see docs/configuration.md for every field, its type and its default"


@dataclass(frozen=True)
class Problem:
    """One mistake (or, for warnings, one risk) found at ``line`` of the file."""

    line: int
    path: FieldPath
    text: str
    hint: str = ""

    @property
    def described(self) -> str:
        """``field.path: text`` (just ``text`` for the file as a whole)."""
        return f"{dotted(self.path)}: {self.text}" if self.path else self.text

    def render(self, display: str) -> str:
        return f"{display}:{self.line}: {self.described}"


def dotted(path: FieldPath) -> str:
    """``("environments", "staging", "checks", 0)`` → ``environments.staging.checks[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def shown(value: object) -> str:
    """A value as the user wrote it, short: strings in double quotes, YAML words for the rest."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, datetime | date):
        return f"a date ({value.isoformat()})"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + '..."'


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to a misspelt ``word``, if one is close enough; a word that
    starts exactly one choice (``prod`` → ``production``) counts as close."""
    options = list(choices)
    starting = [option for option in options if word and option.startswith(word)]
    if len(starting) == 1:
        return starting[0]
    matches = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return matches[0] if matches else None


def config_error(problems: Sequence[Problem], display: str) -> ConfigError:
    """One ``ConfigError`` holding every problem, one line each, in file order.

    The hint gathers the distinct hints of the problems (at most three), so a file with one
    mistake gets its specific advice and a file with many still gets the first ones.
    """
    ordered = sorted(problems, key=lambda p: p.line)
    lines = [p.render(display) for p in ordered]
    hints: list[str] = []
    for problem in ordered:
        if problem.hint and problem.hint not in hints:
            hints.append(problem.hint)
    advice = hints[:3] or [REFERENCE_HINT]
    if len(ordered) > 1:
        advice.append(f"{len(ordered)} problems in {display}; fix them from the top")
    return ConfigError("\n".join(lines), hint="\n".join(advice))
