"""The many-function form of promote.yaml (DESIGN §11.4): ``functions:`` or ``function:``,
every function named per environment with did-you-mean on typos, per-function overrides per
environment, checks naming a function; and the release digest over the function digests."""

from __future__ import annotations

import hashlib
import io
import textwrap
from pathlib import Path

import pytest

from lambda_promote.build.release import manifest_text, release_digest
from lambda_promote.config import load_config
from lambda_promote.errors import ConfigError, exit_code_for
from lambda_promote.ui import UI
from lambda_promote.workspace import Workspace

HANDLER = "def handler(event, context):\n    return {}\n"

MANY = """\
project: shop
target: local
functions:
  api: {source: api, memory_mb: 256, variables: {MODE: api}}
  worker: {source: worker, timeout_seconds: 30}
environments:
  staging:
    function_names: {api: shop-api-staging, worker: shop-worker-staging}
    memory_mb: 512
    functions:
      worker: {memory_mb: 1024, variables: {QUEUE: jobs}}
    checks:
      - name: ping
      - name: work
        function: worker
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("api", "worker", "src"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(HANDLER)
    return tmp_path


def refused(text: str) -> ConfigError:
    path = Path("promote.yaml")
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert exit_code_for(caught.value) == 2
    return caught.value


def line_of(text: str, marker: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if marker in line)


def test_a_many_function_config_names_and_configures_each_function(project: Path) -> None:
    Path("promote.yaml").write_text(MANY)
    config = load_config(Path("promote.yaml"))
    assert config.many
    assert list(config.release_functions) == ["api", "worker"]
    assert config.lambda_name("staging", "worker") == "shop-worker-staging"
    ws = Workspace(config=config, ui=UI(err=io.StringIO()), actor="alice")
    refs = ws.function_refs("staging")
    api, worker = refs["api"], refs["worker"]
    assert (api.function_name, api.memory_mb, api.variables) == (
        "shop-api-staging",
        512,  # the environment's memory over the function's
        {"MODE": "api"},
    )
    # The environment's per-function override wins over both; variables merge.
    assert (worker.memory_mb, worker.timeout_seconds, worker.variables) == (
        1024,
        30,
        {"QUEUE": "jobs"},
    )


def test_the_single_function_form_is_one_function_named_function(project: Path) -> None:
    Path("promote.yaml").write_text(
        "project: p\ntarget: local\nfunction: {}\n"
        "environments:\n  staging: {function_name: p-staging}\n"
    )
    config = load_config(Path("promote.yaml"))
    assert not config.many
    assert list(config.release_functions) == ["function"]
    assert config.lambda_name("staging") == "p-staging"


def test_both_function_and_functions_are_refused_at_their_line(project: Path) -> None:
    text = MANY.replace("functions:\n  api", "function: {source: src}\nfunctions:\n  api", 1)
    error = refused(text)
    assert f"promote.yaml:{line_of(text, 'functions:')}:" in error.message
    assert "both function: and functions:" in error.message


def test_a_misspelt_function_name_gets_a_did_you_mean(project: Path) -> None:
    text = MANY.replace("worker: shop-worker-staging", "wroker: shop-worker-staging")
    error = refused(text)
    assert f"promote.yaml:{line_of(text, 'wroker')}:" in error.message
    assert "unknown function 'wroker', did you mean 'worker'?" in error.message
    assert "no Lambda function named for worker" in error.message


def test_every_function_must_be_named_in_every_environment(project: Path) -> None:
    text = MANY.replace("{api: shop-api-staging, worker: shop-worker-staging}", "{api: a}")
    assert "no Lambda function named for worker" in refused(text).message
    text = MANY.replace(
        "    function_names: {api: shop-api-staging, worker: shop-worker-staging}\n",
        "    function_name: shop\n",
    )
    message = refused(text).message
    assert "function_name: is for a single function" in message
    assert "function_names" in message


def test_two_functions_cannot_share_one_lambda_function(project: Path) -> None:
    text = MANY.replace("worker: shop-worker-staging", "worker: shop-api-staging")
    assert "one Lambda function named for two functions" in refused(text).message


def test_a_check_or_an_override_naming_an_unknown_function_is_refused(project: Path) -> None:
    text = MANY.replace("        function: worker", "        function: workr")
    error = refused(text)
    assert f"promote.yaml:{line_of(text, 'function: workr')}:" in error.message
    assert "did you mean 'worker'?" in error.message
    text = MANY.replace("      worker: {memory_mb: 1024", "      wrker: {memory_mb: 1024")
    assert "unknown function 'wrker'" in refused(text).message


def test_each_function_s_source_is_checked(project: Path) -> None:
    text = MANY.replace("{source: worker,", "{source: workers,")
    error = refused(text)
    assert f"promote.yaml:{line_of(text, 'source: workers')}:" in error.message
    assert "functions.worker.source" in error.message


def test_the_single_form_still_needs_its_function_name(project: Path) -> None:
    error = refused("project: p\nfunction: {}\nenvironments:\n  staging: {alias: live}\n")
    assert "function_name" in error.message


def test_the_release_digest_of_one_function_is_its_artifact_digest() -> None:
    one = {"function": "a" * 64}
    assert release_digest(one) == "a" * 64
    many = {"worker": "b" * 64, "api": "a" * 64}
    text = f"api {'a' * 64}\nworker {'b' * 64}\n".encode()
    assert manifest_text(many) == text
    assert release_digest(many) == hashlib.sha256(text).hexdigest()
    assert release_digest(dict(reversed(list(many.items())))) == release_digest(many)


def test_neither_function_nor_functions_is_refused_at_a_line(project: Path) -> None:
    """DESIGN §11.4 / issue 15: exactly one of them — neither is a file:line error (exit 2),
    not a silent default function."""
    error = refused("project: p\nenvironments:\n  staging: {function_name: p-staging}\n")
    assert error.message.startswith("promote.yaml:1: ")
    assert "neither function: nor functions:" in error.message
    assert "function: {source: src" in error.hint
    assert exit_code_for(error) == 2
