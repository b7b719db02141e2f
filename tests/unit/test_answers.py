"""A function's answer is judged and recorded as plain JSON (answers.py): what is not plain
JSON fails the check with its place named; a valid answer passes unchanged; a large one is
recorded cut. The attacks themselves are in tests/adversarial/test_adv_check_answers.py."""

from __future__ import annotations

import json
from typing import Any

from lambda_promote.answers import MAX_DEPTH, MAX_RECORDED_CHARS, recordable, safe_answer
from lambda_promote.checks import evaluate
from lambda_promote.config.schema import Check
from lambda_promote.model import InvokeResult

PING = Check.model_validate({"name": "ping", "expect": {"body": {"ok": True}}})


def invoked(payload: Any, *, logs: str = "START …") -> InvokeResult:
    return InvokeResult(payload, None, logs=logs, latency_ms=5, version="2")


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def test_plain_json_comes_through_unchanged_with_no_problems() -> None:
    value = {"ok": True, "n": 10**30, "f": 1.5, "t": "héllo ✓", "l": [None, False, {"k": []}]}
    answer = safe_answer(value)
    assert answer.value == value
    assert answer.problems == []
    assert answer.described == ""


def test_nan_and_infinity_are_named_where_they_are_and_kept_as_words() -> None:
    answer = safe_answer({"a": float("nan"), "b": [1, float("inf")], "weird key": float("-inf")})
    assert answer.value == {"a": "NaN", "b": [1, "Infinity"], "weird key": "-Infinity"}
    assert answer.problems == [
        "NaN at answer.a",
        "Infinity at answer.b[1]",
        '-Infinity at answer["weird key"]',
    ]
    json.dumps(answer.value, allow_nan=False)  # the ledger's own rule


def test_text_that_is_not_valid_unicode_is_named_and_replaced() -> None:
    answer = safe_answer({"name": "bad \udcff", "\udc80": 1})
    assert answer.problems == [
        "text that is not valid Unicode at answer.name",
        "text that is not valid Unicode at answer",
    ]
    json.dumps(answer.value, ensure_ascii=False).encode("utf-8")


def test_nesting_past_the_limit_is_cut_and_named() -> None:
    answer = safe_answer({"tree": nested(MAX_DEPTH + 10)})
    assert len(answer.problems) == 1
    assert f"nested more than {MAX_DEPTH} levels at answer.tree[0]" in answer.problems[0]
    json.dumps(answer.value)


def test_an_integer_too_long_to_write_is_named() -> None:
    answer = safe_answer([10**5000])
    assert answer.problems == ["an integer of about 5,000 digits at answer[0]"]


def test_a_large_answer_is_recorded_as_the_start_of_its_json() -> None:
    big = {"ok": True, "padding": "x" * (MAX_RECORDED_CHARS * 3)}
    kept = recordable(big)
    assert isinstance(kept, str)
    assert kept.startswith(f"[answer of {len(json.dumps(big)):,} characters")
    assert len(kept) < MAX_RECORDED_CHARS + 200
    assert recordable({"ok": True}) == {"ok": True}


def test_a_check_whose_answer_holds_nan_fails_even_when_the_expectation_matches() -> None:
    result = evaluate(PING, invoked({"ok": True, "latency": float("nan")}))
    assert result.ok is False
    assert result.detail == "the answer is not plain JSON: NaN at answer.latency"
    assert result.response == {"ok": True, "latency": "NaN"}


def test_an_api_gateway_body_holding_nan_fails_the_check() -> None:
    answer = {"statusCode": 200, "body": '{"ok": true, "score": NaN}'}
    result = evaluate(PING, invoked(answer))
    assert result.ok is False
    assert "NaN at body.score" in result.detail


def test_an_api_gateway_body_nested_past_parsing_is_compared_as_text() -> None:
    answer = {"statusCode": 200, "body": "[" * 100_000 + "]" * 100_000}
    result = evaluate(PING, invoked(answer))
    assert result.ok is False
    assert "expected body to be an object" in result.detail


def test_logs_with_invalid_unicode_are_kept_readable() -> None:
    result = evaluate(PING, invoked({"ok": True}, logs="printed \udcff"))
    assert result.ok is True
    result.logs.encode("utf-8")
