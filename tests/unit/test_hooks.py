"""hooks.py: how a before/after-traffic hook is invoked and judged (DESIGN §11.5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from fake_target import FakeTarget
from lambda_promote.errors import TargetError
from lambda_promote.hooks import HookCall, hook_target, run_hook
from lambda_promote.model import FunctionRef, InvokeResult

FN = FunctionRef(env="staging", function_name="orders-staging", alias="live")
ARN = "arn:aws:lambda:us-east-1:111111111111:function"
CALL = HookCall("dep-1", "staging", "orders-staging", "7", "ab" * 32)


@dataclass
class HookTarget(FakeTarget):
    """A FakeTarget whose hook function answers what the test says."""

    answer: Any = None
    function_error: str | None = None
    refuse: TargetError | None = None
    invoked: list[tuple[str, str | None, Any]] = field(default_factory=list)

    def invoke(
        self, fn: FunctionRef, payload: Any, *, qualifier: str | None = None
    ) -> InvokeResult:
        self.invoked.append((fn.function_name, qualifier, payload))
        if self.refuse is not None:
            raise self.refuse
        return InvokeResult(self.answer, self.function_error, latency_ms=5.0)


def test_the_hook_receives_the_deployment_facts_on_latest() -> None:
    target = HookTarget(answer={"ok": True})
    result = run_hook(target, FN, "before_traffic", "orders-pre", CALL)
    assert result.ok
    assert result.name == "hook:before_traffic"
    assert target.invoked == [
        (
            "orders-pre",
            "$LATEST",
            {
                "deployment_id": "dep-1",
                "env": "staging",
                "function": "orders-staging",
                "version": "7",
                "digest": "ab" * 32,
            },
        )
    ]


@pytest.mark.parametrize("answer", [None, "done", 1, ["ok"]])
def test_an_answer_that_is_not_an_object_passes(answer: Any) -> None:
    assert run_hook(HookTarget(answer=answer), FN, "after_traffic", "post", CALL).ok


@pytest.mark.parametrize("answer", [{"ok": False}, {}, {"ok": "true"}, {"ok": 1}])
def test_an_object_without_ok_true_fails(answer: Any) -> None:
    result = run_hook(HookTarget(answer=answer), FN, "after_traffic", "post", CALL)
    assert not result.ok
    assert result.detail.startswith("post: expected body.ok = true")


def test_a_function_error_fails_whatever_the_answer() -> None:
    target = HookTarget(
        answer={"errorType": "Timeout", "errorMessage": "Task timed out after 3.00 seconds"},
        function_error="Unhandled",
    )
    result = run_hook(target, FN, "before_traffic", "pre", CALL)
    assert not result.ok
    assert "Task timed out" in result.detail


def test_a_refused_invoke_is_a_failed_hook_not_an_exception() -> None:
    target = HookTarget(refuse=TargetError("throttled after 5 tries (TooManyRequestsException)"))
    result = run_hook(target, FN, "before_traffic", "pre", CALL)
    assert not result.ok
    assert (
        result.detail
        == "pre: could not invoke it: throttled after 5 tries (TooManyRequestsException)"
    )


@pytest.mark.parametrize(
    ("written", "name", "qualifier"),
    [
        ("pre", "pre", "$LATEST"),
        ("pre:live", "pre", "live"),
        (
            "arn:aws:lambda:us-east-1:111111111111:function:pre",
            "arn:aws:lambda:us-east-1:111111111111:function:pre",
            "$LATEST",
        ),
        (
            "arn:aws:lambda:us-east-1:111111111111:function:pre:3",
            "arn:aws:lambda:us-east-1:111111111111:function:pre",
            "3",
        ),
    ],
)
def test_a_qualifier_written_after_the_name_is_used(
    written: str, name: str, qualifier: str
) -> None:
    fn, got = hook_target(FN, written)
    assert (fn.function_name, got, fn.region) == (name, qualifier, FN.region)
