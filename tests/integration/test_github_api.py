"""`lambda-promote github environments` and `github approvals` end to end: the real CLI in a
child process, talking HTTP to a server on 127.0.0.1 that behaves like GitHub's REST API —
including a plan that refuses required reviewers (422) and one that silently drops them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from github_fake import TOKEN, FakeGitHub

CONFIG = """\
project: orders-api
function: {}
environments:
  staging: {function_name: orders-staging}
  production:
    function_name: orders-production
    promote_from: staging
    branches: [main]
    approval:
      provider: github
      reviewers: [team-lead, acme/sre]
      wait_timer_minutes: 5
triggers:
  - {event: push, branches: [main], deploy: [staging, production]}
"""


def cli(root: Path, *args: str, url: str = "", token: str | None = TOKEN) -> tuple[int, Any, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update({"GITHUB_API_URL": url or "http://127.0.0.1:9", "NO_COLOR": "1"})
    if token:
        env["GITHUB_TOKEN"] = token
    code = "import lambda_promote.commands_github; from lambda_promote.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, *args, "--json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert TOKEN not in done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "promote.yaml").write_text(CONFIG)
    return tmp_path


def test_environments_are_created_with_reviewers_resolved_to_ids(
    github: tuple[FakeGitHub, str], project: Path
) -> None:
    fake, url = github
    code, body, err = cli(project, "github", "environments", "--repo", "acme/orders-api", url=url)
    assert code == 0, (body, err)
    enforced = {e["name"]: e for e in body["environments"]}
    assert list(enforced) == [
        "staging",
        "staging-rollback",
        "production-approval",
        "production",
        "production-rollback",
    ]
    gate = enforced["production"]  # reviewers decide once, at deploy-production (#11.9)
    assert enforced["production-approval"]["reviewers"] == []
    assert gate["reviewers"] == ["team-lead", "sre"]
    assert gate["prevent_self_review"] is True
    assert gate["wait_timer"] == 5
    assert gate["branches"] == "branches main"
    assert gate["missing"] == []
    assert enforced["staging"]["branches"] == "any branch"
    put = next(b for m, p, b in fake.requests if m == "PUT" and p.endswith("/production"))
    assert put["reviewers"] == [{"type": "User", "id": 101}, {"type": "Team", "id": 501}]


def test_running_it_again_changes_nothing_and_removes_stale_branch_policies(
    github: tuple[FakeGitHub, str], project: Path
) -> None:
    fake, url = github
    cli(project, "github", "environments", "--repo", "acme/orders-api", url=url)
    fake.policies["production"][1] = "old-branch"
    fake.requests.clear()
    code, _, _ = cli(project, "github", "environments", "--repo", "acme/orders-api", url=url)
    assert code == 0
    assert not [r for r in fake.requests if r[0] == "POST"]
    assert [p for m, p, _ in fake.requests if m == "DELETE"] == [
        "/repos/acme/orders-api/environments/production/deployment-branch-policies/1"
    ]
    assert sorted(fake.policies["production"].values()) == ["main"]


@pytest.mark.parametrize("plan", ["free", "drops"])
def test_a_plan_without_required_reviewers_is_reported_with_the_builtin_gate_as_the_way_out(
    github: tuple[FakeGitHub, str], project: Path, plan: str
) -> None:
    fake, url = github
    fake.plan = plan
    code, body, _ = cli(project, "github", "environments", "--repo", "acme/orders-api", url=url)
    assert code == 1
    assert body["error"]["code"] == "github_reviewers_refused"
    assert body["error"]["message"].endswith("required reviewers on production")
    assert "approval.provider: builtin" in body["error"]["hint"]
    enforced = {e["name"]: e for e in body["environments"]}
    assert "required reviewers" in enforced["production"]["missing"]
    # The environments exist all the same, so the workflow can run with the built-in gate.
    assert set(fake.environments) == set(enforced)
    if plan == "free":
        assert "Required reviewers are not available" in enforced["production"]["refused"][0]


def test_a_dry_run_prints_the_calls_and_needs_neither_token_nor_network(project: Path) -> None:
    code, body, err = cli(
        project, "github", "environments", "--repo", "acme/orders-api", "--dry-run", token=None
    )
    assert code == 0, (body, err)
    methods = [c["method"] for c in body["calls"]]
    assert methods.count("PUT") == 5
    assert body["calls"][0] == {"method": "GET", "path": "/users/team-lead", "body": None}


def test_the_runs_approvals_are_read_and_returned(
    github: tuple[FakeGitHub, str], project: Path
) -> None:
    fake, url = github
    fake.approvals["4242"] = [
        {
            "environments": [{"id": 1, "name": "production-approval"}],
            "state": "approved",
            "comment": "numbers look good",
            "user": {"login": "team-lead"},
        }
    ]
    args = ("github", "approvals", "--env", "production", "--run-id", "4242")
    code, body, err = cli(project, *args, "--repo", "acme/orders-api", url=url)
    assert code == 0, (body, err)
    assert [
        (a["reviewer"], a["approve"], a["comment"], a["source"]) for a in body["approvals"]
    ] == [("team-lead", True, "numbers look good", "github")]


def test_a_run_nobody_approved_is_blocked_with_exit_5(
    github: tuple[FakeGitHub, str], project: Path
) -> None:
    _, url = github
    args = (
        "github",
        "approvals",
        "--env",
        "production",
        "--run-id",
        "7",
        "--repo",
        "acme/orders-api",
    )
    code, body, _ = cli(project, *args, url=url)
    assert code == 5
    assert body["error"]["code"] == "approval_missing"


def test_a_wrong_token_is_reported_without_showing_it(
    github: tuple[FakeGitHub, str], project: Path
) -> None:
    _, url = github
    code, body, err = cli(
        project, "github", "environments", "--repo", "acme/orders-api", url=url, token="nope"
    )
    assert code == 1
    assert "HTTP 401: Bad credentials" in body["error"]["message"]
    assert "nope" not in json.dumps(body) + err


@pytest.mark.network
def test_workflow_check_fails_until_the_file_is_written(project: Path) -> None:
    # Writing resolves the lock with uv against the package index (#11.9), where this
    # project's tool must exist: a commit of a git repository.
    sha = "0123456789abcdef0123456789abcdef01234567"
    with (project / "promote.yaml").open("a") as config:
        config.write(f"github: {{tool: 'git+https://github.com/acme/lambda-promote@{sha}'}}\n")
    code, body, _ = cli(project, "github", "workflow", "--check")
    assert (code, body["error"]["code"]) == (1, "workflow_out_of_date")
    code, body, _ = cli(project, "github", "workflow")
    assert code == 0
    assert body["workflow"]["written"] is True
    assert (project / ".github" / "workflows" / "promote.yml").exists()
    code, body, _ = cli(project, "github", "workflow", "--check")
    assert code == 0
    assert body["workflow"]["current"] is True
