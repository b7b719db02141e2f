"""The validated-config snapshot (config/snapshot.py) carries a release's configuration
(DESIGN §11.3) exactly: a hot-path command answered from the snapshot applies and records the
same effective configuration, with the same digest, as one that read the YAML."""

from __future__ import annotations

from pathlib import Path

from lambda_promote.config import snapshot
from lambda_promote.config.loader import load_config
from lambda_promote.config.snapshot import ConfigSnapshot
from lambda_promote.function_config import effective, settings_of

LAYER = "arn:aws:lambda:us-east-1:111111111111:layer:common:3"
CONFIG = f"""\
project: sized
target: local
function:
  memory_mb: 512
  timeout_seconds: 20
  ephemeral_storage_mb: 1024
  layers: [{LAYER}]
  variables: {{TABLE: orders, MODE: fast}}
environments:
  staging:
    function_name: sized-staging
  production:
    function_name: sized-production
    promote_from: staging
    memory_mb: 2048
    layers: []
    variables: {{MODE: safe}}
"""


def test_a_snapshot_gives_each_environment_the_same_effective_configuration(tmp_path: Path):
    path = tmp_path / "promote.yaml"
    path.write_text(CONFIG)
    (tmp_path / ".lambda-promote").mkdir()
    full = load_config(path, check_source=False)
    snapshot.remember(full)

    recalled = snapshot.recall(path)

    assert isinstance(recalled, ConfigSnapshot)
    for env in ("staging", "production"):
        from_yaml = effective(settings_of(full.function), settings_of(full.environment(env)))
        from_snapshot = effective(
            settings_of(recalled.function), settings_of(recalled.environment(env))
        )
        assert from_snapshot == from_yaml, env
        assert from_snapshot.digest == from_yaml.digest, env
    production = effective(
        settings_of(recalled.function), settings_of(recalled.environment("production"))
    )
    assert production.to_json() == {
        "memory_mb": 2048,
        "timeout_seconds": 20,
        "ephemeral_storage_mb": 1024,
        "layers": [],
        "variables": {"MODE": "safe", "TABLE": "orders"},
    }
