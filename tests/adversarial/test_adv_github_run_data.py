"""``approval.provider: github`` against forged run data: the deploy of production reads who
approved *this* workflow run from the GitHub API (a fake on 127.0.0.1, ``github_fake``), and
whoever can set the job's environment can point it elsewhere. Each attack below must be refused
with exit 5, naming what is wrong, and must leave the ledger as it was.

What the gate rests on (docs/STAGING_TO_PRODUCTION_WORKFLOW.md §5): the run named by
``GITHUB_RUN_ID`` must be in progress in ``GITHUB_REPOSITORY`` and have built the release's own
commit; only approvals for the environment's two GitHub environments count, only by listed
reviewers (a listed team only vouches inside its own organisation's repositories), never by
whoever started the run (``prevent_self_review``); one rejection blocks; the API is reached
over HTTPS (plain HTTP only on loopback, for tests and local emulators). An HTTPS server that
lies cannot be told from GitHub Enterprise: that part rests on the runner's environment and on
the production role being assumable only from the protected GitHub environment.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from cli_project import Project, make_project
from github_fake import TOKEN, FakeGitHub, serve_github
from lambda_promote.github.api import in_clear

COMMIT = "1f3e5a7c9b2d4f6081a3c5e7f9b1d3e5a7c9b2d4"
OTHER_COMMIT = "9b2d4f6081a3c5e7f9b1d3e5a7c9b2d41f3e5a7c"
EDITS = {
    # production: GitHub's approvals, reviewers named one by one.
    "      reviewers: [lead, ops]\n      min_approvals: 1\n": (
        "      provider: github\n      reviewers: [lead, ops]\n      min_approvals: 1\n"
    ),
    # eu-production: GitHub's approvals, a team of the acme organisation as reviewers.
    "    approval:\n      reviewers: [lead, ops]\n    checks:": (
        "    approval:\n      provider: github\n      reviewers: [acme/sre]\n    checks:"
    ),
}
_run_ids = itertools.count(500)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeGitHub, str, Project]]:
    """One fake GitHub and one project whose release (built from COMMIT) is live in staging.
    Every attack is refused before anything is recorded, so the tests can share them."""
    with serve_github() as (fake, url):
        project = make_project(tmp_path_factory.mktemp("gh") / "orders-api", edits=EDITS)
        project.run("deploy", "staging", env={"GITHUB_SHA": COMMIT}, check=0)
        yield fake, url, project


def review(env: str, login: str, state: str = "approved", comment: str = "") -> dict[str, Any]:
    return {
        "environments": [{"id": 1, "name": env}],
        "state": state,
        "comment": comment,
        "user": {"login": login},
    }


def a_run(fake: FakeGitHub, *reviews: dict[str, Any], **details: Any) -> str:
    """A workflow run (in progress, of COMMIT, in acme/orders-api unless ``details`` say
    otherwise) carrying ``reviews``; returns its id."""
    run_id = str(next(_run_ids))
    fake.runs[run_id] = {"status": "in_progress", "head_sha": COMMIT, "actor": "dev", **details}
    fake.approvals[run_id] = list(reviews)
    return run_id


def deploy(
    world: tuple[FakeGitHub, str, Project], run_id: str, env: str = "production", **overrides: str
) -> tuple[int, dict[str, Any]]:
    _, url, project = world
    variables = {
        "GITHUB_API_URL": url,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": "acme/orders-api",
        "GITHUB_RUN_ID": run_id,
        **overrides,
    }
    return project.run("deploy", env, user="ci", env=variables)


def refused(world: tuple[FakeGitHub, str, Project], run_id: str, **options: str) -> dict:
    """Deploy with ``run_id``; it must be refused with exit 5 and change nothing."""
    project = world[2]
    before = project.counts()
    code, body = deploy(world, run_id, **options)
    assert code == 5, body
    assert project.counts() == before
    return body["error"]


def test_the_approval_of_a_run_that_built_another_commit_is_refused(world):
    run_id = a_run(world[0], review("production-approval", "lead"), head_sha=OTHER_COMMIT)
    error = refused(world, run_id)
    assert error["code"] == "approval_mismatch"
    assert f"run {run_id}" in error["message"]
    assert OTHER_COMMIT[:12] in error["message"]
    assert COMMIT[:12] in error["message"]


def test_the_approval_of_an_old_finished_run_is_not_replayed(world):
    run_id = a_run(
        world[0], review("production-approval", "lead"), status="completed", conclusion="success"
    )
    error = refused(world, run_id)
    assert error["code"] == "approval_mismatch"
    assert f"run {run_id} of acme/orders-api is completed" in error["message"]


def test_a_run_id_that_is_not_a_run_of_the_repository_is_refused(world):
    elsewhere = a_run(world[0], review("production-approval", "lead"), repository="acme/other")
    error = refused(world, elsewhere)
    assert f"run {elsewhere} is not a workflow run of acme/orders-api" in error["message"]


def test_another_repository_where_the_attacker_approves_is_not_vouched_for_by_a_team(world):
    # A fork has the same commits; its owner is the reviewer of its own environments.
    fork = a_run(world[0], review("eu-production", "mallory"), repository="mallory/orders-api")
    error = refused(world, fork, env="eu-production", GITHUB_REPOSITORY="mallory/orders-api")
    assert error["code"] == "approval_open"
    assert "mallory" in error["message"]


def test_approvals_for_another_environment_do_not_count(world):
    run_id = a_run(world[0], review("staging", "lead"), review("eu-production", "ops"))
    error = refused(world, run_id)
    assert error["code"] == "approval_missing"
    assert "production-approval and production" in error["message"]


def test_an_approval_by_someone_not_among_the_reviewers_does_not_count(world):
    run_id = a_run(world[0], review("production-approval", "mallory"))
    error = refused(world, run_id)
    assert error["code"] == "approval_open"
    assert "not reviewers in promote.yaml: mallory" in error["message"]


def test_one_rejection_blocks_even_beside_an_approval(world):
    run_id = a_run(
        world[0],
        review("production-approval", "lead"),
        review("production", "ops", "rejected", comment="breaks checkout"),
    )
    error = refused(world, run_id)
    assert error["code"] == "approval_rejected"
    assert "ops rejected" in error["message"]
    assert "breaks checkout" in error["message"]


def test_the_person_who_started_the_run_cannot_approve_it_with_prevent_self_review(world):
    # prevent_self_review is on (the default): GitHub may not enforce it (plans, settings),
    # so the gate does, as it does for the reviewers list.
    run_id = a_run(world[0], review("production-approval", "lead"), actor="lead")
    error = refused(world, run_id)
    assert error["code"] == "self_review"
    assert f"lead started run {run_id}" in error["message"]


def test_approvals_read_over_plain_http_from_a_host_that_is_not_loopback_are_refused(world):
    fake, url, _ = world
    run_id = a_run(fake, review("production-approval", "lead"))
    # The fake is reachable as 0.0.0.0 too, so only the rule can stop this one.
    forged = url.replace("127.0.0.1", "0.0.0.0")
    asked = len(fake.requests)
    error = refused(world, run_id, GITHUB_API_URL=forged)
    assert f"GITHUB_API_URL={forged} is not https" in error["message"]
    assert len(fake.requests) == asked  # the token never went there


def test_a_genuine_run_of_the_release_admits_it_and_records_the_approver(world):
    project = world[2]
    run_id = a_run(world[0], review("production-approval", "lead", comment="ship it"))
    code, body = deploy(world, run_id)
    assert code == 0, body
    project.run("audit", "--verify", check=0)
    _, audit = project.run("audit", check=0)
    granted = [e for e in audit["events"] if e["action"] == "approval.granted"]
    assert [(e["details"]["reviewer"], e["details"]["run_id"]) for e in granted] == [
        ("lead", run_id)
    ]


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("https://api.github.com", False),
        ("https://ghe.example.com/api/v3", False),
        ("http://127.0.0.1:8080", False),
        ("http://localhost:8080", False),
        ("http://[::1]:8080", False),
        ("http://api.github.com", True),
        ("http://0.0.0.0:8080", True),
        ("http://10.0.0.5", True),
        ("ftp://api.github.com", True),
        ("api.github.com", True),
    ],
)
def test_only_https_or_loopback_counts_as_a_github_api_to_trust(url: str, refused: bool):
    assert in_clear(url) is refused
