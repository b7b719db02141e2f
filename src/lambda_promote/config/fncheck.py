"""Step 3 of loading promote.yaml, for the function's configuration (DESIGN §11.3): Lambda's
limits on memory, timeout, ephemeral storage, layers and variables, in Lambda's words.

The schema accepts any positive number; the limits live here so the message can say what
Lambda allows and why (``memory_mb: Lambda allows 128 to 10240 MB, got 64``). Each section
(``function:`` and every environment) is checked as written, then each environment's
effective configuration (``function_config.effective``) for the limits that only the merge
can break: the 4 KB of variables and the layers' region. A variable whose name looks secret
is a warning pointing to SSM Parameter Store / Secrets Manager.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from lambda_promote import function_config as fc
from lambda_promote.config.problems import FieldPath, shown

if TYPE_CHECKING:
    from lambda_promote.config.schema import Config, Environment, Function


class Findings(Protocol):
    """Where problems go (``crosscheck.Findings``)."""

    def error(self, path: FieldPath, text: str, hint: str) -> None: ...
    def warn(self, path: FieldPath, text: str, hint: str, *, at: FieldPath = ()) -> None: ...


_RANGES: dict[str, tuple[tuple[int, int], str, str]] = {
    "memory_mb": (fc.MEMORY_MB, "MB", "memory_mb: 512"),
    "timeout_seconds": (fc.TIMEOUT_SECONDS, "seconds", "timeout_seconds: 30"),
    "ephemeral_storage_mb": (fc.EPHEMERAL_STORAGE_MB, "MB", "ephemeral_storage_mb: 1024"),
}
_SECRET_HINT = (
    "keep secrets out of promote.yaml: store it in SSM Parameter Store (SecureString) or "
    "Secrets Manager and pass its name instead, e.g. DB_PASSWORD_PARAMETER: /orders/db-password"
)


def function_configuration(config: Config, found: Findings) -> None:
    sections: list[tuple[FieldPath, Function | Environment]] = [(("function",), config.function)]
    sections += [(("environments", name), env) for name, env in config.environments.items()]
    for path, spec in sections:
        _ranges(path, spec, found)
        _layers(path, spec, found)
        _variables(path, spec, found)
    for name, env in config.environments.items():
        _effective(config, name, env, found)


def _ranges(path: FieldPath, spec: Function | Environment, found: Findings) -> None:
    for key, ((low, high), unit, example) in _RANGES.items():
        value = getattr(spec, key)
        if value is not None and not low <= value <= high:
            found.error(
                (*path, key),
                f"Lambda allows {low} to {high} {unit}, got {value}",
                f"e.g. {example}",
            )


def _layers(path: FieldPath, spec: Function | Environment, found: Findings) -> None:
    if spec.layers is None:
        return
    if len(spec.layers) > fc.MAX_LAYERS:
        found.error(
            (*path, "layers"),
            f"Lambda allows at most {fc.MAX_LAYERS} layers, got {len(spec.layers)}",
            "merge layers, or move a dependency into the function's requirements",
        )
    for i, arn in enumerate(spec.layers):
        if not fc.LAYER_ARN.match(arn):
            found.error(
                (*path, "layers", i),
                f"expected a layer version ARN, got {shown(arn)}",
                "e.g. arn:aws:lambda:us-east-1:111111111111:layer:common:3 "
                "(the version number at the end is required)",
            )


def _variables(path: FieldPath, spec: Function | Environment, found: Findings) -> None:
    for name in spec.variables or {}:
        where = (*path, "variables", name)
        if not fc.VARIABLE_NAME.match(name):
            found.error(
                where,
                f"Lambda does not accept the variable name {shown(name)}",
                "variable names start with a letter, then letters, digits and '_'",
            )
        elif name in fc.RESERVED_VARIABLES:
            found.error(
                where,
                f"{name} is reserved: Lambda sets it itself",
                "rename the variable; Lambda refuses reserved names in a function's settings",
            )
        elif fc.looks_secret(name):
            found.warn(
                where, f"{name} looks like a secret; promote.yaml is not the place", _SECRET_HINT
            )


def _effective(config: Config, name: str, env: Environment, found: Findings) -> None:
    merged = fc.effective(fc.settings_of(config.function), fc.settings_of(env))
    own = env.variables is not None
    if merged.variables is not None:
        size = fc.variables_size(merged.variables)
        if size > fc.VARIABLES_MAX_BYTES:
            where: FieldPath = ("environments", name) if own else ("function",)
            found.error(
                (*where, "variables"),
                f"the variables of {name} take {size} bytes; Lambda allows "
                f"{fc.VARIABLES_MAX_BYTES} in all",
                "shorten them, or keep large values in SSM Parameter Store / S3 and pass names",
            )
    for i, arn in enumerate(merged.layers or ()):
        match = fc.LAYER_ARN.match(arn)
        if match and match["region"] != env.region:
            section: FieldPath = ("environments", name) if env.layers is not None else ("function",)
            found.error(
                (*section, "layers", i),
                f"the layer is in {match['region']} but {name} runs in {env.region}",
                "Lambda uses layers of the function's own region: publish the layer there, "
                f"or override layers: under environments.{name}",
            )
