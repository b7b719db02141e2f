"""promote.yaml loading: a good file becomes a Config with defaults filled; a bad one is refused
with ``promote.yaml:LINE: field.path: what was expected, got …`` and a hint — never a traceback.

The file level (YAML syntax, duplicate keys, empty or unreadable files) is in
test_config_yaml.py; rules that span fields (promote_from, triggers, the handler on disk, …)
in test_config_rules.py.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lambda_promote.config import load_config, validate
from lambda_promote.errors import ConfigError, exit_code_for

GOOD = """\
project: orders-api
target: aws
function:
  source: src
  handler: app.handler
  requirements: requirements.txt
environments:
  staging:
    function_name: lambda-function-staging
    role_arn: arn:aws:iam::111111111111:role/deploy-staging
    checks:
      - name: ping
        payload: {action: ping}
        expect: {body: {ok: true}}
  production:
    function_name: lambda-function-production
    promote_from: staging
    branches: [main]
    approval:
      reviewers: [team-lead, devops-admin]
    checks:
      - name: ping
        payload: {action: ping, env: production}
triggers:
  - {event: push, branches: [develop], deploy: [staging]}
  - {event: push, branches: [main], deploy: [staging, production]}
notifications:
  slack: {webhook_url_env: SLACK_WEBHOOK_URL}
  email: {smtp_host: smtp.example.com, from: ci@example.com, to: [ops@example.com]}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (the current folder, as for the CLI) holding a real handler."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    (tmp_path / "requirements.txt").write_text("python-dateutil==2.9.0.post0\n")
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


def line_of(text: str, marker: str) -> int:
    """The 1-based line of ``text`` holding ``marker`` (the line a message must point at)."""
    lines = textwrap.dedent(text).splitlines()
    return next(i for i, line in enumerate(lines, start=1) if marker in line)


def test_good_config_loads_with_defaults_filled_and_remembers_its_path(project: Path) -> None:
    report = validate(write(GOOD))
    config = report.config

    assert report.warnings == []
    assert config.path == project / "promote.yaml"
    assert config.root == project
    assert config.state == "sqlite:///.lambda-promote/state.db"
    assert config.artifacts == ".lambda-promote/artifacts"
    assert (config.function.runtime, config.function.architecture) == ("python3.12", "x86_64")
    staging, production = config.environments["staging"], config.environments["production"]
    assert (staging.alias, staging.region, staging.bake_seconds) == ("live", "us-east-1", 0)
    assert staging.checks[0].max_latency_ms == 3000
    assert staging.checks[0].expect.body == {"ok": True}
    assert production.approval is not None
    assert production.approval.provider == "builtin"
    assert production.approval.min_approvals == 1
    assert production.approval.prevent_self_review is True
    assert production.approval.expires_after_hours == 72
    assert config.notifications.email is not None
    assert config.notifications.email.from_ == "ci@example.com"
    assert config.notifications.email.port == 587
    assert [t.deploy for t in config.triggers] == [["staging"], ["staging", "production"]]


MINIMAL = """\
project: demo
function: {}
environments:
  staging:
    function_name: fn-staging
    checks: [{name: ping}]
"""


def test_minimal_config_needs_a_project_its_function_and_one_environment(project: Path) -> None:
    config = load_config(write(MINIMAL))
    assert config.target == "aws"
    assert config.function.handler == "app.handler"
    assert config.triggers == []


# (what is wrong, the file, the marker of the line to point at, expected text after
#  "promote.yaml:LINE: ", a fragment of the hint)
SCHEMA_CASES = [
    (
        "word for a number",
        """\
        project: demo
        environments:
          production:
            function_name: fn
            branches: [main]
            checks: [{name: ping}]
            approval:
              reviewers: [team-lead]
              min_approvals: two
        """,
        "min_approvals",
        'environments.production.approval.min_approvals: expected a positive integer, got "two"',
        "without quotes",
    ),
    (
        "zero for a positive number",
        """\
        project: demo
        environments:
          staging:
            function_name: fn
            timeout_seconds: 0
            checks: [{name: ping}]
        """,
        "timeout_seconds",
        "environments.staging.timeout_seconds: expected a positive integer, got 0",
        "docs/configuration.md",
    ),
    (
        "negative bake time",
        """\
        project: demo
        environments:
          staging:
            function_name: fn
            bake_seconds: -5
            checks: [{name: ping}]
        """,
        "bake_seconds",
        "environments.staging.bake_seconds: expected a whole number, 0 or more, got -5",
        "docs/configuration.md",
    ),
    (
        "unsupported runtime",
        """\
        project: demo
        function:
          runtime: python2.7
        environments:
          staging: {function_name: fn, checks: [{name: ping}]}
        """,
        "runtime",
        "function.runtime: expected one of python3.9, python3.10, python3.11, python3.12, "
        'python3.13, got "python2.7"',
        "one of the values listed",
    ),
    (
        "unknown target",
        """\
        project: demo
        target: gcp
        environments:
          staging: {function_name: fn, checks: [{name: ping}]}
        """,
        "target",
        'target: expected one of aws, local, got "gcp"',
        "one of the values listed",
    ),
    (
        "a string for a list",
        """\
        project: demo
        environments:
          staging:
            function_name: fn
            branches: main
            checks: [{name: ping}]
        """,
        "branches",
        'environments.staging.branches: expected a list of strings, got "main"',
        "write a list",
    ),
    (
        "a word for a boolean",
        """\
        project: demo
        environments:
          production:
            function_name: fn
            branches: [main]
            checks: [{name: ping}]
            approval:
              reviewers: [team-lead]
              prevent_self_review: maybe
        """,
        "prevent_self_review",
        'environments.production.approval.prevent_self_review: expected true or false, got "maybe"',
        "write true or false",
    ),
    (
        "a number where text is needed",
        """\
        project: demo
        environments:
          staging:
            function_name: fn
            alias: 2024
            checks: [{name: ping}]
        """,
        "alias",
        "environments.staging.alias: expected a string, got 2024",
        "quote it",
    ),
    (
        "missing required field points at its parent",
        """\
        project: demo
        function: {}
        environments:
          staging:
            region: eu-west-1
            checks: [{name: ping}]
        """,
        "staging:",
        "environments.staging.function_name: missing required field",
        "add `function_name:` under environments.staging:",
    ),
    (
        "missing project",
        """\
        environments:
          staging: {function_name: fn, checks: [{name: ping}]}
        """,
        "environments:",
        "project: missing required field",
        "add `project:` at the top level",
    ),
    (
        "no environments",
        """\
        project: demo
        environments: {}
        """,
        "environments",
        "environments: expected at least one environment",
        "staging",
    ),
    (
        "empty value",
        """\
        project: demo
        environments:
          staging:
            function_name: fn
            checks:
        """,
        "checks",
        "environments.staging.checks: expected a list of checks, got null",
        "has no value",
    ),
    (
        "handler without a function name",
        """\
        project: demo
        function:
          handler: app
        environments:
          staging: {function_name: fn, checks: [{name: ping}]}
        """,
        "handler",
        'function.handler: expected module.function, e.g. app.handler, got "app"',
        "def handler(event, context)",
    ),
    (
        "malformed role ARN",
        """\
        project: demo
        environments:
          staging:
            function_name: fn
            role_arn: deploy-staging
            checks: [{name: ping}]
        """,
        "role_arn",
        'environments.staging.role_arn: expected an IAM role ARN, got "deploy-staging"',
        "arn:aws:iam::111111111111:role/",
    ),
    (
        "alias made only of digits",
        """\
        project: demo
        environments:
          staging:
            function_name: fn
            alias: "42"
            checks: [{name: ping}]
        """,
        "alias",
        "environments.staging.alias: expected an alias name of letters, digits, '-' or '_' "
        '(not only digits), got "42"',
        "alias: live",
    ),
    (
        "trigger deploying nothing",
        """\
        project: demo
        environments:
          staging: {function_name: fn, checks: [{name: ping}]}
        triggers:
          - event: push
            deploy: []
        """,
        "deploy: []",
        "triggers[0].deploy: expected at least 1 item, got an empty list",
        "add an item",
    ),
    (
        "trigger without environments points at its item",
        """\
        project: demo
        environments:
          staging: {function_name: fn, checks: [{name: ping}]}
        triggers:
          - {event: push, deploy: [staging]}
          - event: push
            branches: [main]
        """,
        "- event: push",
        "triggers[1].deploy: missing required field",
        "add `deploy:` under triggers[1]:",
    ),
    (
        "unknown trigger event",
        """\
        project: demo
        environments:
          staging: {function_name: fn, checks: [{name: ping}]}
        triggers:
          - {event: merge, deploy: [staging]}
        """,
        "merge",
        'triggers[0].event: expected one of push, pull_request, workflow_dispatch, got "merge"',
        "one of the values listed",
    ),
    (
        "a check that is not a mapping",
        """\
        project: demo
        environments:
          staging:
            function_name: fn
            checks: [ping]
        """,
        "checks",
        'environments.staging.checks[0]: expected a mapping (check), got "ping"',
        "write a mapping",
    ),
    (
        "email notifier without a sender",
        """\
        project: demo
        environments:
          staging: {function_name: fn, checks: [{name: ping}]}
        notifications:
          email:
            smtp_host: smtp.example.com
            to: [ops@example.com]
        """,
        "email:",
        "notifications.email.from: missing required field",
        "add `from:` under notifications.email:",
    ),
]


@pytest.mark.parametrize(
    ("text", "marker", "expected", "hint"),
    [case[1:] for case in SCHEMA_CASES],
    ids=[case[0] for case in SCHEMA_CASES],
)
def test_schema_mistake_is_reported_at_its_line_with_words_and_a_hint(
    project: Path, text: str, marker: str, expected: str, hint: str
) -> None:
    error = refusal(text)
    assert error.message == f"promote.yaml:{line_of(text, marker)}: {expected}"
    assert hint in error.hint


@pytest.mark.parametrize(
    ("text", "marker", "expected"),
    [
        (
            "project: demo\nfuncton: {source: src}\n"
            "environments: {staging: {function_name: fn, checks: [{name: ping}]}}\n",
            "funct",
            "functon: unknown field, did you mean 'function'?",
        ),
        (
            "project: demo\nenvironments:\n  production:\n    function_name: fn\n"
            "    promote_form: staging\n    checks: [{name: ping}]\n",
            "promote_form",
            "environments.production.promote_form: unknown field, did you mean 'promote_from'?",
        ),
        (
            "project: demo\nenvironments: {staging: {function_name: fn, checks: [{name: ping}]}}\n"
            "notifications:\n  email: {smtp_host: h, form: ci@example.com, to: [a@example.com]}\n",
            "form",
            "notifications.email.form: unknown field, did you mean 'from'?",
        ),
    ],
    ids=["top level", "inside an environment", "aliased field"],
)
def test_unknown_key_is_refused_with_did_you_mean(
    project: Path, text: str, marker: str, expected: str
) -> None:
    error = refusal(text)
    assert error.message.splitlines()[0] == f"promote.yaml:{line_of(text, marker)}: {expected}"
    assert "did you mean" in error.hint
    assert "valid keys here:" in error.hint


def test_unknown_key_without_a_close_match_lists_the_valid_keys(project: Path) -> None:
    error = refusal(
        "project: demo\ncolour: blue\n"
        "environments: {staging: {function_name: fn, checks: [{name: ping}]}}\n"
    )
    assert error.message == "promote.yaml:2: colour: unknown field"
    assert "valid keys here: project, target, state, artifacts, function" in error.hint


def test_every_mistake_is_reported_at_once_in_file_order(project: Path) -> None:
    error = refusal(
        """\
        project: demo
        target: gcp
        environments:
          staging:
            function_name: fn
            bake_seconds: soon
            checks: [{name: ping}]
        functon: {}
        """
    )
    assert error.message.splitlines() == [
        'promote.yaml:2: target: expected one of aws, local, got "gcp"',
        "promote.yaml:6: environments.staging.bake_seconds: expected a whole number, 0 or more, "
        'got "soon"',
        "promote.yaml:8: functon: unknown field, did you mean 'function'?",
    ]
    assert "3 problems in promote.yaml" in error.hint
