"""Attack: whatever a pull request or a script feeds the CLI — a mangled promote.yaml, a
nonsense argument list — ends as a documented usage/configuration error, never a traceback
or an "unexpected error".

A seeded generator (the same cases on every run, so a failure can be replayed from its index)
mutates the example project's promote.yaml — lines dropped, doubled, swapped, re-indented,
truncated, values replaced by YAML oddities — and requires each mutant to be valid or be
refused with exit 2 and ``promote.yaml:LINE:``. Argument lists are drawn from the real
commands and options plus junk, and must end with exit 2 (0 for --help/--version) and, under
``--json``, exactly one JSON object. Everything runs in-process through the console entry
point, to stay fast.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lambda_promote import cli
from lambda_promote.config import validate
from lambda_promote.errors import ConfigError, exit_code_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "orders-api"
CONFIG_CASES = 1200
ARGUMENT_CASES = 700

ODD_VALUES = [
    "~", "[]", "{}", "-1", "0", "1e999", ".nan", "-.inf", "0x1F", "0o17", "yes", "off",
    "2024-02-30", "12:30:00", "!!python/object/apply:os.system [id]", "!!binary aGk=", "!custom x",
    "*undefined", "&anchor", "<<: 5", "? complex", "|", ">-", "'", '"', "{", "[", "@", "`",
    "%TAG", "\t", "x" * 5000, "é✓\u202e", "\\udcff", "[[[[[[[[]]]]]]]]",
    "{a: {b: {c: [1, {d: 2}]}}}", "- a\n- b", "null", "NaN", "999999999999999999999999999999",
    "'unterminated", "a: b: c",
]  # fmt: skip


def _replace_value(lines: list[str], rng: random.Random) -> None:
    index = rng.randrange(len(lines))
    key, sep, _ = lines[index].partition(":")
    if sep:
        lines[index] = f"{key}: {rng.choice(ODD_VALUES)}"


def _replace_key(lines: list[str], rng: random.Random) -> None:
    index = rng.randrange(len(lines))
    indent = len(lines[index]) - len(lines[index].lstrip())
    _, sep, rest = lines[index].partition(":")
    if sep:
        key = rng.choice(["", "promote_form", "functoin", "1", "true", "'x'", "<<", "- a", "?"])
        lines[index] = f"{' ' * indent}{key}:{rest}"


def _reindent(lines: list[str], rng: random.Random) -> None:
    index = rng.randrange(len(lines))
    lines[index] = rng.choice([" ", "   ", "\t", ""]) + lines[index].lstrip(" ")


def _drop(lines: list[str], rng: random.Random) -> None:
    del lines[rng.randrange(len(lines))]


def _double(lines: list[str], rng: random.Random) -> None:
    index = rng.randrange(len(lines))
    lines.insert(index, lines[index])


def _swap(lines: list[str], rng: random.Random) -> None:
    a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[a], lines[b] = lines[b], lines[a]


def _insert_char(lines: list[str], rng: random.Random) -> None:
    index = rng.randrange(len(lines))
    at = rng.randrange(len(lines[index]) + 1)
    lines[index] = lines[index][:at] + rng.choice(":-[]{}&*!|>'\"#%@`,? \t") + lines[index][at:]


def _truncate(lines: list[str], rng: random.Random) -> None:
    del lines[rng.randrange(1, len(lines)) :]


MUTATIONS: list[Callable[[list[str], random.Random], None]] = [
    _replace_value, _replace_value, _replace_key, _reindent, _drop, _double, _swap,
    _insert_char, _insert_char, _truncate,
]  # fmt: skip


def mutant(original: list[str], case: int) -> str:
    rng = random.Random(case)
    lines = list(original)
    for _ in range(rng.randint(1, 3)):
        if lines:
            rng.choice(MUTATIONS)(lines, rng)
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "orders-api"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".lambda-promote"))
    return root


# A file with no settings left has no line to point at (tests/unit/test_config_yaml.py).
WHOLE_FILE = re.compile(r"promote\.yaml: the file is empty")


def test_mangled_promote_yaml_is_valid_or_refused_at_a_line(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    original = (EXAMPLE / "promote.yaml").read_text().splitlines()
    config = Path("promote.yaml")
    refused, wrong = 0, []
    for case in range(CONFIG_CASES):
        config.write_text(mutant(original, case))
        try:
            validate(config)
        except ConfigError as error:
            refused += 1
            at_line = re.match(r"promote\.yaml:\d+:", error.message) or WHOLE_FILE.match(
                error.message
            )
            if exit_code_for(error) != 2 or not at_line:
                wrong.append((case, error.message))
    assert wrong == []  # replay one with mutant(original, case)
    assert refused > CONFIG_CASES // 2  # the mutations do bite


COMMANDS = sorted(set(cli.cli.commands) - {"init", "demo", "serve"})  # these act without config
OPTIONS = ["--json", "--debug", "--as", "--config", "--artifact", "--env", "--to", "--reason",
           "--format", "--event", "--branch", "--comment", "--verify", "--bogus", "-x",
           "--"]  # fmt: skip
JUNK = ["staging", "production", "", " ", "-", "--json=1", "é", "\x00x", "a" * 300, "../..",
        "md", "nope", "12", "-1", "d-123", "deadbeef"]  # fmt: skip


def arguments(case: int) -> list[str]:
    rng = random.Random(10_000 + case)
    words = [rng.choice(COMMANDS)] if rng.random() < 0.8 else []
    for _ in range(rng.randint(0, 5)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(OPTIONS + JUNK + COMMANDS))
    return words


def test_nonsense_argument_lists_end_in_a_usage_error_never_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no promote.yaml here: whatever parses, nothing can act
    monkeypatch.setenv("LAMBDA_PROMOTE_CONFIG", str(tmp_path / "missing.yaml"))
    for case in range(ARGUMENT_CASES):
        args = arguments(case)
        monkeypatch.setattr(sys, "argv", ["lambda-promote", *args])
        with pytest.raises(SystemExit) as done:
            cli.main()
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err, (case, args)
        helped = {"--help", "-h", "--version"} & set(args)
        expected = {0, 2} if helped else {2}
        assert done.value.code in expected, (case, args, out, err)
        if "--json" in args and not helped:
            body = json.loads(out)
            assert body["exit_code"] == done.value.code, (case, args)
            assert body["error"]["code"] in ("usage", "config"), (case, args, body)
