"""DESIGN §5.1–§5.3 as a table: every way into a gated environment that must be refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lambda_promote.config.schema import Approval, Environment
from lambda_promote.errors import GateBlocked, UsageError
from lambda_promote.gate import (
    branch_matches,
    check_admission,
    check_decision,
    check_promotion,
    evaluate,
)
from lambda_promote.model import ApprovalDecision, ApprovalRequest, RequestState

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DIGEST = "d" * 64
OTHER = "e" * 64
RULE = Approval(
    reviewers=["lead", "ops", "sec"], min_approvals=2, wait_timer_minutes=30, expires_after_hours=72
)
PROD = Environment(
    function_name="fn-prod", promote_from="staging", branches=["main", "release/*"], approval=RULE
)


def request(
    *decisions: tuple[str, bool],
    state: RequestState = RequestState.OPEN,
    age: timedelta = timedelta(hours=1),
    env: str = "production",
    digest: str = DIGEST,
) -> ApprovalRequest:
    at = NOW - age
    return ApprovalRequest(
        id="r-1",
        env=env,
        digest=digest,
        requested_by="alice",
        built_by="bob",
        requested_at=at,
        expires_at=at + timedelta(hours=72),
        state=state,
        decisions=[ApprovalDecision(reviewer=r, approve=ok, at=at) for r, ok in decisions],
    )


@pytest.mark.parametrize(
    ("branch", "patterns", "matches"),
    [
        ("main", ["main"], True),
        ("release/1.2", ["release/*"], True),
        ("release/a/b", ["release/*"], False),
        ("release/a/b", ["release/**"], True),
        ("mainline", ["main"], False),
        ("feature/x", ["main", "release/*"], False),
    ],
)
def test_branch_globs(branch: str, patterns: list[str], matches: bool) -> None:
    assert branch_matches(branch, patterns) is matches


def test_promotion_needs_success_in_the_source_env() -> None:
    with pytest.raises(GateBlocked, match="succeeded in staging") as raised:
        check_promotion("production", PROD, digest=DIGEST, branch="main", succeeded_in_source=[])
    assert raised.value.code == "source_not_verified"
    check_promotion("production", PROD, digest=DIGEST, branch="main", succeeded_in_source=[DIGEST])


@pytest.mark.parametrize("branch", ["develop", "release/a/b", None])
def test_promotion_refuses_branches_not_allowed(branch: str | None) -> None:
    with pytest.raises(GateBlocked) as raised:
        check_promotion(
            "production", PROD, digest=DIGEST, branch=branch, succeeded_in_source=[DIGEST]
        )
    assert raised.value.code == "branch_not_allowed"


def test_granted_needs_distinct_approvers_and_the_timer() -> None:
    verdict = evaluate(RULE, request(("lead", True), ("ops", True)), NOW)
    assert verdict.granted
    assert verdict.approvers == ("lead", "ops")


@pytest.mark.parametrize(
    ("req", "now", "code", "says"),
    [
        (None, NOW, "approval_missing", "there is none"),
        (request(("lead", True)), NOW, "approval_open", "may still approve: ops, sec"),
        (request(("lead", True), ("lead", True)), NOW, "approval_open", "1 of 2 approvals"),
        (
            request(("lead", True), ("ops", True), age=timedelta(minutes=5)),
            NOW,
            "approval_open",
            "wait timer runs until",
        ),
        (
            request(("lead", True), ("ops", True)),
            NOW + timedelta(hours=80),
            "approval_expired",
            "expired",
        ),
        (request(("lead", True), ("ops", False)), NOW, "approval_rejected", "rejected by ops"),
        (
            request(("lead", True), ("ops", True), state=RequestState.CONSUMED),
            NOW,
            "approval_consumed",
            "already admitted",
        ),
        (
            request(("lead", True), ("ops", True), digest=OTHER),
            NOW,
            "approval_mismatch",
            "never transfer",
        ),
        (
            request(("lead", True), ("ops", True), env="staging"),
            NOW,
            "approval_mismatch",
            "never transfer",
        ),
    ],
    ids=[
        "none",
        "too-few",
        "same-person-twice",
        "wait-timer",
        "expired",
        "rejected",
        "reused",
        "other-digest",
        "other-env",
    ],
)
def test_admission_refusals(
    req: ApprovalRequest | None, now: datetime, code: str, says: str
) -> None:
    with pytest.raises(GateBlocked, match=says) as raised:
        check_admission(RULE, req, env_name="production", digest=DIGEST, now=now)
    assert raised.value.code == code


def test_admission_of_a_granted_request() -> None:
    check_admission(
        RULE, request(("lead", True), ("sec", True)), env_name="production", digest=DIGEST, now=NOW
    )


@pytest.mark.parametrize(
    ("reviewer", "req", "error", "says"),
    [
        ("mallory", request(), GateBlocked, "not a reviewer"),
        ("lead", request(("lead", True)), UsageError, "already decided"),
        ("ops", request(("lead", False)), GateBlocked, "rejected"),
        ("ops", request(age=timedelta(hours=100)), GateBlocked, "expired"),
    ],
)
def test_who_may_decide(
    reviewer: str, req: ApprovalRequest, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        check_decision(RULE, req, reviewer=reviewer, approve=True, now=NOW)


@pytest.mark.parametrize(("person", "role"), [("alice", "requested"), ("bob", "built")])
def test_no_self_review(person: str, role: str) -> None:
    rule = RULE.model_copy(update={"reviewers": [*RULE.reviewers, "alice", "bob"]})
    with pytest.raises(GateBlocked, match=f"{person} {role} this release"):
        check_decision(rule, request(), reviewer=person, approve=True, now=NOW)
    relaxed = rule.model_copy(update={"prevent_self_review": False})
    check_decision(relaxed, request(), reviewer=person, approve=True, now=NOW)


def test_wait_timer_holds_even_when_every_approval_is_in() -> None:
    rule = RULE.model_copy(update={"wait_timer_minutes": 120})
    verdict = evaluate(rule, request(("lead", True), ("ops", True), ("sec", True)), NOW)
    assert not verdict.granted
    assert "wait timer" in verdict.summary
