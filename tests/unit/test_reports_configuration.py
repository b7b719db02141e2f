"""A deployment's report shows the configuration its version carries (DESIGN §11.3) in every
format, with secret-looking values masked; a deployment recorded before configurations were
shows no configuration section at all."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from golden import notify_samples as samples
from lambda_promote.function_config import FunctionConfiguration
from lambda_promote.reports import render

CONFIG = FunctionConfiguration(
    memory_mb=1024,
    timeout_seconds=30,
    layers=("arn:aws:lambda:us-east-1:111111111111:layer:common:3",),
    variables={"TABLE": "orders", "DB_PASSWORD": "hunter2-planted"},
)


def report(fmt: str, **changes: object) -> str:
    dep = replace(samples.succeeded(), **changes)  # type: ignore[arg-type]
    return render(dep, fmt, generated_at=samples.GENERATED_AT, environ={})


def configured(fmt: str) -> str:
    return report(fmt, configuration=CONFIG.to_json(), configuration_digest=CONFIG.digest)


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_a_report_shows_memory_timeout_layers_and_variables(fmt: str):
    text = configured(fmt)
    assert "Configuration" in text
    assert "1024 MB" in text
    assert "30 s" in text
    assert "layer:common:3" in text
    assert "TABLE=orders" in text
    assert CONFIG.digest[:12] in text
    assert "hunter2-planted" not in text


def test_the_json_report_carries_the_configuration_and_its_digest():
    record = json.loads(configured("json"))["deployment"]
    assert record["configuration_digest"] == CONFIG.digest
    assert record["configuration"]["memory_mb"] == 1024
    assert record["configuration"]["variables"] == {"DB_PASSWORD": "***", "TABLE": "orders"}


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_a_deployment_without_a_recorded_configuration_has_no_section(fmt: str):
    assert "Configuration" not in report(fmt)
