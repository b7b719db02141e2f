"""A function's answer to a health check, made safe to judge, show and record.

Targets decode an answer leniently, as the Lambda console shows it: Python's ``json`` reads
``NaN`` and ``Infinity``, and a ``\\udcff`` escape becomes text no database can store. The
function under test is not trusted, so ``checks.evaluate`` passes every answer through
``safe_answer`` first: what comes out is plain JSON — finite numbers, valid Unicode, text keys,
at most ``MAX_DEPTH`` levels — and whatever had to be replaced is listed as a problem naming
its place (``NaN at answer.value``), which fails the check. Nothing downstream (matching, the
ledger, reports, ``--json``) ever sees a value it cannot handle, so a hostile answer ends as a
failed check and a verified rollback (exit 3), never as an exception after traffic moved.

``recordable`` then bounds what the ledger keeps of an answer (a valid answer may be up to
Lambda's 6 MB; every check of every bake round is recorded).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

# Deeper than any expect.body (promote.yaml itself is limited to 50 levels), shallow enough
# that nothing walking the answer recursively comes near Python's recursion limit.
MAX_DEPTH = 64
MAX_RECORDED_CHARS = 64 * 1024
_MAX_INT_BITS = 4000 * 3  # well inside the 4,300 digits Python will write as text
_MAX_PROBLEMS = 3


@dataclass
class SafeAnswer:
    value: Any
    problems: list[str] = field(default_factory=list)

    @property
    def described(self) -> str:
        """One line for a check's detail; empty when the answer was plain JSON."""
        if not self.problems:
            return ""
        shown = self.problems[:_MAX_PROBLEMS]
        more = len(self.problems) - len(shown)
        tail = f" and {more} more" if more > 0 else ""
        return f"the answer is not plain JSON: {', '.join(shown)}{tail}"


def safe_answer(value: Any, *, name: str = "answer") -> SafeAnswer:
    """``value`` as plain JSON, and what had to be replaced to make it so, each place
    named from ``name`` (``NaN at answer.items[2]``)."""
    answer = SafeAnswer(None)
    answer.value = _safe(value, name, 0, answer.problems)
    return answer


def recordable(value: Any) -> Any:
    """``value`` (already safe) as the ledger keeps it: itself, or — past
    ``MAX_RECORDED_CHARS`` of JSON — the start of its JSON text saying how much was cut."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    if len(text) <= MAX_RECORDED_CHARS:
        return value
    return (
        f"[answer of {len(text):,} characters; the first {MAX_RECORDED_CHARS:,} are kept] "
        + text[:MAX_RECORDED_CHARS]
    )


def _safe(value: Any, path: str, depth: int, problems: list[str]) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _text(value, path, problems)
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            digits = int(value.bit_length() * math.log10(2))
            problems.append(f"an integer of about {digits:,} digits at {path}")
            return "<integer too long>"
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        word = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        problems.append(f"{word} at {path}")
        return word
    if depth >= MAX_DEPTH and isinstance(value, dict | list | tuple):
        problems.append(f"nested more than {MAX_DEPTH} levels at {path}")
        return f"<nested more than {MAX_DEPTH} levels>"
    if isinstance(value, dict):
        return {
            _text(str(key), path, problems): _safe(item, _child(path, key), depth + 1, problems)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_safe(item, f"{path}[{i}]", depth + 1, problems) for i, item in enumerate(value)]
    problems.append(f"a {type(value).__name__} at {path}")
    return f"<{type(value).__name__}>"


def safe_text(value: str) -> str:
    """``value`` with anything that is not valid Unicode (lone surrogates) replaced."""
    return _text(value, "", [])


def _text(value: str, path: str, problems: list[str]) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        problems.append(f"text that is not valid Unicode at {path}")
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def _child(path: str, key: Any) -> str:
    text = str(key)
    return f"{path}.{text}" if text.isidentifier() else f"{path}[{json.dumps(text)}]"
