"""DESIGN §5.1–§5.3 and §5.7 through the real CLI: every way into production that must be
refused is refused with exit 5 (2 for misuse) and leaves the ledger as it was; the audit trail
catches edits; triggers map events to environments."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cli_project import Project, make_project


def staged(tmp_path: Path, **kw) -> tuple[Project, str]:
    """A project whose current release succeeded in staging; returns its digest."""
    project = make_project(tmp_path / "gated", **kw)
    _, body = project.run("deploy", "staging", check=0)
    return project, body["deployment"]["digest"]


def request(
    project: Project, *, user: str = "alice", env: str = "production", digest: str | None = None
) -> str:
    args = ["request-approval", env] + (["--artifact", digest] if digest else [])
    _, body = project.run(*args, user=user, check=0)
    return body["approval_request"]["id"]


def refused(
    project: Project, args: tuple[str, ...], *, user: str = "ops", code: int = 5, says: str = ""
) -> dict:
    before = project.counts()
    exit_code, body = project.run(*args, user=user)
    assert exit_code == code, body
    assert says in body["error"]["message"] + body["error"]["hint"]
    assert project.counts() == before, "a refusal must leave the ledger unchanged"
    return body


def test_a_granted_approval_admits_exactly_one_deployment(tmp_path: Path) -> None:
    project, digest = staged(tmp_path)
    req = request(project)
    _, body = project.run(
        "approve", req, "--env", "production", "--comment", "ok", user="lead", check=0
    )
    assert body["approval_request"]["state"] == "granted"
    _, body = project.run("deploy", "production", user="lead", check=0)
    assert body["deployment"]["digest"] == digest
    project.release("r2")
    project.run("deploy", "staging", check=0)
    refused(project, ("deploy", "production"), says="there is none")


def test_approve_by_digest_prefix(tmp_path: Path) -> None:
    project, digest = staged(tmp_path)
    request(project)
    _, body = project.run("approve", digest[:12], "--env", "production", user="ops", check=0)
    assert body["approval_request"]["digest"] == digest


@pytest.mark.parametrize(
    ("name", "setup", "args", "user", "code", "says"),
    [
        (
            "unlisted reviewer",
            lambda p, r: None,
            ("approve", "{r}", "--env", "production"),
            "mallory",
            5,
            "not a reviewer",
        ),
        (
            "requester",
            lambda p, r: None,
            ("approve", "{r}", "--env", "production"),
            "lead",
            5,
            "requested this release",
        ),
        (
            "same person twice",
            lambda p, r: p.run("approve", r, "--env", "production", user="ops", check=0),
            ("approve", "{r}", "--env", "production"),
            "ops",
            2,
            "already decided",
        ),
        (
            "no approval yet",
            lambda p, r: None,
            ("deploy", "production"),
            "ops",
            5,
            "0 of 1 approvals",
        ),
        (
            "other env",
            lambda p, r: p.run("approve", r, "--env", "production", user="ops", check=0),
            ("deploy", "eu-production"),
            "ops",
            5,
            "there is none",
        ),
        (
            "rejected",
            lambda p, r: p.run(
                "reject", r, "--env", "production", "--comment", "not today", user="ops", check=0
            ),
            ("deploy", "production"),
            "lead",
            5,
            "rejected by ops",
        ),
        (
            "approve after rejection",
            lambda p, r: p.run("reject", r, "--env", "production", user="ops", check=0),
            ("approve", "{r}", "--env", "production"),
            "alice",
            5,
            "rejected",
        ),
        (
            "expired",
            lambda p, r: p.sql(
                "update approval_requests set expires_at = "
                "'2020-01-01 00:00:00.000000' where id = ?",
                r,
            ),
            ("approve", "{r}", "--env", "production"),
            "ops",
            5,
            "expired",
        ),
    ],
)
def test_gate_refusals(  # noqa: PLR0917 — one parameter per table column
    tmp_path: Path,
    name: str,
    setup: Callable,
    args: tuple[str, ...],
    user: str,
    code: int,
    says: str,
) -> None:
    project, _ = staged(tmp_path)
    req = request(project, user="lead")
    setup(project, req)
    refused(project, tuple(a.format(r=req) for a in args), user=user, code=code, says=says)


def test_the_builder_cannot_approve(tmp_path: Path) -> None:
    project = make_project(tmp_path / "gated")
    project.run("deploy", "staging", user="ops", check=0)  # ops builds it
    req = request(project, user="alice")
    refused(project, ("approve", req, "--env", "production"), user="ops", says="built this release")


def test_an_approval_for_another_digest_does_not_transfer(tmp_path: Path) -> None:
    project, old = staged(tmp_path)
    req = request(project)
    project.run("approve", req, "--env", "production", user="ops", check=0)
    project.release("r2")
    project.run("deploy", "staging", check=0)  # a newer digest succeeds in staging
    refused(project, ("deploy", "production"), says="never transfer")
    _, body = project.run("deploy", "production", "--artifact", old[:12], user="ops", check=0)
    assert body["deployment"]["digest"] == old


def test_the_wait_timer_holds_even_with_every_approval_in(tmp_path: Path) -> None:
    project, _ = staged(tmp_path, edits={"wait_timer_minutes: 0": "wait_timer_minutes: 60"})
    req = request(project)
    project.run("approve", req, "--env", "production", user="ops", check=0)
    refused(project, ("deploy", "production"), says="wait timer runs until")


def test_a_digest_that_did_not_pass_staging_is_refused(tmp_path: Path) -> None:
    project, _ = staged(tmp_path)
    project.release("r2", broken=True)
    _, body = project.run("deploy", "staging")  # fails, rolled back
    bad = body["deployment"]["digest"]
    refused(project, ("deploy", "production", "--artifact", bad[:12]), says="did not")


def test_a_branch_that_is_not_allowed_is_refused(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "gated",
        edits={"tiny-production\n": "tiny-production\n    branches: [main, release/*]\n"},
    )
    project.run("deploy", "staging", env={"GITHUB_REF_NAME": "release/a/b"}, check=0)
    refused(
        project, ("request-approval", "production"), user="alice", says="built from 'release/a/b'"
    )


def test_tampered_bytes_are_refused_before_any_write(tmp_path: Path) -> None:
    project, digest = staged(tmp_path)
    req = request(project)
    project.run("approve", req, "--env", "production", user="ops", check=0)
    zip_path = project.root / ".lambda-promote" / "artifacts" / f"{digest}.zip"
    zip_path.chmod(0o644)
    zip_path.write_bytes(zip_path.read_bytes() + b"tampered")
    body = refused(project, ("deploy", "production"), says="modified")
    assert body["error"]["code"] == "artifact_tampered"


def test_audit_verify_catches_an_edited_row_and_a_cut_tail(tmp_path: Path) -> None:
    project, _ = staged(tmp_path)
    _, body = project.run("audit", "--verify", check=0)
    head = body["audit"]["head"]
    assert body["audit"]["count"] >= 5
    project.sql("update audit_events set actor = 'mallory' where seq = 3")
    code, body = project.run("audit", "--verify")
    assert code == 1
    assert body["error"]["code"] == "audit_broken"
    assert body["audit"]["first_bad"] == 3
    project.sql("update audit_events set actor = ? where seq = 3", "alice")
    project.run("audit", "--verify", "--head", head, check=0)
    last = project.sql("select max(seq) from audit_events")[0][0]
    project.sql("delete from audit_events where seq = ?", last)
    project.run("audit", "--verify", check=0)  # a cut tail looks intact on its own …
    code, body = project.run("audit", "--verify", "--head", head)  # … but not against the head
    assert code == 1
    assert "removed from the end" in body["error"]["message"]


def test_every_action_is_in_the_audit_trail(tmp_path: Path) -> None:
    project, _ = staged(tmp_path)
    req = request(project)
    project.run("approve", req, "--env", "production", user="ops", check=0)
    project.run("deploy", "production", user="ops", check=0)
    project.run("rollback", "staging")  # refused: nothing earlier
    _, body = project.run("audit", check=0)
    actions = [e["action"] for e in body["events"]]
    for action in (
        "artifact.built",
        "deployment.created",
        "deployment.publishing",
        "deployment.shifting",
        "deployment.verifying",
        "checks.recorded",
        "deployment.succeeded",
        "approval.requested",
        "approval.granted",
        "approval.consumed",
    ):
        assert action in actions
    assert {e["actor"] for e in body["events"]} >= {"alice", "ops"}


def test_triggers_drive_the_seed_flow(tmp_path: Path) -> None:
    project = make_project(tmp_path / "gated")
    _, body = project.run("run", "--event", "push", "--branch", "feature/x", check=0)
    assert body["environments"] == []
    _, body = project.run("run", "--event", "push", "--branch", "develop", check=0)
    assert [d["env"] for d in body["deployments"]] == ["staging"]
    code, body = project.run("run", "--event", "push", "--branch", "main")
    assert code == 5
    assert body["error"]["code"] == "awaiting_approval"
    req = body["approval_request"]["id"]
    assert body["error"]["message"].startswith(f"awaiting approval {req}")
    project.run("approve", req, "--env", "production", user="lead", check=0)
    _, body = project.run("run", "--event", "push", "--branch", "main", check=0)
    assert [d["env"] for d in body["deployments"]] == ["staging", "production"]


def test_run_reads_github_variables(tmp_path: Path) -> None:
    project = make_project(tmp_path / "gated")
    _, body = project.run(
        "run",
        env={
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_REF_NAME": "7/merge",
            "GITHUB_BASE_REF": "develop",
        },
        check=0,
    )
    assert body["environments"] == []  # no trigger for pull requests into develop
    _, body = project.run(
        "run", env={"GITHUB_EVENT_NAME": "push", "GITHUB_REF_NAME": "develop"}, check=0
    )
    assert body["environments"] == ["staging"]


def test_workflow_dispatch_deploys_the_latest_staging_success_through_the_gate(
    tmp_path: Path,
) -> None:
    project, digest = staged(tmp_path)
    code, body = project.run("run", "--event", "workflow_dispatch", "--env", "production")
    assert code == 5
    req = body["approval_request"]["id"]
    project.run("approve", req, "--env", "production", user="lead", check=0)
    _, body = project.run("run", "--event", "workflow_dispatch", "--env", "production", check=0)
    assert body["deployments"][0]["digest"] == digest


def test_status_shows_pending_approvals_and_what_they_lack(tmp_path: Path) -> None:
    project, digest = staged(tmp_path)
    req = request(project)
    _, body = project.run("status", check=0)
    pending = body["environments"]["production"]["approvals"]
    assert [p["id"] for p in pending] == [req]
    assert pending[0]["digest"] == digest
    assert "0 of 1 approvals" in pending[0]["missing"][0]
    project.run("approve", req, "--env", "production", user="ops", check=0)
    _, body = project.run("status", "production", check=0)
    assert body["environments"]["production"]["approvals"][0]["state"] == "granted"
    project.run("deploy", "production", user="ops", check=0)
    _, body = project.run("status", "production", check=0)
    assert body["environments"]["production"]["approvals"] == []


def test_run_after_a_rejection_opens_a_new_request_and_waits_for_it(tmp_path: Path) -> None:
    """`run` asks the gate once, through the deploy's plan: whatever the approval lacks
    (here: a reviewer rejected it), reviewers get a request to decide on, with a full command."""
    project, digest = staged(tmp_path)
    rejected = request(project)
    project.run("reject", rejected, "--env", "production", user="lead", check=0)
    code, body = project.run("run", "--event", "workflow_dispatch", "--env", "production")
    assert (code, body["error"]["code"]) == (5, "awaiting_approval")
    fresh = body["approval_request"]
    assert fresh["id"] != rejected
    assert fresh["digest"] == digest
    assert f"lambda-promote approve {fresh['id']} --as" in body["error"]["hint"]
