"""Red-team item 1: someone who can write the ledger but does not hold the audit key forges the
gate's inputs — an approval row, a reopened consumed request, a staging success that never
happened. With LAMBDA_PROMOTE_AUDIT_KEY set the gate admits only what authenticated audit
events back, refuses (exit 5) naming the record, and `audit --verify` reports it. Without a
key, status and gated commands say the ledger is only as trustworthy as its permissions."""

from __future__ import annotations

from pathlib import Path

from cli_project import Project, make_project
from github_fake import (
    TOKEN,
    github,  # noqa: F401 — the fake GitHub REST API fixture
)

KEY = {"LAMBDA_PROMOTE_AUDIT_KEY": "team-audit-key-1"}


def staged(tmp_path: Path, **kw) -> tuple[Project, str]:
    project = make_project(tmp_path / "p", **kw)
    _, body = project.run("deploy", "staging", env=KEY, check=0)
    return project, body["deployment"]["digest"]


def requested(project: Project) -> str:
    _, body = project.run("request-approval", "production", user="alice", env=KEY, check=0)
    return body["approval_request"]["id"]


def refused_by_gate(project: Project, *args: str, user: str = "ops") -> dict:
    before = project.counts()
    code, body = project.run(*args, user=user, env=KEY)
    assert code == 5, body
    assert body["error"]["code"] == "ledger_not_attested", body["error"]
    assert project.counts() == before, "a refusal must leave the ledger unchanged"
    return body


def forge_decision(project: Project, request_id: str, reviewer: str) -> None:
    project.sql(
        "insert into approval_decisions (request_id, seq, reviewer, approve, at, comment, source)"
        " values (?, 1, ?, 1, '2026-01-01 00:00:00.000000', '', 'builtin')",
        request_id,
        reviewer,
    )


def test_with_a_key_a_genuine_approval_still_admits(tmp_path: Path) -> None:
    project, digest = staged(tmp_path)
    req = requested(project)
    project.run("approve", req, "--env", "production", user="ops", env=KEY, check=0)
    _, body = project.run("deploy", "production", user="ops", env=KEY, check=0)
    assert body["deployment"]["digest"] == digest
    _, body = project.run("audit", "--verify", env=KEY, check=0)
    assert body["audit"]["unbacked"] == []


def test_inserted_approval_row_is_refused_with_key(tmp_path: Path) -> None:
    project, _ = staged(tmp_path)
    req = requested(project)
    forge_decision(project, req, "ops")
    body = refused_by_gate(project, "deploy", "production")
    assert f"approval of ops on request {req}" in body["error"]["message"]
    assert "no approval.granted event records it" in body["error"]["message"]
    code, body = project.run("audit", "--verify", env=KEY)
    assert code == 1
    assert body["error"]["code"] == "ledger_not_attested"
    assert body["audit"]["unbacked"][0]["record"] == f"approval of ops on request {req}"


def test_inserted_approval_row_is_reported_by_verify_without_key(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    project.run("deploy", "staging", check=0)
    _, body = project.run("request-approval", "production", check=0)
    req = body["approval_request"]["id"]
    forge_decision(project, req, "ops")
    _, body = project.run("audit", "--verify", check=0)  # no key: reported, not failed
    assert [u["record"] for u in body["audit"]["unbacked"]] == [f"approval of ops on request {req}"]


def test_reopened_consumed_request_is_refused_with_key(tmp_path: Path) -> None:
    project, _ = staged(tmp_path)
    req = requested(project)
    project.run("approve", req, "--env", "production", user="ops", env=KEY, check=0)
    _, first = project.run("deploy", "production", user="ops", env=KEY, check=0)
    project.sql("update approval_requests set state = 'open', consumed_by = null where id = ?", req)
    body = refused_by_gate(project, "deploy", "production")
    assert f"consumed by deployment {first['deployment']['id']}" in body["error"]["message"]


def test_fake_staging_success_is_refused_with_key(tmp_path: Path) -> None:
    project, _ = staged(tmp_path)
    project.release("r2", broken=True)
    code, body = project.run("deploy", "staging", env=KEY)
    assert code == 3  # failed, rolled back
    bad = body["deployment"]
    project.sql("update deployments set state = 'succeeded' where id = ?", bad["id"])
    body = refused_by_gate(
        project, "request-approval", "production", "--artifact", bad["digest"][:12], user="alice"
    )
    assert f"deployment {bad['id']}" in body["error"]["message"]
    assert "no deployment.succeeded event records it" in body["error"]["message"]


def test_approval_backed_only_by_an_unkeyed_event_is_refused_with_key(tmp_path: Path) -> None:
    """Someone without the key can append an unkeyed event next to a forged row: the gate
    does not count it."""
    project, _ = staged(tmp_path)
    req = requested(project)
    project.run("approve", req, "--env", "production", user="ops", check=0)  # no key
    body = refused_by_gate(project, "deploy", "production")
    assert "not signed with the audit key" in body["error"]["message"]


def test_unkeyed_ledger_says_it_is_only_as_trustworthy_as_its_permissions(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "p")
    proc = project.popen("status")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert "only as trustworthy as its file or database permissions" in err
    _, body = project.run("status", env=KEY, check=0)
    assert body["audit"]["key_id"]  # the key's id, never the key
    assert KEY["LAMBDA_PROMOTE_AUDIT_KEY"] not in str(body)


def test_ledger_rows_claiming_github_approvals_do_not_admit(tmp_path: Path, github) -> None:  # noqa: F811
    """provider: github reads the run's approvals from GitHub, never from ledger rows."""
    _, url = github
    gate = {
        "      reviewers: [lead, ops]\n      min_approvals: 1\n": (
            "      provider: github\n      reviewers: [lead, ops]\n      min_approvals: 1\n"
        )
    }
    project, _ = staged(tmp_path, edits=gate)
    req = requested(project)
    forge_decision(project, req, "lead")
    project.sql("update approval_decisions set source = 'github' where request_id = ?", req)
    run = {
        **KEY,
        "GITHUB_API_URL": url,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": "acme/orders-api",
        "GITHUB_RUN_ID": "404",  # a run GitHub shows no approval for
    }
    before = project.counts()
    code, body = project.run("deploy", "production", user="ops", env=run)
    assert code == 5, body
    assert "run 404 carries no approval" in body["error"]["message"]  # GitHub decides
    assert project.counts() == before
