"""Looking things up in a loaded config — the part of ``config`` the hot path needs after
loading, kept apart from the loader so that using it never imports pydantic or the YAML
parser (a config from ``snapshot.py`` has neither loaded)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambda_promote.config.problems import did_you_mean
from lambda_promote.errors import UsageError

if TYPE_CHECKING:
    from lambda_promote.config.schema import Config, Environment


def require_env(config: Config, name: str) -> Environment:
    """The environment called ``name``, or a ``UsageError`` naming the ones that exist."""
    if name in config.environments:
        return config.environment(name)
    known = f"environments in {config.path.name}: {', '.join(config.environments)}"
    guess = did_you_mean(name, config.environments)
    hint = f"did you mean '{guess}'? {known}" if guess else known
    raise UsageError(f"unknown environment '{name}'", hint=hint)
