"""Attack: a pull request ships a promote.yaml built to exhaust the CI runner that reads it.

A few hundred bytes of YAML anchors and aliases can stand for billions of values ("billion
laughs"); deep nesting can overflow the parser's stack; a huge file takes long just to read.
Each is refused as a configuration error (exit 2) naming ``promote.yaml:LINE:`` — without a
traceback and without expanding anything. The CLI runs in a child process with an address-space
limit, so a regression fails the test instead of exhausting the machine.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from lambda_promote.config import yamlsource
from lambda_promote.config.yamlsource import read_document
from lambda_promote.errors import ConfigError

_MEMORY_LIMIT = 1536 * 1024 * 1024  # far above a real promote.yaml, far below a bomb's need

HEADER = """\
project: bomb
target: local
function: {source: src, handler: app.handler, runtime: python3.12}
environments:
  staging: {function_name: bomb-staging}
"""


def laughs(levels: int) -> str:
    """``levels`` anchors, each a list of nine aliases of the one before: 9**levels strings."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (_MEMORY_LIMIT, _MEMORY_LIMIT))


def validate_in_child(root: Path, text: str) -> tuple[int, dict, str]:
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    (root / "promote.yaml").write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    proc = subprocess.run(
        [sys.executable, "-m", "lambda_promote", "validate", "--json"],
        cwd=root,
        env={**env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=_limit_memory,
    )
    assert "Traceback" not in proc.stderr + proc.stdout
    body = json.loads(proc.stdout)
    assert body["exit_code"] == proc.returncode
    return proc.returncode, body, proc.stderr


def test_billion_laughs_alias_bomb_is_refused_at_the_alias_that_overflows(tmp_path: Path) -> None:
    text = HEADER + "x-bomb:\n" + "  " + laughs(9).replace("\n", "\n  ").rstrip() + "\n"
    code, body, _ = validate_in_child(tmp_path, text)
    assert code == 2
    assert body["error"]["code"] == "config"
    message = body["error"]["message"]
    assert message.startswith("promote.yaml:")
    line = int(message.split(":")[1])
    assert "*l" in text.splitlines()[line - 1]  # the line of an alias, where it overflowed
    assert "alias" in message
    assert "anchor" in body["error"]["hint"]


def test_merge_key_bomb_is_refused_like_an_alias_bomb(tmp_path: Path) -> None:
    lines = ["m0: &m0 {" + ", ".join(f"k{i}: v" for i in range(9)) + "}"]
    for level in range(1, 9):
        merges = ", ".join(f"*m{level - 1}" for _ in range(9))
        own = ", ".join(f"k{level}_{i}: [{merges}]" for i in range(9))
        lines.append(f"m{level}: &m{level} {{<<: [*m{level - 1}], {own}}}")
    code, body, _ = validate_in_child(tmp_path, HEADER + "\n".join(lines) + "\n")
    assert code == 2
    assert body["error"]["message"].startswith("promote.yaml:")


def test_deeply_nested_flow_lists_are_refused_without_a_traceback(tmp_path: Path) -> None:
    code, body, _ = validate_in_child(tmp_path, HEADER + "x: " + "[" * 990 + "]" * 990 + "\n")
    assert code == 2
    assert body["error"]["message"].startswith("promote.yaml:6:")
    assert "deep" in body["error"]["message"]


def test_deeply_nested_block_mappings_are_refused_without_a_traceback(tmp_path: Path) -> None:
    nested = "".join(" " * depth + f"k{depth}:\n" for depth in range(990))
    code, body, _ = validate_in_child(tmp_path, HEADER + nested)
    assert code == 2
    assert body["error"]["message"].startswith("promote.yaml:")
    assert "deep" in body["error"]["message"]


def test_an_alias_that_stacks_a_deep_anchor_deeper_is_refused(tmp_path: Path) -> None:
    """Each anchor is shallow where it is written; through the aliases it is 40 * 40 deep."""
    deep = "[" * 40 + "1" + "]" * 40
    lines = [f"d0: &d0 {deep}"]
    lines += [f"d{i}: &d{i} " + "[" * 39 + f"*d{i - 1}" + "]" * 39 for i in range(1, 40)]
    code, body, _ = validate_in_child(tmp_path, HEADER + "\n".join(lines) + "\n")
    assert code == 2
    assert body["error"]["message"].startswith("promote.yaml:")
    assert "deep" in body["error"]["message"]


def test_an_oversized_promote_yaml_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    padding = "".join(f"# {'x' * 96}\n" for _ in range(30_000))  # ~3 MB of comments
    code, body, _ = validate_in_child(tmp_path, HEADER + padding)
    assert code == 2
    assert body["error"]["message"].startswith("promote.yaml:")
    assert "MB" in body["error"]["message"]


def test_too_many_plain_values_are_refused_like_an_expansion(tmp_path: Path) -> None:
    many = "x: [" + ",".join(["1"] * 200_000) + "]\n"
    code, body, _ = validate_in_child(tmp_path, HEADER + many)
    assert code == 2
    assert body["error"]["message"].startswith("promote.yaml:6:")
    assert "more than 20,000 values" in body["error"]["message"]


@pytest.mark.parametrize("loader", ["libyaml", "pure-python"])
def test_alias_bomb_and_deep_nesting_are_bounded_with_either_yaml_parser(
    loader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyYAML falls back to its pure-Python loader where libyaml is missing; its composer
    recurses once per level and would overflow Python's stack first."""
    if loader == "pure-python":
        monkeypatch.setattr(yamlsource, "_Loader", yamlsource.yaml.SafeLoader)
    elif not hasattr(yamlsource.yaml, "CSafeLoader"):
        pytest.skip("PyYAML was built without libyaml here")
    bomb = HEADER + laughs(9)  # l4, the first anchor past the bound, is on line 10
    deep = HEADER + "x: " + "[" * 500 + "]" * 500 + "\n"
    for text, line in ((bomb, 10), (deep, 6)):
        with pytest.raises(ConfigError) as caught:
            read_document(text, "promote.yaml")
        assert caught.value.message.startswith(f"promote.yaml:{line}:")
