"""`lambda-promote init [--example]`: the files it writes validate, explain themselves, never
clobber existing work, and the example function really answers its own health checks."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lambda_promote.config import load_config, validate
from lambda_promote.errors import ConfigError, UsageError, exit_code_for
from lambda_promote.scaffold import write_config


class FakeContext:
    """The attributes of Lambda's context object the example reads."""

    function_name = "lambda-function-staging"
    function_version = "7"


def import_example(folder: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_app", folder / "src" / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def is_subset(expected: Any, actual: Any) -> bool:
    """The health checks' rule: every key of ``expected`` is in ``actual`` with a matching value."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and is_subset(value, actual[key]) for key, value in expected.items()
        )
    return bool(expected == actual)


def test_example_writes_a_config_a_function_and_its_requirements(tmp_path: Path) -> None:
    written = write_config(tmp_path, example=True)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        ".gitignore",
        "promote.yaml",
        "requirements.txt",
        "src/app.py",
    ]
    assert "python-dateutil==2.9.0.post0" in (tmp_path / "requirements.txt").read_text()
    assert ".lambda-promote/" in (tmp_path / ".gitignore").read_text().splitlines()


def test_example_validates_with_no_errors_and_no_warnings(tmp_path: Path) -> None:
    write_config(tmp_path, example=True)
    report = validate(tmp_path / "promote.yaml")
    assert report.warnings == []
    config = report.config
    assert (config.project, config.target) == ("orders-api", "local")
    assert config.state == "sqlite:///.lambda-promote/state.db"
    assert config.artifacts == ".lambda-promote/artifacts"
    assert config.function.requirements == "requirements.txt"
    staging, production = config.environments["staging"], config.environments["production"]
    assert staging.function_name == "lambda-function-staging"
    assert production.function_name == "lambda-function-production"
    assert production.promote_from == "staging"
    assert production.branches == ["main"]
    approval = production.approval
    assert approval is not None
    assert approval.reviewers == ["team-lead", "devops-admin"]
    assert (approval.min_approvals, approval.prevent_self_review) == (1, True)
    assert (approval.wait_timer_minutes, approval.expires_after_hours) == (0, 72)
    assert [(t.event, t.branches, t.deploy) for t in config.triggers] == [
        ("push", ["develop"], ["staging"]),
        ("pull_request", ["main"], ["staging"]),
        ("push", ["main"], ["staging", "production"]),
    ]


def test_example_function_passes_every_health_check_of_its_config(tmp_path: Path) -> None:
    write_config(tmp_path, example=True)
    config = load_config(tmp_path / "promote.yaml")
    app = import_example(tmp_path)
    for env in config.environments.values():
        assert env.checks, "every example environment is verified"
        for check in env.checks:
            answer = app.handler(check.payload, FakeContext())
            assert is_subset(check.expect.body, answer), (check.name, answer)


def test_example_ping_reports_the_function_and_uses_its_dependency(tmp_path: Path) -> None:
    write_config(tmp_path, example=True)
    app = import_example(tmp_path)
    answer = app.handler({"action": "ping", "date": "29 Feb 2024 13:30 +0100"}, FakeContext())
    assert answer["ok"] is True
    assert answer["function"] == "lambda-function-staging"
    assert answer["version"] == app.VERSION
    assert answer["date"] == "2024-02-29T13:30:00+01:00"
    assert answer["now"].endswith("+00:00")


@pytest.mark.parametrize(
    ("event", "error", "words"),
    [
        ({"action": "delete-everything"}, ValueError, "unknown action 'delete-everything'"),
        ({}, ValueError, "unknown action None"),
        (["ping"], TypeError, "expected a JSON object"),
        ({"action": "ping", "date": "not a date"}, ValueError, "cannot read the date"),
    ],
)
def test_example_refuses_what_it_does_not_understand_clearly(
    tmp_path: Path, event: Any, error: type[Exception], words: str
) -> None:
    write_config(tmp_path, example=True)
    app = import_example(tmp_path)
    with pytest.raises(error, match=words):
        app.handler(event, FakeContext())


def test_plain_init_writes_only_a_commented_aws_config(tmp_path: Path) -> None:
    folder = tmp_path / "Orders API"
    folder.mkdir()
    written = write_config(folder, example=False)
    assert written == [folder / "promote.yaml"]
    text = (folder / "promote.yaml").read_text()
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert len(comments) > 40
    assert "environment variable" in text
    assert "default" in text
    config = load_config(folder / "promote.yaml", check_source=False)
    assert (config.project, config.target) == ("orders-api", "aws")
    assert config.environments["staging"].function_name == "orders-api-staging"


def test_plain_init_is_valid_except_for_the_code_the_user_must_add(tmp_path: Path) -> None:
    write_config(tmp_path, example=False)
    with pytest.raises(ConfigError) as caught:
        validate(tmp_path / "promote.yaml")
    [problem] = caught.value.message.splitlines()
    assert ": function.source: folder 'src' does not exist" in problem
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    assert validate(tmp_path / "promote.yaml").warnings == []


@pytest.mark.parametrize("example", [True, False])
def test_init_refuses_to_overwrite_an_existing_config(tmp_path: Path, example: bool) -> None:
    (tmp_path / "promote.yaml").write_text("project: mine\n")
    with pytest.raises(UsageError) as caught:
        write_config(tmp_path, example=example)
    assert caught.value.message == f"promote.yaml already exists in {tmp_path}"
    assert "--force" in caught.value.hint
    assert exit_code_for(caught.value) == 2
    assert (tmp_path / "promote.yaml").read_text() == "project: mine\n"
    assert not (tmp_path / "src").exists()


def test_example_refuses_to_overwrite_existing_code(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("# my real function\n")
    with pytest.raises(UsageError, match=r"src/app\.py already exists"):
        write_config(tmp_path, example=True)
    assert (tmp_path / "src" / "app.py").read_text() == "# my real function\n"
    assert not (tmp_path / "promote.yaml").exists()


def test_force_overwrites(tmp_path: Path) -> None:
    (tmp_path / "promote.yaml").write_text("project: mine\n")
    write_config(tmp_path, example=True, force=True)
    assert load_config(tmp_path / "promote.yaml").project == "orders-api"


def test_existing_gitignore_gets_the_state_folder_once(tmp_path: Path) -> None:
    gitignore = tmp_path / ".gitignore"
    gitignore.write_text("__pycache__/")
    written = write_config(tmp_path, example=False)
    assert gitignore in written
    write_config(tmp_path, example=True, force=True)
    lines = gitignore.read_text().splitlines()
    assert lines[0] == "__pycache__/"
    assert lines.count(".lambda-promote/") == 1


def test_gitignore_already_ignoring_the_state_folder_is_left_alone(tmp_path: Path) -> None:
    gitignore = tmp_path / ".gitignore"
    gitignore.write_text("/.lambda-promote\n")
    written = write_config(tmp_path, example=True)
    assert gitignore not in written
    assert gitignore.read_text() == "/.lambda-promote\n"


def test_plain_init_creates_no_gitignore(tmp_path: Path) -> None:
    write_config(tmp_path, example=False)
    assert not (tmp_path / ".gitignore").exists()
