"""Approvals from GitHub: a run's reviews become the gate's decisions, and the rules of
promote.yaml still decide whether they admit the environment."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from lambda_promote.config.schema import Approval
from lambda_promote.errors import GateBlocked
from lambda_promote.github.api import GitHubApi
from lambda_promote.github.approvals import check, decisions_for, github_approvals

AT = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
RULE = Approval(provider="github", reviewers=["team-lead", "devops-admin"])


def review(user: str, state: str, *envs: str, comment: str = "") -> dict[str, Any]:
    return {
        "environments": [{"id": i, "name": e} for i, e in enumerate(envs)],
        "state": state,
        "comment": comment,
        "user": {"login": user, "id": 7},
    }


def test_reviews_of_the_environment_and_its_approval_environment_count() -> None:
    entries = [
        review("team-lead", "approved", "production-approval", comment="ship it"),
        review("devops-admin", "approved", "production"),
        review("someone", "approved", "staging"),
        review("other", "pending", "production"),
    ]
    decisions = decisions_for(entries, "production", at=AT)
    assert [(d.reviewer, d.approve, d.comment, d.source) for d in decisions] == [
        ("team-lead", True, "ship it", "github"),
        ("devops-admin", True, "", "github"),
    ]
    assert all(d.at == AT for d in decisions)


def test_a_run_without_any_approval_is_refused() -> None:
    with pytest.raises(GateBlocked, match="carries no approval for production") as caught:
        check([], RULE, env_name="production", run_id="42")
    assert caught.value.code == "approval_missing"
    assert "approval.provider: builtin" in caught.value.hint


def test_one_rejection_blocks() -> None:
    decisions = decisions_for(
        [
            review("team-lead", "approved", "production-approval"),
            review("devops-admin", "rejected", "production", comment="not today"),
        ],
        "production",
        at=AT,
    )
    with pytest.raises(GateBlocked, match="devops-admin rejected run 42 on GitHub: not today"):
        check(decisions, RULE, env_name="production", run_id="42")


def test_approvers_missing_from_promote_yaml_do_not_count() -> None:
    decisions = decisions_for([review("intruder", "approved", "production")], "production", at=AT)
    with pytest.raises(GateBlocked, match=r"not reviewers in promote\.yaml: intruder"):
        check(decisions, RULE, env_name="production", run_id="42")


def test_min_approvals_counts_distinct_listed_people_across_both_jobs() -> None:
    rule = Approval(provider="github", reviewers=["ana", "bo"], min_approvals=2)
    one = decisions_for(
        [review("ana", "approved", "production-approval"), review("ana", "approved", "production")],
        "production",
        at=AT,
    )
    with pytest.raises(GateBlocked, match="1 of 2 approvals"):
        check(one, rule, env_name="production", run_id="7")
    two = [*one, *decisions_for([review("Bo", "approved", "production")], "production", at=AT)]
    check(two, rule, env_name="production", run_id="7")


def test_with_a_team_listed_github_already_checked_membership() -> None:
    rule = Approval(provider="github", reviewers=["acme/platform"])
    decisions = decisions_for([review("zoe", "approved", "staging")], "staging", at=AT)
    check(decisions, rule, env_name="staging", run_id="1")


def test_github_approvals_reads_the_runs_approvals_endpoint() -> None:
    seen: list[tuple[str, str]] = []

    def transport(method: str, url: str, headers: Any, body: bytes | None) -> tuple[int, bytes]:
        seen.append((method, url))
        assert headers["Authorization"] == "Bearer t0ken"
        body = [
            {
                "environments": [{"name": "production"}],
                "state": "approved",
                "comment": "",
                "user": {"login": "team-lead"},
            }
        ]
        return 200, json.dumps(body).encode()

    api = GitHubApi(base_url="http://api.test", token="t0ken", transport=transport)
    decisions = github_approvals(
        "production", RULE, repo="acme/orders", run_id="99", api=api, clock=lambda: AT
    )
    assert [d.reviewer for d in decisions] == ["team-lead"]
    assert seen == [("GET", "http://api.test/repos/acme/orders/actions/runs/99/approvals")]
