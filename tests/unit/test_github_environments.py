"""`lambda-promote github environments`: which protections each GitHub environment gets
from promote.yaml, and the exact API calls a dry run shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambda_promote.config import load_config
from lambda_promote.config.schema import Config
from lambda_promote.errors import PromoteError, UsageError
from lambda_promote.github.api import GitHubApi
from lambda_promote.github.environments import EnvironmentSpec, apply, desired, plan_calls

CONFIG = """\
project: orders-api
function: {}
environments:
  staging: {function_name: s}
  production:
    function_name: p
    promote_from: staging
    branches: [main]
    approval:
      provider: github
      reviewers: [team-lead, acme/sre]
      wait_timer_minutes: 15
"""


def config(tmp_path: Path, text: str = CONFIG) -> Config:
    (tmp_path / "promote.yaml").write_text(text)
    return load_config(tmp_path / "promote.yaml", check_source=False)


def test_the_seeds_five_environments_get_the_protections_of_promote_yaml(tmp_path: Path) -> None:
    specs = {s.name: s for s in desired(config(tmp_path))}
    assert list(specs) == [
        "staging",
        "staging-rollback",
        "production-approval",
        "production",
        "production-rollback",
    ]
    # Since #11.9 reviewers decide once, at deploy-production, after the request job put the
    # evidence in the run's summary: production holds the gate, production-approval only the
    # request job's role and secrets.
    gate = specs["production"]
    assert gate.reviewers == ("team-lead", "acme/sre")
    assert gate.prevent_self_review is True
    assert gate.wait_timer == 15
    assert gate.branches == ("main",)
    request = specs["production-approval"]
    assert (request.reviewers, request.wait_timer, request.branches) == ((), 0, ("main",))
    rollback = specs["production-rollback"]
    assert (rollback.reviewers, rollback.branches) == ((), ("main",))
    assert specs["staging"] == EnvironmentSpec("staging", "deploy to staging")


def test_with_the_builtin_gate_github_gets_no_reviewers(tmp_path: Path) -> None:
    specs = desired(config(tmp_path, CONFIG.replace("provider: github", "provider: builtin")))
    assert all(not s.reviewers and not s.wait_timer for s in specs)


def test_a_dry_run_lists_every_call_with_its_json_body(tmp_path: Path) -> None:
    calls = plan_calls(desired(config(tmp_path)), "acme/orders-api")
    lines = [c.line() for c in calls]
    assert lines[:2] == [
        "GET /users/team-lead  # id of team-lead",
        "GET /orgs/acme/teams/sre  # id of acme/sre",
    ]
    put = next(c for c in calls if c.method == "PUT" and c.path.endswith("/production"))
    assert put.path == "/repos/acme/orders-api/environments/production"
    assert put.body == {
        "wait_timer": 15,
        "prevent_self_review": True,
        "reviewers": [
            {"type": "User", "id": "<id from GET /users/team-lead>"},
            {"type": "Team", "id": "<id from GET /orgs/acme/teams/sre>"},
        ],
        "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
    }
    assert json.loads(put.line().split(" ", 2)[2].split("  #")[0]) == put.body
    assert (
        "POST /repos/acme/orders-api/environments/production/deployment-branch-policies "
        '{"name": "main", "type": "branch"}  # unless present'
    ) in lines
    assert lines[-1] == (
        "GET /repos/acme/orders-api/environments/production-rollback  "
        "# read back what GitHub enforces"
    )


def test_a_repository_that_is_not_owner_slash_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="OWNER/NAME"):
        plan_calls(desired(config(tmp_path)), "orders-api")


def test_applying_without_a_token_says_how_to_give_one(tmp_path: Path) -> None:
    def transport(*_: Any) -> tuple[int, bytes]:
        raise AssertionError("no call may be made without a token")

    with pytest.raises(UsageError, match="GITHUB_TOKEN"):
        apply(desired(config(tmp_path)), "acme/x", GitHubApi(token=None, transport=transport))


def test_an_error_answer_names_the_call_and_never_the_token(tmp_path: Path) -> None:
    def transport(*_: Any) -> tuple[int, bytes]:
        return 403, b'{"message": "Resource not accessible by integration"}'

    api = GitHubApi(token="ghp_secret_value", transport=transport)
    with pytest.raises(PromoteError) as caught:
        apply(desired(config(tmp_path)), "acme/x", api)
    text = f"{caught.value.message} {caught.value.hint} {caught.value.payload} {api!r}"
    assert "GET /users/team-lead: HTTP 403: Resource not accessible by integration" in text
    assert "ghp_secret_value" not in text
