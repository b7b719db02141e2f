"""Rules of promote.yaml that span fields or reach the disk: promotion chains, trigger targets,
approval arithmetic, URLs, secrets named by variable, the handler's code; the warnings that
flag risky but working setups; and ``require_env``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lambda_promote.config import load_config, require_env, validate
from lambda_promote.errors import ConfigError, UsageError, exit_code_for

HANDLER = "def handler(event, context):\n    return {}\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(HANDLER)
    return tmp_path


def write(text: str) -> Path:
    path = Path("promote.yaml")
    path.write_text(textwrap.dedent(text))
    return path


def line_of(text: str, marker: str) -> int:
    lines = textwrap.dedent(text).splitlines()
    return next(i for i, line in enumerate(lines, start=1) if marker in line)


def two_envs(*, staging: str = "", production: str = "", top: str = "") -> str:
    """A valid two-environment file with extra lines spliced into each part."""
    # Every file names its function(s) (DESIGN §11.4): the default one unless ``top`` does.
    function = "" if "function" in top else "function: {}\n"
    return (
        "project: demo\n"
        f"{function}{top}"
        "environments:\n"
        "  staging:\n"
        "    function_name: fn-staging\n"
        "    checks: [{name: ping}]\n"
        f"{textwrap.indent(staging, '    ')}"
        "  production:\n"
        "    function_name: fn-production\n"
        "    branches: [main]\n"
        "    checks: [{name: ping}]\n"
        f"{textwrap.indent(production, '    ')}"
    )


# (what is wrong, the file, marker of the line to point at, text after "promote.yaml:LINE: ",
#  a fragment of the hint)
RULE_CASES = [
    (
        "promote_from an unknown environment",
        two_envs(production="promote_from: stagin\n"),
        "promote_from",
        "environments.production.promote_from: unknown environment 'stagin', "
        "did you mean 'staging'?",
        "environments defined: staging, production",
    ),
    (
        "promote_from itself",
        two_envs(production="promote_from: production\n"),
        "promote_from",
        "environments.production.promote_from: an environment cannot promote from itself",
        "promote_from: staging",
    ),
    (
        "promotion cycle",
        two_envs(staging="promote_from: production\n", production="promote_from: staging\n"),
        "promote_from: production",
        "environments.staging.promote_from: promotion cycle: staging → production → staging",
        "has no promote_from",
    ),
    (
        "trigger deploying an unknown environment",
        two_envs() + "triggers:\n  - {event: push, branches: [main], deploy: [staging, prod]}\n",
        "deploy: [staging, prod]",
        "triggers[0].deploy[1]: unknown environment 'prod', did you mean 'production'?",
        "environments defined: staging, production",
    ),
    (
        "more approvals than reviewers",
        two_envs(production="approval:\n  reviewers: [team-lead, team-lead]\n  min_approvals: 2\n"),
        "min_approvals",
        "environments.production.approval.min_approvals: needs 2 approvals but only 1 distinct "
        "reviewer is listed, so the gate could never open",
        "add reviewers, or lower min_approvals",
    ),
    (
        "duplicate check names",
        two_envs(staging="alarms: []\n").replace(
            "checks: [{name: ping}]\n    alarms", "checks: [{name: ping}, {name: ping}]\n    alarms"
        ),
        "{name: ping}, {name: ping}",
        "environments.staging.checks[1].name: duplicate check name 'ping' (first at line 6)",
        "its own name",
    ),
    (
        "environment name with capitals",
        two_envs().replace("  production:", "  Production:"),
        "Production:",
        "environments.Production: environment names are lowercase letters, digits and '-', "
        "starting with a letter",
        "e.g. 'production'",
    ),
    (
        "environment name with an underscore",
        two_envs().replace("  staging:", "  pre_prod:"),
        "pre_prod:",
        "environments.pre_prod: environment names are lowercase letters, digits and '-', "
        "starting with a letter",
        "e.g. 'pre-prod'",
    ),
    (
        "artifacts at a non-S3 URL",
        two_envs(top="artifacts: https://example.com/artifacts\n"),
        "artifacts",
        'artifacts: expected a folder path or s3://bucket/prefix, got "https://example.com/artifacts"',
        "s3://my-bucket/lambda-artifacts",
    ),
    (
        "artifacts in a bucket with capitals",
        two_envs(top="artifacts: s3://My_Bucket/builds\n"),
        "artifacts",
        'artifacts: expected a folder path or s3://bucket/prefix, got "s3://My_Bucket/builds"',
        "lowercase",
    ),
    (
        "state with a mistyped scheme",
        two_envs(top="state: dynamdb://ledger?region=eu-west-1\n"),
        "state",
        "state: expected a SQLAlchemy URL for SQLite or PostgreSQL, or dynamodb://TABLE, got "
        '"dynamdb://ledger?region=eu-west-1"',
        "did you mean dynamodb://",
    ),
    (
        "state naming no DynamoDB table",
        two_envs(top="state: dynamodb://x\n"),
        "state",
        "state: 'dynamodb://x' does not name a DynamoDB table",
        "dynamodb://TABLE?region=REGION",
    ),
    (
        "state that is a bare file name",
        two_envs(top="state: state.db\n"),
        "state",
        "state: expected a SQLAlchemy URL for SQLite or PostgreSQL, or dynamodb://TABLE, got "
        '"state.db"',
        "sqlite:///.lambda-promote/state.db",
    ),
    (
        "state for an unsupported database",
        two_envs(top="state: mysql://db.example.com/promote\n"),
        "state",
        "state: expected a SQLAlchemy URL for SQLite or PostgreSQL, or dynamodb://TABLE, "
        'got "mysql://db.example.com/promote"',
        "postgresql+psycopg://",
    ),
    (
        "state for an unknown database hides the password",
        two_envs(top="state: oracle://deploy:hunter2@db/promote\n"),
        "state",
        "state: expected a SQLAlchemy URL for SQLite or PostgreSQL, or dynamodb://TABLE, "
        'got "oracle://deploy:***@db/promote"',
        "postgresql+psycopg://user@host:5432/dbname",
    ),
    (
        "a secret where its variable's name belongs",
        two_envs()
        + "notifications:\n  slack: {webhook_url_env: 'https://hooks.slack.com/services/T0/B0/xyz'}\n",
        "webhook_url_env",
        "notifications.slack.webhook_url_env: expected the name of an environment variable "
        "(like SLACK_WEBHOOK_URL), got something else (not shown: it may be a secret)",
        "never holds secrets",
    ),
]


@pytest.mark.parametrize(
    ("text", "marker", "expected", "hint"),
    [case[1:] for case in RULE_CASES],
    ids=[case[0] for case in RULE_CASES],
)
def test_rule_breach_is_reported_at_its_line_with_a_hint(
    project: Path, text: str, marker: str, expected: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(text))
    assert caught.value.message == f"promote.yaml:{line_of(text, marker)}: {expected}"
    assert hint in caught.value.hint
    assert exit_code_for(caught.value) == 2


def test_no_secret_from_the_file_appears_in_the_error(project: Path) -> None:
    text = two_envs(top="state: oracle://deploy:hunter2@db/promote\n") + (
        "notifications:\n  webhook: {url_env: 'https://example.com/hook?token=s3cr3t'}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(write(text))
    shown = caught.value.message + caught.value.hint
    assert "hunter2" not in shown
    assert "s3cr3t" not in shown
    assert len(caught.value.message.splitlines()) == 2


@pytest.mark.parametrize(
    ("top", "accepted"),
    [
        ("artifacts: s3://my-artifacts\n", "s3://my-artifacts"),
        ("artifacts: s3://my-artifacts/orders-api/builds\n", "s3://my-artifacts/orders-api/builds"),
        ("artifacts: build/artifacts\n", "build/artifacts"),
        ("state: sqlite:////var/lib/promote/state.db\n", "sqlite:////var/lib/promote/state.db"),
        (
            "state: postgresql+psycopg://deploy@db.example.com:5432/promote\n",
            "postgresql+psycopg://deploy@db.example.com:5432/promote",
        ),
        ("state: postgresql://deploy@db/promote\n", "postgresql://deploy@db/promote"),
        ("state: postgres://deploy@db/promote\n", "postgres://deploy@db/promote"),
    ],
)
def test_plausible_artifact_stores_and_ledgers_are_accepted(
    project: Path, top: str, accepted: str
) -> None:
    report = validate(write(two_envs(top=top)))
    assert accepted in (report.config.artifacts, report.config.state)
    assert report.warnings == []


def test_github_approval_is_not_counted_against_the_reviewer_list(project: Path) -> None:
    approval = "approval:\n  provider: github\n  reviewers: [team-lead]\n  min_approvals: 2\n"
    config = load_config(write(two_envs(production=approval)))
    assert config.environments["production"].approval is not None


# --- the function's files ------------------------------------------------------------------


SOURCE_CASES = [
    (
        "source folder missing",
        "function: {source: lambda}\n",
        {},
        "function.source: folder 'lambda' does not exist",
        "relative to the folder of promote.yaml",
    ),
    (
        "handler module missing",
        "function: {handler: main.handler}\n",
        {},
        "function.handler: module 'main' not found: expected src/main.py (or src/main/__init__.py)",
        "create src/main.py with `def handler(event, context): ...`",
    ),
    (
        "handler function misspelt",
        "function: {handler: app.handle}\n",
        {},
        "function.handler: 'handle' is not defined at the top level of src/app.py, "
        "did you mean 'handler'?",
        "define `def handle(event, context):` in src/app.py",
    ),
    (
        "handler only defined inside a class",
        "function: {handler: app.run}\n",
        {"app.py": "class App:\n    def run(self, event, context):\n        return {}\n"},
        "function.handler: 'run' is not defined at the top level of src/app.py",
        "define `def run(event, context):`",
    ),
    (
        "handler module does not parse",
        "function: {handler: app.handler}\n",
        {"app.py": "def handler(event, context)\n    return {}\n"},
        "function.handler: src/app.py cannot be parsed: expected ':' (line 1)",
        "fix the syntax error",
    ),
    (
        "requirements file missing",
        "function: {requirements: requirements.txt}\n",
        {},
        "function.requirements: file 'requirements.txt' does not exist",
        "delete the requirements line",
    ),
]


@pytest.mark.parametrize(
    ("function", "files", "expected", "hint"),
    [case[1:] for case in SOURCE_CASES],
    ids=[case[0] for case in SOURCE_CASES],
)
def test_function_that_points_at_missing_code_is_refused(
    project: Path, function: str, files: dict[str, str], expected: str, hint: str
) -> None:
    for name, content in files.items():
        (project / "src" / name).write_text(content)
    text = two_envs(top=function)
    with pytest.raises(ConfigError) as caught:
        load_config(write(text))
    assert caught.value.message.startswith(f"promote.yaml:{line_of(text, 'function:')}: {expected}")
    assert hint in caught.value.hint


@pytest.mark.parametrize(
    ("handler", "files"),
    [
        ("app.handler", {"app.py": "async def handler(event, context):\n    return {}\n"}),
        ("app.handler", {"app.py": "from impl import run as handler\n"}),
        (
            "app.handler",
            {
                "app.py": "try:\n    from fast import handler\nexcept ImportError:\n"
                "    def handler(event, context):\n        return {}\n"
            },
        ),
        ("app.handler", {"app.py": "handler = lambda event, context: {}\n"}),
        ("app.handler", {"app.py": "from impl import *\n"}),
        ("orders.api.handler", {"orders/__init__.py": "", "orders/api.py": HANDLER}),
        ("orders.handler", {"orders/__init__.py": HANDLER}),
    ],
    ids=[
        "async def",
        "imported",
        "defined in try",
        "assigned",
        "star import",
        "submodule",
        "package",
    ],
)
def test_handler_defined_in_any_top_level_way_is_accepted(
    project: Path, handler: str, files: dict[str, str]
) -> None:
    for name, content in files.items():
        path = project / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    config = load_config(write(two_envs(top=f"function: {{handler: {handler}}}\n")))
    assert config.function.handler == handler


def test_source_paths_resolve_from_the_config_folder_not_the_current_one(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = write(two_envs()).absolute()
    monkeypatch.chdir(project / "src")
    config = load_config(config_path)
    assert config.root == project


def test_commands_that_never_build_can_skip_the_source_checks(project: Path) -> None:
    (project / "src" / "app.py").write_text("def handler(event, context)\n")
    path = write(two_envs())
    with pytest.raises(ConfigError):
        load_config(path)
    assert load_config(path, check_source=False).project == "demo"


# --- warnings -------------------------------------------------------------------------------


def test_a_clean_config_has_no_warnings(project: Path) -> None:
    approval = "approval: {reviewers: [team-lead]}\npromote_from: staging\n"
    assert validate(write(two_envs(production=approval))).warnings == []


WARNING_CASES = [
    (
        "approval without a branches rule",
        two_envs(production="approval: {reviewers: [team-lead]}\n").replace(
            "    branches: [main]\n", ""
        ),
        "approval:",
        "environments.production: has an approval gate but no branches rule, so any branch can "
        "reach production",
        "branches: [main]",
    ),
    (
        "environment without checks",
        two_envs().replace("    checks: [{name: ping}]\n  production", "  production"),
        "staging:",
        "environments.staging: has no checks, so a deployment there (or a rollback) is never "
        "verified",
        "name: ping",
    ),
    (
        "postgresql with a driver that is not installed",
        two_envs(top="state: postgresql+asyncpg://deploy@db/promote\n"),
        "state:",
        "state: 'postgresql+asyncpg://' needs a driver lambda-promote does not install",
        "postgresql+psycopg://",
    ),
    (
        "password inside the ledger URL",
        two_envs(top="state: postgresql+psycopg://deploy:hunter2@db/promote\n"),
        "state:",
        "state: the URL contains a password, so the password lives in the repository",
        "PGPASSWORD",
    ),
    (
        "in-memory ledger",
        two_envs(top="state: 'sqlite://'\n"),
        "state:",
        "state: an in-memory ledger forgets every deployment when the command ends",
        "sqlite:///.lambda-promote/state.db",
    ),
]


@pytest.mark.parametrize(
    ("text", "marker", "expected", "hint"),
    [case[1:] for case in WARNING_CASES],
    ids=[case[0] for case in WARNING_CASES],
)
def test_risky_setup_loads_with_a_warning(
    project: Path, text: str, marker: str, expected: str, hint: str
) -> None:
    report = validate(write(text))
    assert [(w.location, w.message) for w in report.warnings] == [
        (f"promote.yaml:{line_of(text, marker)}", expected)
    ]
    assert hint in report.warnings[0].hint
    assert str(report.warnings[0]) == f"promote.yaml:{line_of(text, marker)}: {expected}"
    assert "hunter2" not in str(report.warnings[0])


# --- require_env ----------------------------------------------------------------------------


def test_require_env_returns_the_named_environment(project: Path) -> None:
    config = load_config(write(two_envs()))
    assert require_env(config, "production").function_name == "fn-production"


def test_require_env_refuses_an_unknown_name_with_did_you_mean(project: Path) -> None:
    config = load_config(write(two_envs()))
    with pytest.raises(UsageError) as caught:
        require_env(config, "prod")
    assert caught.value.message == "unknown environment 'prod'"
    assert caught.value.hint == (
        "did you mean 'production'? environments in promote.yaml: staging, production"
    )
    assert exit_code_for(caught.value) == 2


def test_require_env_without_a_close_match_lists_the_environments(project: Path) -> None:
    config = load_config(write(two_envs()))
    with pytest.raises(UsageError) as caught:
        require_env(config, "qa")
    assert caught.value.hint == "environments in promote.yaml: staging, production"


def test_a_notifier_event_filter_that_matches_nothing_is_a_warning(tmp_path: Path) -> None:
    from lambda_promote.config import validate

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    (tmp_path / "promote.yaml").write_text(
        "project: x\nfunction: {}\nenvironments:\n  staging:\n    function_name: f\n"
        "    checks: [{name: ping}]\n"
        "notifications:\n  slack:\n    webhook_url_env: HOOK\n"
        "    events: [deployment.*, aproval.requested]\n"
    )
    report = validate(tmp_path / "promote.yaml")
    [warning] = [w for w in report.warnings if "matches no event" in str(w)]
    assert "'aproval.requested'" in str(warning)
    assert "did you mean 'approval.requested'" in warning.hint
