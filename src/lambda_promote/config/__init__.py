"""promote.yaml: its shape (``schema.py``) and how a file becomes a checked ``Config``
(``loader.py``: YAML with line numbers → schema → cross-field rules → the function's files).

Names are resolved lazily, so ``import lambda_promote.config`` stays cheap and pydantic loads
only when a config is first loaded or a schema class is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_promote.config.loader import (
        ConfigWarning,
        ValidationReport,
        load_config,
        validate,
    )
    from lambda_promote.config.lookup import require_env
    from lambda_promote.config.schema import (
        Approval,
        Check,
        Config,
        Environment,
        Function,
        Notifications,
        Trigger,
    )

_HOMES = {
    "ConfigWarning": "loader",
    "ValidationReport": "loader",
    "load_config": "loader",
    "require_env": "lookup",
    "validate": "loader",
    "Approval": "schema",
    "Check": "schema",
    "Config": "schema",
    "Environment": "schema",
    "Function": "schema",
    "Notifications": "schema",
    "Trigger": "schema",
}

__all__ = [
    "Approval",
    "Check",
    "Config",
    "ConfigWarning",
    "Environment",
    "Function",
    "Notifications",
    "Trigger",
    "ValidationReport",
    "load_config",
    "require_env",
    "validate",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
