"""The local emulator honours a release's configuration (DESIGN §11.3) as Lambda does: each
version keeps the memory, timeout, variables and layers it was published with, so moving the
alias back brings the old configuration back with the old code; a configuration-only change is
a new version; a layer that is a local folder is on the handler's ``sys.path``."""

from __future__ import annotations

import hashlib
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from lambda_promote.model import Artifact, FunctionRef
from lambda_promote.targets.local import LocalTarget

HANDLER = """
import os, sys

def handler(event, context):
    if event.get("action") == "layer":
        import common
        return {"layer": common.WHO}
    return {"memory": context.memory_limit_in_mb, "mode": os.environ.get("MODE"),
            "remaining_ms": context.get_remaining_time_in_millis()}
"""
FN = FunctionRef("staging", "orders-staging", "live")


@pytest.fixture
def target(tmp_path: Path) -> LocalTarget:
    return LocalTarget(tmp_path / "local", python_for=lambda runtime: sys.executable)


@pytest.fixture
def code(tmp_path: Path) -> tuple[Artifact, Path]:
    path = tmp_path / "code.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("app.py", HANDLER)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Artifact(digest=digest, size=path.stat().st_size, path=str(path)), path


def test_a_configuration_only_change_is_a_new_version_and_rollback_brings_the_old_back(
    target: LocalTarget, code: tuple[Artifact, Path]
):
    small = replace(FN, memory_mb=256, timeout_seconds=5, variables={"MODE": "fast"})
    big = replace(FN, memory_mb=1024, variables={"MODE": "safe"})
    first = target.publish(small, *code)
    alias = target.point_alias(small, first.version, expected_revision=None)
    assert target.publish(small, *code).version == first.version  # nothing changed

    second = target.publish(big, *code)
    moved = target.point_alias(big, second.version, expected_revision=alias.revision_id)
    answer = target.invoke(big, {}).payload

    assert (first.version, second.version) == ("1", "2")
    assert answer["memory"] == "1024"
    assert answer["mode"] == "safe"
    assert answer["remaining_ms"] > 5_000  # version 2 leaves the timeout at the default 30 s

    target.point_alias(big, "1", expected_revision=moved.revision_id)  # a rollback
    restored = target.invoke(big, {}).payload  # invoked with today's ref: the version rules
    assert (restored["memory"], restored["mode"]) == ("256", "fast")
    assert restored["remaining_ms"] <= 5_000
    assert target.configuration(big, "1").memory_mb == 256


def test_a_layer_that_is_a_local_folder_is_importable(
    target: LocalTarget, code: tuple[Artifact, Path], tmp_path: Path
):
    layer = tmp_path / "layer-common"
    (layer / "python").mkdir(parents=True)
    (layer / "python" / "common.py").write_text("WHO = 'the layer'\n")
    fn = replace(FN, layers=(str(layer),))
    target.point_alias(fn, target.publish(fn, *code).version, expected_revision=None)

    result = target.invoke(fn, {"action": "layer"})

    assert result.function_error is None, result.payload
    assert result.payload == {"layer": "the layer"}


def test_a_layer_arn_is_named_in_a_warning_and_the_handler_still_runs(
    tmp_path: Path, code: tuple[Artifact, Path]
):
    warnings: list[str] = []
    target = LocalTarget(
        tmp_path / "local", warn=warnings.append, python_for=lambda runtime: sys.executable
    )
    fn = replace(FN, layers=("arn:aws:lambda:us-east-1:111111111111:layer:common:3",))
    target.point_alias(fn, target.publish(fn, *code).version, expected_revision=None)

    assert target.invoke(fn, {}).function_error is None
    target.invoke(fn, {})

    layer_warnings = [w for w in warnings if "layer" in w]
    assert len(layer_warnings) == 1
    assert "cannot download layer ARNs" in layer_warnings[0]
