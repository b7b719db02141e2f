"""The validated-config snapshot (config/snapshot.py): a byte-identical promote.yaml is
answered without YAML or pydantic, with exactly the settings the schema gave; any other file
takes the full path, so its problems are always reported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from lambda_promote.config import snapshot
from lambda_promote.config.loader import load_config
from lambda_promote.config.snapshot import ConfigSnapshot, Settings
from lambda_promote.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "orders-api" / "promote.yaml"
RICH_EXTRA = """
  qa:
    function_name: qa-fn
    profile: qa
    role_arn: arn:aws:iam::123456789012:role/deployer
    variables: {MODE: qa, LEVEL: "3"}
    timeout_seconds: 10
    memory_mb: 256
    checks:
      - name: nested
        payload: {list: [1, 2.5, true, null, {deep: x}], text: "é"}
        expect: {status: 200}
"""
NOTIFY_EXTRA = """
  email:
    smtp_host: 127.0.0.1
    port: 2525
    from: deploys@example.com
    to: [team@example.com]
    starttls: false
    username_env: SMTP_USER
    password_env: SMTP_PASSWORD
    events: [deployment.failed]
  webhook: {url_env: HOOK_URL, secret_env: HOOK_SECRET}
"""

# Loads the config the way the hot path does and says what that imported.
LOAD = """
import json, sys
from pathlib import Path
from lambda_promote.config import snapshot
config = snapshot.load(Path(sys.argv[1]), check_source=False)
print(json.dumps({"type": type(config).__name__, "project": config.project,
                  "heavy": sorted(m for m in ("pydantic", "yaml") if m in sys.modules)}))
"""


def rich_project(root: Path) -> Path:
    """The orders-api example with every kind of setting there is."""
    text = EXAMPLE.read_text()
    text = text.replace("\ntriggers:", RICH_EXTRA + "\ntriggers:", 1)
    slack = "  slack: {webhook_url_env: SLACK_WEBHOOK_URL}\n"
    text = text.replace(slack, slack + NOTIFY_EXTRA.lstrip("\n"), 1)
    path = root / "promote.yaml"
    path.write_text(text)
    (root / ".lambda-promote").mkdir(exist_ok=True)  # as any command but the first leaves it
    return path


def same(model: Any, snap: Any, where: str = "config") -> None:
    """Every field of the pydantic ``model`` equals the snapshot's, all the way down."""
    if isinstance(model, BaseModel):
        assert isinstance(snap, Settings), where
        for name in type(model).model_fields:
            same(getattr(model, name), getattr(snap, name), f"{where}.{name}")
    elif isinstance(model, list):
        assert isinstance(snap, list), where
        assert len(snap) == len(model), where
        for n, (a, b) in enumerate(zip(model, snap, strict=True)):
            same(a, b, f"{where}[{n}]")
    elif isinstance(model, dict):
        assert isinstance(snap, dict), where
        assert list(snap) == list(model), where
        for key in model:
            same(model[key], snap[key], f"{where}[{key!r}]")
    else:
        assert snap == model, where
        assert type(snap) is type(model), where


def test_an_unchanged_file_is_answered_with_exactly_the_settings_the_schema_gave(
    tmp_path: Path,
):
    path = rich_project(tmp_path)
    full = load_config(path, check_source=False)
    snapshot.remember(full)

    recalled = snapshot.recall(path)

    assert isinstance(recalled, ConfigSnapshot)
    same(full, recalled)
    assert (recalled.path, recalled.root) == (full.path, full.root)
    assert recalled.file_sha256 == full.file_sha256
    assert recalled.environment("qa").variables == {"MODE": "qa", "LEVEL": "3"}
    assert recalled.notifications.email.from_ == "deploys@example.com"  # type: ignore[union-attr]
    with pytest.raises(AttributeError):
        recalled.project = "other"  # type: ignore[misc]


def test_the_first_load_writes_the_snapshot_and_the_second_uses_it(tmp_path: Path):
    path = rich_project(tmp_path)

    first = snapshot.load(path, check_source=False)
    second = snapshot.load(path, check_source=False)

    assert not isinstance(first, ConfigSnapshot)
    assert isinstance(second, ConfigSnapshot)
    same(first, second)


@pytest.mark.parametrize(
    "edit",
    [
        lambda text: text + "\n# a comment changes nothing the schema sees, but it is a change\n",
        lambda text: text.replace("bake_seconds: 300", "bake_seconds: 30"),
    ],
    ids=["comment", "setting"],
)
def test_any_change_to_the_file_takes_the_full_path(tmp_path: Path, edit: Any):
    path = rich_project(tmp_path)
    snapshot.load(path, check_source=False)
    path.write_text(edit(path.read_text()))

    assert snapshot.recall(path) is None
    reloaded = snapshot.load(path, check_source=False)
    assert not isinstance(reloaded, ConfigSnapshot)
    assert snapshot.recall(path) is not None  # and the new bytes are remembered


def test_an_error_in_a_changed_file_is_reported_although_a_snapshot_exists(tmp_path: Path):
    path = rich_project(tmp_path)
    snapshot.load(path, check_source=False)
    path.write_text(path.read_text().replace("bake_seconds: 300", "bake_seconds: soon"))

    with pytest.raises(ConfigError) as caught:
        snapshot.load(path, check_source=False)

    assert "bake_seconds" in caught.value.message


def test_a_load_that_checks_the_source_never_uses_the_snapshot(tmp_path: Path):
    path = rich_project(tmp_path)
    snapshot.load(path, check_source=False)

    with pytest.raises(ConfigError) as caught:  # the example's src/ is not there
        snapshot.load(path, check_source=True)

    assert "src" in caught.value.message


@pytest.mark.parametrize(
    "damage",
    [
        lambda doc: {**doc, "version": "0.0.0-other"},
        lambda doc: {**doc, "format": 0},
        lambda doc: {**doc, "sha256": "0" * 64},
        lambda doc: {**doc, "path": "/elsewhere/promote.yaml"},
        lambda doc: {**doc, "data": {"project": "x"}},
        lambda doc: "not a snapshot",
    ],
    ids=["other-version", "other-format", "other-bytes", "other-file", "truncated", "garbage"],
)
def test_a_snapshot_of_anything_else_is_ignored(tmp_path: Path, damage: Any):
    path = rich_project(tmp_path)
    snapshot.load(path, check_source=False)
    stored = snapshot.snapshot_path(path.absolute())
    stored.write_text(json.dumps(damage(json.loads(stored.read_text()))))

    assert snapshot.recall(path) is None
    assert snapshot.load(path, check_source=False).project == "orders-api"


def test_settings_plain_json_cannot_carry_exactly_leave_no_snapshot(tmp_path: Path):
    # promote.yaml's reader gives only JSON-like values; a config made in code may not.
    path = rich_project(tmp_path)
    config = load_config(path, check_source=False)
    check = (
        config.environments["staging"]
        .checks[0]
        .model_copy(update={"payload": {"when": date(2024, 1, 1)}})
    )
    staging = config.environments["staging"].model_copy(update={"checks": [check]})
    odd = config.model_copy(update={"environments": {"staging": staging}})
    odd.located_at(config.path, file_sha256=config.file_sha256)

    snapshot.remember(odd)

    assert not snapshot.snapshot_path(path.absolute()).exists()


def test_a_config_built_in_code_leaves_no_snapshot(tmp_path: Path):
    path = rich_project(tmp_path)
    config = load_config(path, check_source=False)
    config.located_at(config.path, file_sha256=None)

    snapshot.remember(config)

    assert not snapshot.snapshot_path(path.absolute()).exists()


def test_a_snapshot_hit_imports_neither_pydantic_nor_yaml(tmp_path: Path):
    path = rich_project(tmp_path)
    snapshot.load(path, check_source=False)

    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    )

    assert json.loads(done.stdout) == {
        "type": "ConfigSnapshot",
        "project": "orders-api",
        "heavy": [],
    }


def test_each_promote_yaml_has_its_own_snapshot(tmp_path: Path):
    first = rich_project(tmp_path)
    second = tmp_path / "other.yaml"
    shutil.copy2(first, second)
    second.write_text(second.read_text().replace("project: orders-api", "project: other"))

    snapshot.load(first, check_source=False)
    snapshot.load(second, check_source=False)

    assert snapshot.recall(first).project == "orders-api"  # type: ignore[union-attr]
    assert snapshot.recall(second).project == "other"  # type: ignore[union-attr]


def test_a_fresh_checkout_gets_no_snapshot_and_no_state_folder(tmp_path: Path):
    path = rich_project(tmp_path)
    (tmp_path / ".lambda-promote").rmdir()

    config = snapshot.load(path, check_source=False)

    assert config.project == "orders-api"
    assert not (tmp_path / ".lambda-promote").exists()


def _edit_snapshot(path: Path, edit: Any) -> None:
    stored = snapshot.snapshot_path(path.absolute())
    document = json.loads(stored.read_text())
    edit(document["data"])
    stored.write_text(json.dumps(document))


def test_with_an_audit_key_an_edited_snapshot_cannot_drop_the_approval_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Whoever can write .lambda-promote/ but does not hold the key must not be able to
    change what the gate believes promote.yaml says (the keyed trust of docs/operations.md)."""
    monkeypatch.setenv("LAMBDA_PROMOTE_AUDIT_KEY", "k" * 32)
    path = rich_project(tmp_path)
    snapshot.load(path, check_source=False)
    assert isinstance(snapshot.load(path, check_source=False), ConfigSnapshot)

    _edit_snapshot(path, lambda data: data["environments"]["production"].update(approval=None))

    believed = snapshot.load(path, check_source=False)
    assert not isinstance(believed, ConfigSnapshot)  # the full path, from promote.yaml itself
    assert believed.environments["production"].approval is not None


def test_a_snapshot_written_under_another_key_is_not_believed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = rich_project(tmp_path)
    snapshot.load(path, check_source=False)  # written without a key
    monkeypatch.setenv("LAMBDA_PROMOTE_AUDIT_KEY", "k" * 32)
    assert not isinstance(snapshot.load(path, check_source=False), ConfigSnapshot)
    assert isinstance(snapshot.load(path, check_source=False), ConfigSnapshot)  # now signed
