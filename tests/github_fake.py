"""A server on 127.0.0.1 that behaves like the parts of GitHub's REST API the tool uses
(environments, users, teams, branch policies, a workflow run and its approvals), and its pytest
fixture (``serve_github`` for a module-scoped one)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

TOKEN = "ghs_test_token_value_123"


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
    # Workflow runs by id (ids are global on GitHub): "repository" (default acme/orders-api),
    # "status", "conclusion", "head_sha", "actor". A run listed here is found only in its own
    # repository; a run not listed has approvals (if any) in acme/orders-api and no details.
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
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
            (r"GET /repos/([\w.-]+/[\w.-]+)/actions/runs/(\d+)/approvals", self.run_approvals),
            (r"GET /repos/([\w.-]+/[\w.-]+)/actions/runs/(\d+)", self.run),
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

    def _run_in(self, repo: str, run_id: str) -> dict[str, Any] | None:
        run = self.runs.get(run_id, {})
        return run if run.get("repository", "acme/orders-api") == repo else None

    def run_approvals(self, _: Any, repo: str, run_id: str) -> tuple[int, Any]:
        if self._run_in(repo, run_id) is None:
            return 404, {"message": "Not Found"}
        return 200, self.approvals.get(run_id, [])

    def run(self, _: Any, repo: str, run_id: str) -> tuple[int, Any]:
        run = self._run_in(repo, run_id)
        if run is None or run_id not in self.runs:
            return 404, {"message": "Not Found"}
        owner = repo.split("/", maxsplit=1)[0]
        return 200, {
            "id": int(run_id),
            "status": run.get("status", "in_progress"),
            "conclusion": run.get("conclusion"),
            "head_sha": run.get("head_sha", ""),
            "actor": {"login": run.get("actor", "octocat")},
            "triggering_actor": {"login": run.get("actor", "octocat")},
            "repository": {"full_name": repo, "owner": {"login": owner}},
        }


@pytest.fixture
def github() -> Iterator[tuple[FakeGitHub, str]]:
    with serve_github() as served:
        yield served


@contextmanager
def serve_github() -> Iterator[tuple[FakeGitHub, str]]:
    """A fresh fake GitHub on a free port of 127.0.0.1: ``(fake, base URL)``."""
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
