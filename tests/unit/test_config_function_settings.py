"""promote.yaml's function configuration (DESIGN §11.3): Lambda's limits refused at their line
with what Lambda allows, an environment's effective configuration checked after the merge, and
a secret-looking variable name warned about, pointing to SSM / Secrets Manager."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lambda_promote.config import validate
from lambda_promote.errors import ConfigError, exit_code_for
from lambda_promote.function_config import effective, settings_of

LAYER = "arn:aws:lambda:us-east-1:111111111111:layer:common:3"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    return tmp_path


def config_text(*, function: str = "", staging: str = "", production: str = "") -> str:
    return (
        "project: demo\n"
        "function:\n"
        "  handler: app.handler\n"
        f"{textwrap.indent(function, '  ')}"
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


def line_of(text: str, marker: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if marker in line)


def refusal(text: str) -> ConfigError:
    Path("promote.yaml").write_text(text)
    with pytest.raises(ConfigError) as refused:
        validate(Path("promote.yaml"))
    assert exit_code_for(refused.value) == 2
    return refused.value


LIMIT_CASES = [
    (
        {"function": "memory_mb: 64\n"},
        "memory_mb: 64",
        "function.memory_mb: Lambda allows 128 to 10240 MB, got 64",
    ),
    (
        {"production": "timeout_seconds: 901\n"},
        "timeout_seconds: 901",
        "environments.production.timeout_seconds: Lambda allows 1 to 900 seconds, got 901",
    ),
    (
        {"staging": "ephemeral_storage_mb: 100\n"},
        "ephemeral_storage_mb",
        "environments.staging.ephemeral_storage_mb: Lambda allows 512 to 10240 MB, got 100",
    ),
    (
        {"function": "layers: [" + ", ".join([LAYER] * 6) + "]\n"},
        "layers:",
        "function.layers: Lambda allows at most 5 layers, got 6",
    ),
    (
        {"function": "layers:\n  - arn:aws:lambda:us-east-1:111111111111:layer:common\n"},
        "- arn:aws",
        'function.layers[0]: expected a layer version ARN, got "arn:aws:lambda:us-east-1:'
        '111111111111:layer:common"',
    ),
    (
        {"staging": "variables:\n  9LIVES: x\n"},
        "9LIVES",
        'environments.staging.variables.9LIVES: Lambda does not accept the variable name "9LIVES"',
    ),
    (
        {"function": "variables:\n  AWS_REGION: eu-west-1\n"},
        "AWS_REGION",
        "function.variables.AWS_REGION: AWS_REGION is reserved: Lambda sets it itself",
    ),
    (
        {"production": "region: eu-west-1\n", "function": f"layers: [{LAYER}]\n"},
        "layers:",
        "function.layers[0]: the layer is in us-east-1 but production runs in eu-west-1",
    ),
]


@pytest.mark.parametrize(("parts", "marker", "expected"), LIMIT_CASES)
def test_a_setting_beyond_lambdas_limits_is_refused_at_its_line(
    project: Path, parts: dict[str, str], marker: str, expected: str
):
    text = config_text(**parts)
    error = refusal(text)
    assert error.message == f"promote.yaml:{line_of(text, marker)}: {expected}"


def test_variables_over_4_kb_after_the_merge_are_refused_at_the_environment(project: Path):
    half = "x" * 2100
    text = config_text(
        function=f"variables: {{A: {half}}}\n", production=f"variables: {{B: {half}}}\n"
    )
    error = refusal(text)
    assert error.message.startswith(
        f"promote.yaml:{line_of(text, 'B: x')}: environments.production.variables: "
        "the variables of production take 4215 bytes; Lambda allows 4096 in all"
    )


def test_a_secret_looking_variable_is_a_warning_pointing_to_ssm(project: Path):
    text = config_text(function="variables:\n  TABLE: orders\n  DB_PASSWORD: hunter2\n")
    Path("promote.yaml").write_text(text)

    report = validate(Path("promote.yaml"))

    [warning] = [w for w in report.warnings if "DB_PASSWORD" in w.message]
    assert warning.location == f"promote.yaml:{line_of(text, 'DB_PASSWORD')}"
    assert "Parameter Store" in warning.hint
    assert "Secrets Manager" in warning.hint
    assert "hunter2" not in str(warning) + warning.hint


def test_the_effective_configuration_merges_function_and_environment(project: Path):
    text = config_text(
        function="memory_mb: 512\ntimeout_seconds: 10\nvariables: {TABLE: orders, MODE: fast}\n",
        production="memory_mb: 2048\nvariables: {MODE: safe}\n",
    )
    Path("promote.yaml").write_text(text)
    config = validate(Path("promote.yaml")).config

    staging = effective(settings_of(config.function), settings_of(config.environment("staging")))
    production = effective(
        settings_of(config.function), settings_of(config.environment("production"))
    )

    assert staging.to_json() == {
        "memory_mb": 512,
        "timeout_seconds": 10,
        "variables": {"MODE": "fast", "TABLE": "orders"},
    }
    assert production.to_json() == {
        "memory_mb": 2048,
        "timeout_seconds": 10,
        "variables": {"MODE": "safe", "TABLE": "orders"},
    }


def test_a_non_number_memory_says_what_is_expected(project: Path):
    text = config_text(function="memory_mb: lots\n")
    error = refusal(text)
    assert error.message == (
        f"promote.yaml:{line_of(text, 'lots')}: function.memory_mb: "
        'expected a positive integer, got "lots"'
    )
