"""The YAML writer behind the generated workflow: what it writes reads back as the same data,
in any YAML reader, with the comments where a person expects them."""

from __future__ import annotations

import pytest
import yaml

from lambda_promote.github.yamlout import Folded, Literal, Note, dump, scalar, strip_notes

DOCUMENT = {
    "name": "promote orders-api",
    "on": Note({"push": {"branches": ["develop", "main"]}}, above=("when it runs",), blank=True),
    "permissions": {},
    "env": {"VERSION": "3.12", "FLAG": "yes", "EMPTY": "", "HASH": "a # b", "COLON": "a: b"},
    "jobs": {
        "build": {
            "if": Folded(("github.ref == 'refs/heads/main'", "|| inputs.action == 'deploy'")),
            "steps": [
                Note(
                    {"name": "Check out", "uses": Note("x/y@abc", trailing="v1.2.3")},
                    above=("first",),
                ),
                {"run": Literal('echo "${DIGEST}"\nexit 0\n')},
                {"with": {"path": Literal("a/\n!a/b/\n")}},
                "plain item",
            ],
            "needs": ["build", "deploy-staging"],
        }
    },
}


def test_what_is_written_reads_back_as_the_same_data() -> None:
    text = dump(DOCUMENT, header=["generated", "", "by a test"])
    loaded = yaml.safe_load(text)
    expected = strip_notes(DOCUMENT)
    # PyYAML follows YAML 1.1, where a bare `on` key means true; GitHub reads it as "on".
    assert loaded.pop(True) == expected.pop("on")
    assert loaded == expected


def test_the_same_data_always_gives_the_same_bytes() -> None:
    assert dump(DOCUMENT) == dump(DOCUMENT)


def test_comments_sit_above_their_key_and_beside_their_value() -> None:
    text = dump(DOCUMENT, header=["generated"])
    lines = text.splitlines()
    assert lines[0] == "# generated"
    assert lines[lines.index("on:") - 1] == "# when it runs"
    assert lines[lines.index("on:") - 2] == ""
    assert "        uses: x/y@abc  # v1.2.3" in lines
    assert lines[lines.index("      - name: Check out") - 1] == "      # first"


@pytest.mark.parametrize(
    "value",
    [
        "on",
        "yes",
        "no",
        "true",
        "null",
        "~",
        "3.12",
        "1",
        "0x1f",
        "",
        " padded",
        "a: b",
        "a #b",
        "#x",
        "- x",
        "*ref",
        "&a",
        "!tag",
        "{a}",
        "[a]",
        "%x",
        "@x",
        "`x",
    ],
)
def test_scalars_a_reader_could_misread_are_quoted(value: str) -> None:
    written = scalar(value)
    assert written != value or value == ""
    assert yaml.safe_load(f"key: {written}") == {"key": value}


@pytest.mark.parametrize(
    "value",
    ["main", "ubuntu-24.04", "${{ vars.AWS_ROLE_ARN }}", "actions/checkout@abc", "always()"],
)
def test_ordinary_words_and_expressions_stay_plain(value: str) -> None:
    assert scalar(value) == value


def test_multi_line_strings_outside_blocks_are_double_quoted() -> None:
    assert yaml.safe_load("k: " + scalar("a\nb")) == {"k": "a\nb"}


def test_short_lists_of_words_are_written_inline_and_long_ones_as_blocks() -> None:
    assert "needs: [build, deploy-staging]" in dump({"needs": ["build", "deploy-staging"]})
    long = [f"branch-number-{i}" for i in range(8)]
    assert "  - branch-number-0" in dump({"branches": long}).splitlines()


def test_keys_a_workflow_never_has_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported YAML key"):
        dump({"a key": 1})
