"""A small, deterministic YAML writer that places comments: the last step of
``lambda-promote github workflow``, turning the workflow (plain dicts and lists built in
``workflow.py``) into the text of ``promote.yml``.

PyYAML cannot write comments, and a generated workflow is read by people, so this writer
knows exactly the YAML subset a workflow needs: block mappings and sequences, short flow
sequences of plain words, literal blocks for scripts, folded blocks for long conditions, and
scalars quoted only when a YAML 1.1 or 1.2 reader could take them for something else.
A value wrapped in ``Note`` carries comment lines above it, a trailing comment, and a blank
line before it. The same data always gives the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

INDENT = "  "
_FLOW_LIMIT = 60
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")
_FLOW_CHARS = set(",[]{}")


@dataclass(frozen=True)
class Note:
    """``value`` with comments: ``above`` lines before its key (or list item), ``trailing``
    after a scalar on the same line, and ``blank`` for an empty line before it."""

    value: Any
    above: tuple[str, ...] = ()
    trailing: str = ""
    blank: bool = False


@dataclass(frozen=True)
class Literal:
    """A multi-line string kept as written (a ``run:`` script): ``|`` block."""

    text: str


@dataclass(frozen=True)
class Folded:
    """A long one-line string written over several lines (``>-`` block): YAML joins the
    lines with single spaces, so a long ``if:`` stays readable."""

    lines: tuple[str, ...]


def strip_notes(value: Any) -> Any:
    """The plain data a YAML reader gets back from ``dump(value)``."""
    if isinstance(value, Note):
        return strip_notes(value.value)
    if isinstance(value, Literal):
        return value.text.rstrip("\n") + "\n"
    if isinstance(value, Folded):
        return " ".join(value.lines)
    if isinstance(value, Mapping):
        return {k: strip_notes(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strip_notes(v) for v in value]
    return value


def dump(document: Mapping[str, Any], *, header: Sequence[str] = ()) -> str:
    """The YAML text of ``document``, after ``header`` written as comment lines."""
    lines = [_comment("", line) for line in header]
    lines += _mapping(document, 0)
    return "\n".join(lines) + "\n"


# --- blocks ------------------------------------------------------------------------------------
def _mapping(mapping: Mapping[str, Any], depth: int) -> list[str]:
    pad = INDENT * depth
    lines: list[str] = []
    for key, raw in mapping.items():
        note = raw if isinstance(raw, Note) else Note(raw)
        lines += _preamble(note, pad)
        lines += _entry(f"{pad}{_key(key)}:", note, depth)
    return lines


def _sequence(items: Sequence[Any], depth: int) -> list[str]:
    pad = INDENT * depth
    lines: list[str] = []
    for raw in items:
        note = raw if isinstance(raw, Note) else Note(raw)
        lines += _preamble(note, pad)
        value = note.value
        if isinstance(value, Mapping) and value:
            inner = _mapping(value, depth + 1)
            # The first key shares the dash's line: "- name: …".
            first = next(i for i, line in enumerate(inner) if line and line.lstrip()[0] != "#")
            lines += inner[:first]
            lines.append(f"{pad}- {inner[first][len(pad) + len(INDENT) :]}")
            lines += inner[first + 1 :]
        else:
            lines += _entry(f"{pad}-", note, depth)
    return lines


def _entry(lead: str, note: Note, depth: int) -> list[str]:
    """``lead`` (``key:`` or ``-``) followed by the value, inline or as a nested block."""
    value = note.value
    trailing = _comment("  ", note.trailing) if note.trailing else ""
    if isinstance(value, Mapping) and value:
        return [lead + trailing, *_mapping(value, depth + 1)]
    if isinstance(value, list | tuple) and value:
        flow = _flow(value)
        if flow is not None:
            return [f"{lead} {flow}{trailing}"]
        return [lead + trailing, *_sequence(value, depth + 1)]
    if isinstance(value, Literal):
        return [f"{lead} |{trailing}", *_block(value.text.rstrip("\n").split("\n"), depth + 1)]
    if isinstance(value, Folded):
        return [f"{lead} >-{trailing}", *_block(list(value.lines), depth + 1)]
    return [f"{lead} {scalar(value)}{trailing}"]


def _preamble(note: Note, pad: str) -> list[str]:
    lines = [""] if note.blank else []
    return lines + [_comment(pad, line) for line in note.above]


def _block(lines: list[str], depth: int) -> list[str]:
    pad = INDENT * depth
    return [f"{pad}{line}" if line else "" for line in lines]


def _flow(items: Sequence[Any]) -> str | None:
    """``[a, b]`` for a short list of plain words; None when it must be a block."""
    if not all(isinstance(i, str) and _plain_ok(i) and not _FLOW_CHARS & set(i) for i in items):
        return None
    text = "[" + ", ".join(items) + "]"
    return text if len(text) <= _FLOW_LIMIT else None


def _comment(pad: str, text: str) -> str:
    return f"{pad}# {text}".rstrip() if text else f"{pad}#"


def _key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"unsupported YAML key {key!r}")
    return key


# --- scalars -----------------------------------------------------------------------------------
def scalar(value: Any) -> str:
    """One scalar as YAML: plain when unambiguous, else single- or double-quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping) and not value:
        return "{}"
    if isinstance(value, list | tuple) and not value:
        return "[]"
    if not isinstance(value, str):
        raise TypeError(f"cannot write {type(value).__name__} as YAML")
    if _plain_ok(value):
        return value
    if "\n" not in value and value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    return json.dumps(value, ensure_ascii=False)


def _plain_ok(text: str) -> bool:
    if not text or text != text.strip() or not text.isprintable():
        return False
    if text[0] in _INDICATORS or ": " in text or " #" in text or text.endswith(":"):
        return False
    # Anything a YAML 1.1 reader would turn into a bool, number or null must be quoted.
    try:
        return bool(yaml.safe_load(text) == text)
    except yaml.YAMLError:
        return False
