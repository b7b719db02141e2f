"""The functions of a release and their Lambda names in an environment (DESIGN §11.4), for
``Config`` and its snapshot alike (plain attribute reads: no pydantic here).

A single-function (``function:``) release holds one function named ``function`` (SINGLE);
``functions:`` names its own. An environment names the Lambda function of each.
"""

from __future__ import annotations

from typing import Any

# The name of the one function of a single-function (``function:``) release.
SINGLE = "function"


def release_functions(config: Any) -> dict[str, Any]:
    """The functions of a release by name: ``functions:``, or ``function:`` as SINGLE."""
    if config.functions:
        return dict(config.functions)
    return {SINGLE: config.function}


def lambda_name(config: Any, env: str, function: str = "") -> str:
    """The Lambda function that ``function`` of the release is in ``env`` (default: the
    first function's)."""
    spec = config.environments[env]
    names = spec.function_names
    if config.functions and names:
        return str(names.get(function) or next(iter(names.values())))
    return str(spec.function_name or "")
