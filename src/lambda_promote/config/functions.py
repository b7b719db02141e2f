"""Rules of the many-function form (DESIGN §11.4), part of step 3 of loading (crosscheck.py).

``function:`` or ``functions:`` — exactly one of them (both or neither is an error); an
environment names its Lambda function with ``function_name`` (single form) or every function
of the release with ``function_names`` (many form), and may override one function's
configuration under ``functions: {NAME: …}``. A check naming ``function:`` must name a
function of the release.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from lambda_promote.config.problems import FieldPath, did_you_mean

if TYPE_CHECKING:
    from lambda_promote.config.schema import Config


class Findings(Protocol):
    """Where a rule reports (crosscheck.Findings)."""

    def error(self, path: FieldPath, text: str, hint: str) -> None: ...


FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def function_rules(config: Config, found: Findings) -> None:
    if config.functions is not None and "function" in config.model_fields_set:
        found.error(
            ("functions",),
            "both function: and functions: are set",
            "keep one: function: for a single function, functions: {NAME: {...}} for many",
        )
        return
    if config.functions is None and "function" not in config.model_fields_set:
        found.error(
            ("function",),
            "neither function: nor functions: is set",
            "add function: {source: src, handler: app.handler} for one function, or "
            "functions: {NAME: {source: ..., handler: ...}} for many",
        )
        return
    if config.functions is not None:
        _many(config, found)
    else:
        _single(config, found)


def _single(config: Config, found: Findings) -> None:
    for name, env in config.environments.items():
        where = ("environments", name)
        if env.function_names is not None or env.functions is not None:
            key = "function_names" if env.function_names is not None else "functions"
            found.error(
                (*where, key),
                f"{key}: needs functions: at the top level",
                "with a single function: write function_name: and the settings directly",
            )
        if env.function_name is None:
            found.error(
                (*where, "function_name"),
                "missing required field",
                f"add `function_name:` under environments.{name}:",
            )
        for i, check in enumerate(env.checks):
            if check.function is not None:
                found.error(
                    (*where, "checks", i, "function"),
                    "a check names function: only when the release has functions:",
                    "remove it: the check runs against the one function",
                )


def _many(config: Config, found: Findings) -> None:
    names = list(config.functions or {})
    if not names:
        found.error(("functions",), "functions: is empty", "name at least one function")
        return
    for name in names:
        if not FUNCTION_NAME.match(name):
            found.error(
                ("functions", name),
                "function names are lowercase letters, digits, '-' and '_', starting with a "
                "letter (at most 64)",
                "rename it, e.g. api or worker",
            )
    for env_name, env in config.environments.items():
        where = ("environments", env_name)
        if env.function_name is not None:
            found.error(
                (*where, "function_name"),
                "function_name: is for a single function; this release has functions:",
                "name each one: function_names: {" + ", ".join(f"{n}: ..." for n in names) + "}",
            )
        if env.function_names is None:
            found.error(
                (*where, "function_names"),
                "missing required field",
                "add function_names: {" + ", ".join(f"{n}: LAMBDA_NAME" for n in names) + "}",
            )
        else:
            _named(env.function_names, names, (*where, "function_names"), found)
        for override in env.functions or {}:
            _known(override, names, (*where, "functions", override), found)
        for i, check in enumerate(env.checks):
            if check.function is not None:
                _known(check.function, names, (*where, "checks", i, "function"), found)


def _named(given: dict[str, str], names: list[str], where: FieldPath, found: Findings) -> None:
    for name in given:
        _known(name, names, (*where, name), found)
    missing = [n for n in names if n not in given]
    if missing:
        found.error(
            where,
            "no Lambda function named for " + ", ".join(missing),
            "every function of the release needs one: "
            + ", ".join(f"{n}: LAMBDA_NAME" for n in missing),
        )
    lambdas = list(given.values())
    twice = sorted({n for n in lambdas if lambdas.count(n) > 1})
    if twice:
        found.error(
            where,
            "one Lambda function named for two functions: " + ", ".join(twice),
            "each function of the release deploys to its own Lambda function",
        )


def _known(name: str, names: Iterable[str], where: FieldPath, found: Findings) -> None:
    options = list(names)
    if name in options:
        return
    guess = did_you_mean(name, options)
    found.error(
        where,
        f"unknown function '{name}'" + (f", did you mean '{guess}'?" if guess else ""),
        "functions of the release: " + ", ".join(options),
    )
