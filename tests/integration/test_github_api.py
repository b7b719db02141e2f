"""`lambda-promote github environments` and `github approvals` end to end: the real CLI in a
child process, talking HTTP to a server on 127.0.0.1 that behaves like GitHub's REST API —
including a plan that refuses required reviewers (422) and one that silently drops them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

TOKEN = "ghs_test_token_value_123"
CONFIG = """\
project: orders-api
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


@dataclass
class FakeGitHub:
    """GitHub's REST API as far as lambda-promote uses it. ``plan``: ``free`` refuses
    protection rules with 422 (a private repository without a paid plan), ``drops`` accepts
    them and forgets them, anything else enforces them."""

    plan: str = "team"
    users: dict[str, int] = field(default_factory=lambda: {"team-lead": 101, "devops-admin": 102})
    teams: dict[str, int] = field(default_factory=lambda: {"acme/sre": 501})
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, dict[int, str]] = field(default_factory=dict)
    approvals: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    next_id: int = 1000

    def handle(self, method: str, path: str, auth: str, body: Any) -> tuple[int, Any]:
        self.requests.append((method, path, body))
        if auth != f"Bearer {TOKEN}":
            return 401, {"message": "Bad credentials"}
        for pattern, handler in self.routes():
            match = re.fullmatch(pattern, f"{method} {path}")
            if match:
                return handler(body, *match.groups())
        return 404, {"message": "Not Found"}

    def routes(self) -> list[tuple[str, Any]]:
        env = r"/repos/acme/orders-api/environments/([\w-]+)"
        return [
            (r"GET /users/([\w-]+)", self.user),
            (r"GET /orgs/(\w+)/teams/([\w-]+)", self.team),
            (rf"PUT {env}", self.put_env),
            (rf"GET {env}", self.get_env),
            (rf"GET {env}/deployment-branch-policies", self.list_policies),
            (rf"POST {env}/deployment-branch-policies", self.add_policy),
            (rf"DELETE {env}/deployment-branch-policies/(\d+)", self.delete_policy),
            (r"GET /repos/acme/orders-api/actions/runs/(\d+)/approvals", self.run_approvals),
        ]

    def user(self, _: Any, login: str) -> tuple[int, Any]:
        if login not in self.users:
            return 404, {"message": "Not Found"}
        return 200, {"login": login, "id": self.users[login], "type": "User"}

    def team(self, _: Any, org: str, slug: str) -> tuple[int, Any]:
        return 200, {"slug": slug, "id": self.teams[f"{org}/{slug}"]}

    def put_env(self, body: dict[str, Any], name: str) -> tuple[int, Any]:
        if self.plan == "free" and (body.get("reviewers") or body.get("wait_timer")):
            return 422, {
                "message": "Validation Failed",
                "errors": ["Required reviewers are not available for this repository's plan"],
            }
        rules: list[dict[str, Any]] = []
        if body.get("wait_timer"):
            rules.append({"id": 1, "type": "wait_timer", "wait_timer": body["wait_timer"]})
        if body.get("reviewers"):
            by_id = {v: k for k, v in {**self.users, **self.teams}.items()}
            reviewers = [
                {
                    "type": r["type"],
                    "reviewer": {
                        "login" if r["type"] == "User" else "slug": by_id[r["id"]].split("/")[-1]
                    },
                }
                for r in body["reviewers"]
            ]
            rules.append(
                {
                    "id": 2,
                    "type": "required_reviewers",
                    "prevent_self_review": body.get("prevent_self_review", False),
                    "reviewers": reviewers,
                }
            )
        if self.plan == "drops":
            rules = []
        policy = body.get("deployment_branch_policy")
        self.environments[name] = {
            "name": name,
            "protection_rules": rules,
            "deployment_branch_policy": policy,
        }
        return 200, self.environments[name]

    def get_env(self, _: Any, name: str) -> tuple[int, Any]:
        if name not in self.environments:
            return 404, {"message": "Not Found"}
        return 200, self.environments[name]

    def list_policies(self, _: Any, name: str) -> tuple[int, Any]:
        found = self.policies.get(name, {})
        return 200, {
            "total_count": len(found),
            "branch_policies": [{"id": i, "name": n, "type": "branch"} for i, n in found.items()],
        }

    def add_policy(self, body: dict[str, Any], name: str) -> tuple[int, Any]:
        self.next_id += 1
        self.policies.setdefault(name, {})[self.next_id] = body["name"]
        return 200, {"id": self.next_id, "name": body["name"], "type": "branch"}

    def delete_policy(self, _: Any, name: str, policy_id: str) -> tuple[int, Any]:
        self.policies[name].pop(int(policy_id))
        return 204, None

    def run_approvals(self, _: Any, run_id: str) -> tuple[int, Any]:
        return 200, self.approvals.get(run_id, [])


@pytest.fixture
def github() -> Iterator[tuple[FakeGitHub, str]]:
    fake = FakeGitHub()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            status, answer = fake.handle(
                self.command, self.path, self.headers.get("Authorization", ""), body
            )
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = _serve

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


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
    gate = enforced["production-approval"]
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
    assert "production-approval, production" in body["error"]["message"]
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


def test_workflow_check_fails_until_the_file_is_written(project: Path) -> None:
    code, body, _ = cli(project, "github", "workflow", "--check")
    assert (code, body["error"]["code"]) == (1, "workflow_out_of_date")
    code, body, _ = cli(project, "github", "workflow")
    assert code == 0
    assert body["workflow"]["written"] is True
    assert (project / ".github" / "workflows" / "promote.yml").exists()
    code, body, _ = cli(project, "github", "workflow", "--check")
    assert code == 0
    assert body["workflow"]["current"] is True
