"""``approval.provider: github`` end to end: inside a workflow run, production admits the
release only when the run's GitHub approvals satisfy promote.yaml, and records who approved —
in the ledger and the audit trail. A fake GitHub REST API on 127.0.0.1 answers."""

from __future__ import annotations

from pathlib import Path

from cli_project import Project, make_project
from github_fake import TOKEN

GITHUB_GATE = {
    "      reviewers: [lead, ops]\n      min_approvals: 1\n": (
        "      provider: github\n      reviewers: [lead, ops]\n      min_approvals: 1\n"
    )
}


def in_run(url: str, run_id: str) -> dict[str, str]:
    return {
        "GITHUB_API_URL": url,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": "acme/orders-api",
        "GITHUB_RUN_ID": run_id,
    }


def approval(env: str, login: str, state: str = "approved", comment: str = "") -> dict:
    return {
        "environments": [{"id": 1, "name": env}],
        "state": state,
        "comment": comment,
        "user": {"login": login},
    }


COMMIT = "0123456789abcdef0123456789abcdef01234567"


def staged(tmp_path: Path) -> Project:
    """The release built from COMMIT (as in the workflow's build job) is live in staging."""
    project = make_project(tmp_path / "gh", edits=GITHUB_GATE)
    project.run("deploy", "staging", env={"GITHUB_SHA": COMMIT}, check=0)
    return project


def test_the_runs_approval_admits_and_is_recorded(tmp_path: Path, github) -> None:
    fake, url = github
    fake.approvals["77"] = [approval("production-approval", "lead", comment="ship it")]
    fake.runs["77"] = {"status": "in_progress", "head_sha": COMMIT}  # this run built it
    project = staged(tmp_path)
    _, body = project.run("deploy", "production", env=in_run(url, "77"), check=0)
    assert body["deployment"]["state"] == "succeeded"
    _, audit = project.run("audit", check=0)
    granted = [e for e in audit["events"] if e["action"] == "approval.granted"]
    assert [(e["details"]["reviewer"], e["details"]["source"], e["reason"]) for e in granted] == [
        ("lead", "github", "ship it")
    ]
    assert any(e["action"] == "approval.consumed" for e in audit["events"])


def test_a_run_without_approval_is_refused_and_nothing_recorded(tmp_path: Path, github) -> None:
    _, url = github
    project = staged(tmp_path)
    before = project.counts()
    code, body = project.run("deploy", "production", env=in_run(url, "78"))
    assert code == 5
    assert body["error"]["code"] == "approval_missing"
    assert project.counts() == before


def test_an_unlisted_approver_does_not_count(tmp_path: Path, github) -> None:
    fake, url = github
    fake.approvals["79"] = [approval("production", "mallory")]
    project = staged(tmp_path)
    code, _ = project.run("deploy", "production", env=in_run(url, "79"))
    assert code == 5


def test_outside_a_workflow_run_the_github_gate_refuses(tmp_path: Path) -> None:
    project = staged(tmp_path)
    code, body = project.run("deploy", "production")
    assert code == 5
    assert "not a GitHub Actions run" in body["error"]["message"]
    code, body = project.run("approve", "abcd", "--env", "production", user="lead")
    assert code == 2
    assert "from GitHub" in body["error"]["message"]
