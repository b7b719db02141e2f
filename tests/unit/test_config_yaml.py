"""promote.yaml as a file: present, readable, valid YAML with one mapping on top, no duplicate
keys; anchors and merge keys work; values keep their line numbers for every message.
Schema mistakes are in test_config.py, rules across fields in test_config_rules.py.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lambda_promote.config import load_config
from lambda_promote.config.yamlsource import read_document
from lambda_promote.errors import ConfigError, exit_code_for


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    return tmp_path


def write(text: str) -> Path:
    path = Path("promote.yaml")
    path.write_text(textwrap.dedent(text))
    return path


def refusal(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(write(text))
    assert exit_code_for(caught.value) == 2
    return caught.value


DUPLICATES = """\
project: demo
environments:
  staging:
    function_name: fn
    checks:
      - name: ping
  production:
    function_name: fn-prod
    checks:
      - name: ping
    region: eu-west-1
    checks: []
project: again
"""


def test_duplicate_keys_are_refused_naming_both_lines(project: Path) -> None:
    error = refusal(DUPLICATES)
    assert error.message.splitlines() == [
        "promote.yaml:12: environments.production: duplicate key 'checks' (first at line 9)",
        "promote.yaml:13: duplicate key 'project' (first at line 1)",
    ]
    assert "only one of them" in error.hint


def test_merge_keys_share_settings_and_are_not_duplicates(project: Path) -> None:
    config = load_config(
        write(
            """\
            project: demo
            function: {}
            environments:
              staging: &base
                function_name: fn-staging
                region: eu-west-1
                checks: [{name: ping, payload: {action: ping}}]
              production:
                <<: *base
                function_name: fn-production
            """
        )
    )
    production = config.environments["production"]
    assert production.function_name == "fn-production"
    assert production.region == "eu-west-1"
    assert production.checks[0].payload == {"action": "ping"}


def test_a_large_real_world_file_sharing_anchors_is_within_the_bounds() -> None:
    """The alias-bomb bounds (tests/adversarial/test_adv_yaml_bomb.py) leave ample room: 40
    environments, each merging shared defaults and ten checks with nested payloads."""
    checks = "\n".join(
        f"    - {{name: c{i}, payload: {{a: {{b: {{c: [1, 2, {{d: {i}}}]}}}}}}, "
        f"expect: {{body: {{ok: true}}}}}}"
        for i in range(10)
    )
    envs = "\n".join(
        f"  env{i}:\n    <<: *defaults\n    function_name: fn-{i}\n    checks: *checks"
        for i in range(40)
    )
    text = (
        "project: big\n"
        f"_checks: &checks\n{checks}\n"
        "_defaults: &defaults\n  region: eu-west-1\n  variables: {A: '1', B: '2'}\n"
        f"environments:\n{envs}\n"
    )
    doc = read_document(text, "promote.yaml")
    assert len(doc.data["environments"]) == 40
    assert doc.data["environments"]["env39"]["checks"][9]["payload"]["a"]["b"]["c"][2] == {"d": 9}


def test_dates_in_payloads_stay_as_written_so_they_can_be_sent_as_json(project: Path) -> None:
    config = load_config(
        write(
            """\
            project: demo
            function: {}
            environments:
              staging:
                function_name: fn
                checks: [{name: day, payload: {date: 2024-02-29}, expect: {body: {d: 2024-02-29}}}]
            """
        )
    )
    check = config.environments["staging"].checks[0]
    assert check.payload == {"date": "2024-02-29"}
    assert check.expect.body == {"d": "2024-02-29"}


def test_non_text_key_is_refused_with_a_quoting_hint(project: Path) -> None:
    error = refusal(
        """\
        project: demo
        environments:
          staging:
            function_name: fn
            checks: [{name: ping}]
            variables:
              on: "1"
        """
    )
    assert (
        error.message
        == "promote.yaml:7: environments.staging.variables: keys must be text, got true"
    )
    assert "quote the key" in error.hint


# (what is wrong, file bytes or None for "no file", expected message, hint fragment)
FILE_CASES = [
    ("missing file", None, "promote.yaml: file not found", "lambda-promote init"),
    (
        "empty file",
        b"",
        "promote.yaml: the file is empty (no settings found)",
        "lambda-promote init",
    ),
    (
        "only comments",
        b"# nothing yet\n",
        "promote.yaml: the file is empty (no settings found)",
        "lambda-promote init",
    ),
    (
        "top level is a list",
        b"- project: demo\n",
        "promote.yaml:1: expected a mapping of settings (project:, function:, environments:, …) "
        "at the top level, got a list",
        "lambda-promote init",
    ),
    (
        "top level is a word",
        b"orders-api\n",
        "promote.yaml:1: expected a mapping of settings (project:, function:, environments:, …) "
        "at the top level, got a single value",
        "lambda-promote init",
    ),
    (
        "not UTF-8",
        b"project: d\xe9mo\n",
        "promote.yaml: not UTF-8 text (bad byte at offset 10)",
        "UTF-8",
    ),
    (
        "python object tag",
        b"project: !!python/name:os.system x\nenvironments: {staging: {function_name: fn}}\n",
        "promote.yaml:1: project: cannot read this value: could not determine a constructor "
        "for the tag 'tag:yaml.org,2002:python/name:os.system'",
        "plain values",
    ),
]


@pytest.mark.parametrize(
    ("content", "expected", "hint"),
    [case[1:] for case in FILE_CASES],
    ids=[case[0] for case in FILE_CASES],
)
def test_unreadable_file_is_refused_with_a_clear_message(
    project: Path, content: bytes | None, expected: str, hint: str
) -> None:
    path = Path("promote.yaml")
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.message == expected
    assert hint in caught.value.hint
    assert exit_code_for(caught.value) == 2


def test_a_folder_given_as_the_config_is_refused(project: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        load_config(Path("src"))


def test_path_outside_the_current_folder_is_shown_as_given(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "promote.yaml"
    elsewhere.write_text("project: demo\ntarget: gcp\n")
    with pytest.raises(ConfigError) as caught:
        load_config(elsewhere)
    assert caught.value.message.startswith(f"{elsewhere}:1: environments: missing required field")


# YAML syntax errors: the exact wording (and column) comes from libyaml or PyYAML, whichever
# is installed; the line, the "invalid YAML" and the hint are ours.
SYNTAX_CASES = [
    (
        "bad indentation",
        b"project: demo\nenvironments:\n  staging:\n    function_name: fn\n   region: x\n",
        "promote.yaml:5:",
        "indentation",
    ),
    (
        "unclosed flow list",
        b"project: demo\nenvironments: {staging: {function_name: fn, branches: [main}}\n",
        "promote.yaml:2:",
        "quoting",
    ),
    (
        "tab indentation",
        b"project: demo\nenvironments:\n\tstaging: {}\n",
        "promote.yaml:3:1:",
        "spaces, not tabs",
    ),
    ("two documents", b"project: a\n---\nproject: b\n", "promote.yaml:2:1:", "one document"),
    ("unclosed quote", b'project: "demo\nenvironments: {}\n', "promote.yaml:3:", "quoting"),
]


@pytest.mark.parametrize(
    ("content", "where", "hint"),
    [case[1:] for case in SYNTAX_CASES],
    ids=[case[0] for case in SYNTAX_CASES],
)
def test_yaml_syntax_error_names_line_and_column(
    project: Path, content: bytes, where: str, hint: str
) -> None:
    path = Path("promote.yaml")
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.message.startswith(where)
    assert ": invalid YAML: " in caught.value.message
    assert len(caught.value.message.splitlines()) == 1
    assert hint in caught.value.hint
