"""``traffic:`` and ``hooks:`` in promote.yaml (DESIGN §11.5): accepted forms load; a bad one is
refused at its line with every accepted form in the hint; a shift that watches nothing warns."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lambda_promote.config import load_config, validate
from lambda_promote.errors import ConfigError, exit_code_for
from lambda_promote.traffic import TrafficStrategy, parse_traffic


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    return tmp_path


def staging(extra: str, *, checks: bool = True) -> str:
    lines = (
        "project: demo\nfunction: {}\nenvironments:\n  staging:\n    function_name: fn-staging\n"
    )
    if checks:
        lines += "    checks: [{name: ping}]\n"
    return lines + textwrap.indent(textwrap.dedent(extra), "    ")


def write(text: str) -> Path:
    path = Path("promote.yaml")
    path.write_text(text)
    return path


def line_of(text: str, marker: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if marker in line)


def test_without_traffic_an_environment_shifts_all_at_once(project: Path) -> None:
    env = load_config(write(staging(""))).environment("staging")
    assert parse_traffic(env.traffic) == TrafficStrategy()
    assert (env.hooks.before_traffic, env.hooks.after_traffic) == (None, None)


@pytest.mark.parametrize(
    "written",
    ["canary 10% 5m", "linear 10% every 1m", "Canary10Percent30Minutes", "AllAtOnce"],
)
def test_every_accepted_form_loads_without_warning(project: Path, written: str) -> None:
    report = validate(write(staging(f"traffic: {written}\n")))
    assert report.warnings == []
    assert parse_traffic(report.config.environment("staging").traffic) == parse_traffic(written)


def test_hooks_name_functions(project: Path) -> None:
    text = staging(
        """\
        traffic: canary 10% 5m
        hooks:
          before_traffic: orders-pre-traffic
          after_traffic: arn:aws:lambda:us-east-1:111111111111:function:orders-post:live
        """
    )
    hooks = load_config(write(text)).environment("staging").hooks
    assert hooks.before_traffic == "orders-pre-traffic"
    assert hooks.after_traffic is not None
    assert hooks.after_traffic.endswith(":orders-post:live")


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("canary 10% five minutes", "cannot read 'canary 10% five minutes'"),
        ("linear 10% 1m", "write it as e.g. 'linear 10% every 1m'"),
        ("canary 100% 5m", "less than 100%"),
        ("Canary10Percent7Minutes", "is not a CodeDeploy Lambda configuration"),
        ("blue-green", "unknown traffic strategy 'blue-green'"),
    ],
)
def test_a_bad_strategy_is_refused_at_its_line_with_the_accepted_forms(
    project: Path, written: str, says: str
) -> None:
    text = staging(f"traffic: {written}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(write(text))
    line = line_of(text, "traffic:")
    assert caught.value.message.startswith(f"promote.yaml:{line}: environments.staging.traffic: ")
    assert says in caught.value.message
    for form in ("all-at-once", "canary 10% 5m", "linear 10% every 1m", "Canary10Percent5Minutes"):
        assert form in caught.value.hint
    assert exit_code_for(caught.value) == 2


def test_a_bad_hook_name_is_refused_at_its_line(project: Path) -> None:
    text = staging("hooks:\n  before_traffic: not a function\n")
    with pytest.raises(ConfigError) as caught:
        load_config(write(text))
    line = line_of(text, "before_traffic")
    assert caught.value.message == (
        f"promote.yaml:{line}: environments.staging.hooks.before_traffic: "
        "'not a function' is not a Lambda function name"
    )


def test_an_unknown_hook_is_a_typo_with_a_suggestion(project: Path) -> None:
    text = staging("hooks:\n  before_trafic: pre\n")
    with pytest.raises(ConfigError) as caught:
        load_config(write(text))
    assert "before_traffic" in caught.value.message + caught.value.hint


def test_a_shift_that_watches_nothing_warns(project: Path) -> None:
    text = staging("traffic: canary 10% 5m\n", checks=False)
    report = validate(write(text))
    shift = [w for w in report.warnings if "progressively" in w.message]
    assert len(shift) == 1
    assert shift[0].location == f"promote.yaml:{line_of(text, 'traffic:')}"
    assert "alarms" in shift[0].hint
