"""Traffic hooks (DESIGN §11.5): the environment's ``hooks.before_traffic`` runs after publish
and before the alias moves; ``hooks.after_traffic`` once the new version has 100 % and its
checks passed. Each is a Lambda function the team owns, invoked with the deployment's facts.

A hook passes when it answers without a function error and, when its answer is an object,
that object holds ``"ok": true`` (any other answer — ``null``, a string — is fine). Its result
is a ``CheckResult`` named ``hook:before_traffic`` / ``hook:after_traffic``, recorded with the
deployment's checks. As for checks (``checks.py``), an invoke the target refuses (throttled
past its retries, a missing function, no access) is a failed hook, never an exception, and a
hook that runs past its own timeout answers with Lambda's timeout error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Literal

from lambda_promote.checks import evaluate
from lambda_promote.errors import TargetError
from lambda_promote.model import CheckResult, FunctionRef
from lambda_promote.targets.base import Target

HookName = Literal["before_traffic", "after_traffic"]
# Lambda's longest function timeout: a hook may run a whole integration suite.
_HOOK_LATENCY_MS = 15 * 60 * 1000


@dataclass(frozen=True)
class HookCall:
    """What a hook is told: the facts of DESIGN §11.5, as the JSON object it receives."""

    deployment_id: str
    env: str
    function: str
    version: str
    digest: str

    def payload(self) -> dict[str, Any]:
        return {
            "deployment_id": self.deployment_id,
            "env": self.env,
            "function": self.function,
            "version": self.version,
            "digest": self.digest,
        }


def hook_target(fn: FunctionRef, hook_function: str) -> tuple[FunctionRef, str]:
    """The hook as the target addresses it: ``fn`` (its region, credentials) with the hook's
    name, and the qualifier to invoke — the one written after the name, else ``$LATEST``."""
    name, qualifier = hook_function, "$LATEST"
    base = 7 if hook_function.startswith("arn:") else 1  # arn:aws:lambda:R:ACCOUNT:function:NAME
    parts = hook_function.split(":")
    if len(parts) > base:
        name, qualifier = ":".join(parts[:base]), parts[base]
    return replace(fn, function_name=name, alias=qualifier), qualifier


def run_hook(
    target: Target, fn: FunctionRef, hook: HookName, hook_function: str, call: HookCall
) -> CheckResult:
    """Invoke ``hook_function`` with ``call`` and judge its answer (see the module doc)."""
    from lambda_promote.config.schema import Check, Expectation

    hook_fn, qualifier = hook_target(fn, hook_function)
    name = f"hook:{hook}"
    started = time.monotonic()
    try:
        result = target.invoke(hook_fn, call.payload(), qualifier=qualifier)
    except TargetError as exc:
        elapsed = (time.monotonic() - started) * 1000
        detail = f"{hook_function}: could not invoke it: {exc.message}"
        return CheckResult(name, False, elapsed, detail, phase=hook)
    answered_object = isinstance(result.payload, dict) and not result.function_error
    expect = Expectation(body={"ok": True}) if answered_object else Expectation()
    check = Check(name=name, payload=call.payload(), expect=expect, max_latency_ms=_HOOK_LATENCY_MS)
    judged = evaluate(check, result, phase=hook)
    return replace(judged, detail=f"{hook_function}: {judged.detail}")
