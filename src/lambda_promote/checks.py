"""Health checks: after the alias moves (DESIGN §6 ``verifying``), during a bake, and after a
rollback, every check of the environment invokes the alias and judges the answer.

``evaluate`` is pure: one check plus one invocation gives a ``CheckResult`` whose ``detail``
says exactly what failed. ``run_checks`` invokes all checks concurrently through any ``Target``
(an invocation the target refuses is a failed check, not an exception). ``bake`` re-runs them and
reads the environment's alarms until ``bake_seconds`` are over; its clock and sleep are
parameters, so tests never wait.

How an answer is matched:

- a function error (``FunctionError`` set) fails the check, whatever the payload says;
- ``expect.body`` is a JSON subset of the answer: objects match when every expected key is
  present and matches (extra keys are fine); arrays match when they have the same length and
  each element matches the element at the same index; scalars match when equal, where
  ``1 == 1.0`` but ``true != 1`` and ``"1" != 1``;
- an API-Gateway-style answer (an object with ``statusCode``) is matched through its ``body``,
  decoded when it is a JSON string (base64 first when ``isBase64Encoded``); ``expect.status``
  compares with ``statusCode`` and fails when the answer has none;
- the latency of the invocation must not exceed ``max_latency_ms``.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lambda_promote.answers import recordable, safe_answer, safe_text
from lambda_promote.errors import TargetError
from lambda_promote.model import CheckResult, FunctionRef, InvokeResult
from lambda_promote.targets.base import Target

if TYPE_CHECKING:
    from lambda_promote.config.schema import Check

DEFAULT_BAKE_INTERVAL_SECONDS = 10.0
_MAX_MISMATCHES = 5  # a wholly different answer should not produce a page of detail
_SHOW_CHARS = 80
_MISSING = object()

RoundCallback = Callable[[int, list[CheckResult]], None]


def evaluate(check: Check, result: InvokeResult, *, phase: str = "verify") -> CheckResult:
    """Judge one invocation against one check. The answer is made plain JSON first
    (``answers.py``): one that was not — NaN, invalid Unicode, too deep — fails the check."""
    answer = safe_answer(result.payload)
    problems = _answer_problems(check, replace(result, payload=answer.value))
    if answer.problems:
        problems.insert(1 if result.function_error else 0, answer.described)
    if result.latency_ms > check.max_latency_ms:
        problems.append(f"latency {result.latency_ms:.0f} ms > max {check.max_latency_ms} ms")
    return CheckResult(
        name=check.name,
        ok=not problems,
        latency_ms=result.latency_ms,
        detail="; ".join(problems) if problems else f"ok in {result.latency_ms:.0f} ms",
        logs=safe_text(result.logs),
        response=recordable(answer.value),
        phase=phase,
    )


def run_checks(
    target: Target,
    fn: FunctionRef,
    checks: Sequence[Check],
    *,
    phase: str = "verify",
    qualifier: str | None = None,
    max_workers: int = 8,
) -> list[CheckResult]:
    """Invoke every check concurrently; the results come back in the order of ``checks``."""
    if not checks:
        return []

    def run_one(check: Check) -> CheckResult:
        return _run_one(target, fn, check, phase=phase, qualifier=qualifier)

    workers = max(1, min(max_workers, len(checks)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
        return list(pool.map(run_one, checks))


def bake(
    target: Target,
    fn: FunctionRef,
    checks: Sequence[Check],
    *,
    seconds: float,
    interval: float = DEFAULT_BAKE_INTERVAL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    alarms: Sequence[str] = (),
    on_round: RoundCallback | None = None,
    qualifier: str | None = None,
    max_workers: int = 8,
) -> list[CheckResult]:
    """Run ``checks`` and read ``alarms`` every ``interval`` seconds until ``seconds`` have
    passed, the last round at the end of the bake. Returns the first failing round, or else the
    last round; nothing at all when there is no bake (``seconds <= 0`` or nothing to watch)."""
    if interval <= 0:
        raise ValueError(f"the bake interval must be positive, got {interval}")
    if seconds <= 0 or (not checks and not alarms):
        return []
    deadline = clock() + seconds
    round_number = 0
    while True:
        round_number += 1
        results = run_checks(
            target, fn, checks, phase="bake", qualifier=qualifier, max_workers=max_workers
        )
        results += alarm_results(target, fn, alarms)
        results = [replace(r, detail=f"{r.detail} (bake round {round_number})") for r in results]
        if on_round is not None:
            on_round(round_number, results)
        remaining = deadline - clock()
        if remaining <= 0 or not all(r.ok for r in results):
            return results
        sleep(min(interval, remaining))


def _run_one(
    target: Target, fn: FunctionRef, check: Check, *, phase: str, qualifier: str | None
) -> CheckResult:
    started = time.monotonic()
    try:
        result = target.invoke(fn, check.payload, qualifier=qualifier)
    except TargetError as exc:
        return CheckResult(
            name=check.name,
            ok=False,
            latency_ms=(time.monotonic() - started) * 1000,
            detail=f"could not invoke {fn.function_name}: {exc.message}",
            phase=phase,
        )
    return evaluate(check, result, phase=phase)


def alarm_results(
    target: Target, fn: FunctionRef, alarms: Sequence[str], *, phase: str = "bake"
) -> list[CheckResult]:
    """One result per CloudWatch alarm: failed when in ALARM, or when its state cannot be
    read (a verification that cannot watch its alarms proves nothing)."""
    if not alarms:
        return []
    try:
        firing = set(target.alarms_firing(fn, list(alarms)))
    except TargetError as exc:
        detail = f"could not read the alarm state: {exc.message}"
        return [CheckResult(f"alarm:{name}", False, 0.0, detail, phase=phase) for name in alarms]
    return [
        CheckResult(
            name=f"alarm:{name}",
            ok=name not in firing,
            latency_ms=0.0,
            detail=f"alarm {name} is in ALARM" if name in firing else f"alarm {name} is quiet",
            phase=phase,
        )
        for name in alarms
    ]


# --- matching ------------------------------------------------------------------------------


def _answer_problems(check: Check, result: InvokeResult) -> list[str]:
    if result.function_error:
        return [_function_error(result)]
    answer = result.payload
    http = isinstance(answer, dict) and "statusCode" in answer
    problems: list[str] = []
    expected_status = check.expect.status
    if expected_status is not None:
        if not http:
            problems.append(f"expected status {expected_status}, but the answer has no statusCode")
        elif not _same_status(expected_status, answer["statusCode"]):
            problems.append(f"expected status {expected_status}, got {_show(answer['statusCode'])}")
    if check.expect.body is not None:
        body = answer
        if http:
            body = _http_body(answer)
            if body is not _MISSING:
                decoded = safe_answer(body, name="body")  # a JSON string may hold NaN too
                body = decoded.value
                problems.extend([decoded.described] if decoded.problems else [])
        mismatches = list(_mismatches(check.expect.body, body, "body"))
        if len(mismatches) > _MAX_MISMATCHES:
            more = len(mismatches) - _MAX_MISMATCHES
            mismatches = [*mismatches[:_MAX_MISMATCHES], f"and {more} more"]
        problems.extend(mismatches)
    return problems


def _function_error(result: InvokeResult) -> str:
    payload = result.payload
    if isinstance(payload, dict) and ("errorType" in payload or "errorMessage" in payload):
        what = f"{payload.get('errorType', '?')}: {payload.get('errorMessage', '')}"
    else:
        what = _show(payload)
    return f"function error {result.function_error}: {_shorten(what, 300)}"


def _same_status(expected: int, actual: Any) -> bool:
    if isinstance(actual, bool):
        return False
    if isinstance(actual, str) and actual.strip().isdigit():
        return int(actual) == expected  # API Gateway accepts "200" as well as 200
    return isinstance(actual, int) and actual == expected


def _http_body(answer: dict[str, Any]) -> Any:
    """The body of an API-Gateway-style answer, decoded from JSON (and base64) when it is."""
    body = answer.get("body", _MISSING)
    if not isinstance(body, str):
        return body
    if answer.get("isBase64Encoded") is True:
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return body
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested past what json can follow
        return body  # plain text: expect.body may still compare it as a string


def _mismatches(expected: Any, actual: Any, path: str) -> Iterator[str]:
    """Every way ``actual`` fails to contain ``expected``, each naming its path."""
    if actual is _MISSING:
        yield f"expected {path} = {_show(expected)}, but it is missing"
    elif isinstance(expected, dict):
        if not isinstance(actual, dict):
            yield f"expected {path} to be an object, got {_show(actual)}"
            return
        for key, value in expected.items():
            yield from _mismatches(value, actual.get(key, _MISSING), _child_path(path, key))
    elif isinstance(expected, list):
        if not isinstance(actual, list):
            yield f"expected {path} to be an array, got {_show(actual)}"
        elif len(expected) != len(actual):
            yield f"expected {path} to have {len(expected)} elements, got {len(actual)}"
        else:
            for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
                yield from _mismatches(want, got, f"{path}[{index}]")
    elif not _same_scalar(expected, actual):
        yield f"expected {path} = {_show(expected)}, got {_show(actual)}"


def _same_scalar(expected: Any, actual: Any) -> bool:
    # bool is an int in Python, but true and 1 are different JSON values.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    return type(expected) is type(actual) and bool(expected == actual)


def _child_path(path: str, key: Any) -> str:
    text = str(key)
    return f"{path}.{text}" if text.isidentifier() else f"{path}[{json.dumps(text)}]"


def _show(value: Any) -> str:
    if value is _MISSING:
        return "nothing"
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return _shorten(text, _SHOW_CHARS)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
