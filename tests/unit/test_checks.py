"""Health checks decide whether a deployment stays or is rolled back (DESIGN §5.4, §6): these
tests pin what passes, what fails, and what the detail tells the person reading the report."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambda_promote.checks import bake, evaluate, run_checks
from lambda_promote.config.schema import Check
from lambda_promote.errors import TargetError
from lambda_promote.model import (
    AliasState,
    Artifact,
    CheckResult,
    FunctionRef,
    InvokeResult,
    PublishedVersion,
)
from lambda_promote.targets.base import Target

FN = FunctionRef(env="staging", function_name="lambda-function-staging", alias="live")


def make_check(name: str = "ping", **fields: Any) -> Check:
    return Check.model_validate({"name": name, **fields})


def answer(payload: Any, *, function_error: str | None = None, latency: float = 10) -> InvokeResult:
    return InvokeResult(payload, function_error, logs="START …", latency_ms=latency, version="3")


def api(status: int | str, body: str, **extra: Any) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": body,
        **extra,
    }


PASSING = [
    ("extra keys are fine", {"body": {"ok": True}}, {"ok": True, "version": "1.2"}),
    ("nested objects", {"body": {"db": {"up": True}}}, {"db": {"up": True, "ms": 3}, "ok": 1}),
    (
        "arrays element by element",
        {"body": {"items": [{"id": 1}, {"id": 2}]}},
        {"items": [{"id": 1, "name": "a"}, {"id": 2}]},
    ),
    ("nested arrays", {"body": {"grid": [[1, 2], [3]]}}, {"grid": [[1, 2], [3]]}),
    ("1 equals 1.0", {"body": {"n": 1}}, {"n": 1.0}),
    ("null matches null", {"body": {"error": None, "ok": True}}, {"error": None, "ok": True}),
    ("API Gateway JSON body", {"body": {"ok": True}, "status": 200}, api(200, '{"ok": true}')),
    ("status given as text", {"status": 200}, api("200", "{}")),
    ("plain-text body", {"body": "pong"}, api(200, "pong")),
    ("base64 body", {"body": {"ok": True}}, api(200, "eyJvayI6IHRydWV9", isBase64Encoded=True)),
    ("no expectation", {}, {"anything": ["at", "all"]}),
    ("scalar answer", {"body": "pong"}, "pong"),
    ("keys that are not identifiers", {"body": {"x-id": "a"}}, {"x-id": "a"}),
]


@pytest.mark.parametrize(
    ("expect", "payload"), [c[1:] for c in PASSING], ids=[c[0] for c in PASSING]
)
def test_an_answer_containing_the_expectation_passes(expect: dict[str, Any], payload: Any) -> None:
    result = evaluate(make_check(expect=expect), answer(payload, latency=12.4), phase="verify")

    assert result.ok, result.detail
    assert result.detail == "ok in 12 ms"
    assert result.response == payload
    assert result.logs == "START …"


FAILING = [
    (
        "false is not true",
        {"body": {"ok": True}},
        {"ok": False},
        "expected body.ok = true, got false",
    ),
    (
        "a missing key",
        {"body": {"ok": True}},
        {"status": "up"},
        "expected body.ok = true, but it is missing",
    ),
    ("true is not 1", {"body": {"ok": True}}, {"ok": 1}, "expected body.ok = true, got 1"),
    ('"1" is not 1', {"body": {"n": 1}}, {"n": "1"}, 'expected body.n = 1, got "1"'),
    (
        "arrays of another length",
        {"body": {"items": [1, 2]}},
        {"items": [1, 2, 3]},
        "expected body.items to have 2 elements, got 3",
    ),
    (
        "an element deep in an array",
        {"body": {"items": [{"id": 1}, {"id": 2}]}},
        {"items": [{"id": 1}, {"id": 3}]},
        "expected body.items[1].id = 2, got 3",
    ),
    (
        "an array where an object belongs",
        {"body": {"user": {"id": 7}}},
        {"user": [1, 2]},
        "expected body.user to be an object, got [1, 2]",
    ),
    (
        "several mismatches at once",
        {"body": {"a": 1, "b": 2}},
        {"a": 0, "b": 0},
        "expected body.a = 1, got 0; expected body.b = 2, got 0",
    ),
    (
        "a key that is not an identifier",
        {"body": {"x-id": "a"}},
        {"x-id": "b"},
        'expected body["x-id"] = "a", got "b"',
    ),
    ("a wrong status", {"status": 200}, api(500, '{"ok": true}'), "expected status 200, got 500"),
    (
        "a status expected of a non-HTTP answer",
        {"status": 200},
        {"ok": True},
        "expected status 200, but the answer has no statusCode",
    ),
    (
        "an API Gateway body",
        {"body": {"ok": True}},
        api(200, '{"ok": false}'),
        "expected body.ok = true, got false",
    ),
    (
        "an API Gateway answer without body",
        {"body": {"ok": True}},
        {"statusCode": 204},
        'expected body = {"ok": true}, but it is missing',
    ),
]


@pytest.mark.parametrize(
    ("expect", "payload", "detail"), [c[1:] for c in FAILING], ids=[c[0] for c in FAILING]
)
def test_a_mismatch_fails_and_says_where(expect: dict[str, Any], payload: Any, detail: str) -> None:
    result = evaluate(make_check(expect=expect), answer(payload))

    assert not result.ok
    assert result.detail == detail


def test_a_function_error_fails_even_when_the_payload_would_match() -> None:
    error = {"errorMessage": "boom", "errorType": "ValueError", "ok": True, "stackTrace": []}

    result = evaluate(
        make_check(expect={"body": {"ok": True}}), answer(error, function_error="Unhandled")
    )

    assert not result.ok
    assert result.detail == "function error Unhandled: ValueError: boom"


def test_a_timeout_reads_as_the_function_error_lambda_reports() -> None:
    timeout = {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "RequestId: r-1 Error: Task timed out after 3.00 seconds",
    }

    result = evaluate(make_check(), answer(timeout, function_error="Unhandled"))

    assert result.detail == (
        "function error Unhandled: Sandbox.Timedout: "
        "RequestId: r-1 Error: Task timed out after 3.00 seconds"
    )


def test_a_slow_answer_fails_on_latency() -> None:
    result = evaluate(
        make_check(expect={"body": {"ok": True}}, max_latency_ms=3000),
        answer({"ok": True}, latency=4123.2),
    )

    assert not result.ok
    assert result.detail == "latency 4123 ms > max 3000 ms"
    assert result.latency_ms == pytest.approx(4123.2)


def test_every_failure_of_one_answer_is_reported() -> None:
    result = evaluate(
        make_check(max_latency_ms=100), answer("Traceback", function_error="Unhandled", latency=250)
    )

    assert result.detail == 'function error Unhandled: "Traceback"; latency 250 ms > max 100 ms'


def test_a_hopeless_answer_gives_a_short_detail() -> None:
    expected = {f"k{i}": i for i in range(20)}

    result = evaluate(make_check(expect={"body": expected}), answer({}))

    assert result.detail.count("expected") == 5
    assert result.detail.endswith("and 15 more")


def test_the_phase_is_recorded() -> None:
    assert evaluate(make_check(), answer({}), phase="rollback_verify").phase == "rollback_verify"


# --- running checks against a target ------------------------------------------------------


class FakeTarget:
    """A ``Target`` whose invocations answer from ``respond``; records what was asked."""

    def __init__(
        self,
        respond: Callable[[Any, int], InvokeResult],
        *,
        firing: Callable[[int], list[str]] = lambda read: [],
        barrier: threading.Barrier | None = None,
    ) -> None:
        self._respond = respond
        self._firing = firing
        self._barrier = barrier
        self._lock = threading.Lock()
        self.invocations: list[tuple[Any, str | None]] = []
        self.alarm_reads = 0

    def invoke(
        self, fn: FunctionRef, payload: Any, *, qualifier: str | None = None
    ) -> InvokeResult:
        with self._lock:
            self.invocations.append((payload, qualifier))
            count = len(self.invocations)
        if self._barrier is not None:
            # Every check must be in flight at once to get past this point.
            self._barrier.wait(timeout=30)
        return self._respond(payload, count)

    def alarms_firing(self, fn: FunctionRef, alarm_names: list[str]) -> list[str]:
        self.alarm_reads += 1
        firing = self._firing(self.alarm_reads)
        return [name for name in alarm_names if name in firing]

    def alias_state(self, fn: FunctionRef) -> AliasState:
        return AliasState(version="3", revision_id="r", digest="d")

    def publish(self, fn: FunctionRef, artifact: Artifact, zip_path: Path) -> PublishedVersion:
        raise AssertionError("checks never publish")

    def point_alias(
        self, fn: FunctionRef, version: str, *, expected_revision: str | None
    ) -> AliasState:
        raise AssertionError("checks never move the alias")

    def list_versions(self, fn: FunctionRef) -> list[PublishedVersion]:
        return []


def echo(payload: Any, count: int) -> InvokeResult:
    return answer(payload)


def numbered_checks(count: int) -> list[Check]:
    return [
        make_check(f"check-{i}", payload={"n": i}, expect={"body": {"n": i}}) for i in range(count)
    ]


def test_checks_run_concurrently_and_report_in_config_order() -> None:
    checks = numbered_checks(4)
    target: Target = FakeTarget(echo, barrier=threading.Barrier(4))

    results = run_checks(target, FN, checks)

    assert [r.name for r in results] == ["check-0", "check-1", "check-2", "check-3"]
    assert all(r.ok for r in results)
    assert {r.phase for r in results} == {"verify"}


def test_a_target_error_is_a_failed_check_not_a_crash() -> None:
    def respond(payload: Any, count: int) -> InvokeResult:
        if payload == {"n": 1}:
            raise TargetError("the alias live of lambda-function-staging does not exist")
        return answer(payload)

    results = run_checks(FakeTarget(respond), FN, numbered_checks(2), phase="rollback_verify")

    assert [r.ok for r in results] == [True, False]
    assert results[1].detail == (
        "could not invoke lambda-function-staging: "
        "the alias live of lambda-function-staging does not exist"
    )
    assert results[1].phase == "rollback_verify"


def test_checks_invoke_the_qualifier_asked_for() -> None:
    target = FakeTarget(echo)

    run_checks(target, FN, numbered_checks(2), qualifier="7")

    assert {q for _, q in target.invocations} == {"7"}


def test_no_checks_means_no_invocation() -> None:
    target = FakeTarget(echo)

    assert run_checks(target, FN, []) == []
    assert target.invocations == []


# --- baking ------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run_bake(target: FakeTarget, clock: FakeClock, **options: Any) -> list[CheckResult]:
    options.setdefault("seconds", 30)
    options.setdefault("interval", 10)
    return bake(target, FN, numbered_checks(2), clock=clock, sleep=clock.sleep, **options)


def test_a_bake_repeats_the_checks_until_its_end() -> None:
    target, clock, rounds = FakeTarget(echo), FakeClock(), []

    results = run_bake(target, clock, on_round=lambda n, r: rounds.append(n))

    assert rounds == [1, 2, 3, 4]  # at 0, 10, 20 and 30 seconds
    assert clock.sleeps == [10, 10, 10]
    assert len(target.invocations) == 8
    assert all(r.ok and r.phase == "bake" for r in results)
    assert results[0].detail == "ok in 10 ms (bake round 4)"


def test_the_last_wait_of_a_bake_is_cut_to_its_end() -> None:
    clock = FakeClock()

    run_bake(FakeTarget(echo), clock, seconds=25)

    assert clock.sleeps == [10, 10, 5]


def test_a_bake_stops_at_the_first_failing_round() -> None:
    def degrade(payload: Any, count: int) -> InvokeResult:
        return answer(payload if count <= 4 else {"n": -1})

    target, clock = FakeTarget(degrade), FakeClock()

    results = run_bake(target, clock, seconds=600)

    assert len(target.invocations) == 6
    assert [r.ok for r in results] == [False, False]
    assert results[0].detail == "expected body.n = 0, got -1 (bake round 3)"


def test_a_firing_alarm_fails_the_bake() -> None:
    target = FakeTarget(echo, firing=lambda read: ["Throttles"] if read >= 2 else [])

    results = run_bake(target, FakeClock(), alarms=["HighErrors", "Throttles"])

    by_name = {r.name: r for r in results}
    assert list(by_name) == ["check-0", "check-1", "alarm:HighErrors", "alarm:Throttles"]
    assert by_name["alarm:HighErrors"].ok
    assert not by_name["alarm:Throttles"].ok
    assert by_name["alarm:Throttles"].detail == "alarm Throttles is in ALARM (bake round 2)"
    assert target.alarm_reads == 2


def test_alarms_that_cannot_be_read_fail_the_bake() -> None:
    def unreadable(read: int) -> list[str]:
        raise TargetError("AccessDenied: cloudwatch:DescribeAlarms")

    results = run_bake(FakeTarget(echo, firing=unreadable), FakeClock(), alarms=["HighErrors"])

    assert results[-1].name == "alarm:HighErrors"
    assert not results[-1].ok
    assert "could not read the alarm state: AccessDenied" in results[-1].detail


def test_no_bake_time_means_no_bake() -> None:
    target, clock = FakeTarget(echo), FakeClock()

    assert run_bake(target, clock, seconds=0) == []
    assert target.invocations == []
    assert clock.sleeps == []
