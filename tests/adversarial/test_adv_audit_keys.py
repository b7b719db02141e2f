"""Red-team items 7 and 8: `audit --verify --head` refused the head exactly as reports print it,
and turning the audit key on, rotating it, or one job without it broke `--verify` for good
with a misleading "event 1 was modified". Each event now records which key signed it."""

from __future__ import annotations

from pathlib import Path

from cli_project import Project, make_project

KEY1 = {"LAMBDA_PROMOTE_AUDIT_KEY": "first-audit-key"}
KEY2 = {"LAMBDA_PROMOTE_AUDIT_KEY": "second-audit-key"}


def staged(tmp_path: Path, env: dict[str, str] | None = None) -> Project:
    project = make_project(tmp_path / "p")
    project.run("deploy", "staging", env=env, check=0)
    return project


def stderr_of(project: Project, *args: str, env: dict[str, str]) -> str:
    proc = project.popen(*args, env=env)
    _, err = proc.communicate(timeout=180)
    return err


def test_head_as_reports_print_it_is_accepted(tmp_path: Path) -> None:
    project = staged(tmp_path)
    seq, digest_hash = project.sql("select seq, hash from audit_events order by seq desc")[0]
    project.run("audit", "--verify", "--head", f"#{seq} {digest_hash}", check=0)
    project.run("audit", "--verify", "--head", f"{digest_hash[:16]}…", check=0)
    code, _ = project.run("audit", "--verify", "--head", f"#{seq + 1} {digest_hash}")
    assert code == 1  # the hash at another position is not that head


def test_turning_the_key_on_for_an_existing_ledger_keeps_verify_working(tmp_path: Path) -> None:
    project = staged(tmp_path)  # written without a key
    project.release("r2")
    err = stderr_of(project, "deploy", "staging", env=KEY1)
    assert "was written without a key; this run writes with key id" in err
    _, body = project.run("audit", "--verify", env=KEY1, check=0)
    keys = body["audit"]["keys"]
    assert keys[0]["key_id"] is None
    assert keys[-1]["key_id"] == body["audit"]["key_id"]


def test_edit_of_an_unkeyed_event_is_still_caught_after_the_key_is_on(tmp_path: Path) -> None:
    project = staged(tmp_path)
    project.release("r2")
    project.run("deploy", "staging", env=KEY1, check=0)
    project.sql("update audit_events set actor = 'mallory' where seq = 2")
    code, body = project.run("audit", "--verify", env=KEY1)
    assert code == 1
    assert body["audit"]["first_bad"] == 2


def test_one_job_without_the_key_is_explained_and_can_be_accepted(tmp_path: Path) -> None:
    project = staged(tmp_path, env=KEY1)
    err = stderr_of(project, "request-approval", "production", env={})
    assert "this run writes WITHOUT a key" in err
    unkeyed = project.sql("select min(seq), max(seq) from audit_events where key_id is null")[0]
    code, body = project.run("audit", "--verify", env=KEY1)
    assert code == 1
    assert body["audit"]["first_bad"] == unkeyed[0]
    assert "written without the audit key after keyed events" in body["error"]["message"]
    assert "modified" not in body["error"]["message"]
    span = f"{unkeyed[0]}-{unkeyed[1]}"
    code, _ = project.run("audit", "--accept-unkeyed", span, env={})
    assert code == 2  # only a key holder may accept them
    project.run("audit", "--accept-unkeyed", span, "--reason", "CI job lost its secret", env=KEY1,
                check=0)  # fmt: skip
    _, body = project.run("audit", "--verify", env=KEY1, check=0)
    assert body["audit"]["unauthenticated"] == [list(unkeyed)]


def test_rotated_key_is_explained_and_verifies_with_the_previous_key(tmp_path: Path) -> None:
    project = staged(tmp_path, env=KEY1)
    project.release("r2")
    err = stderr_of(project, "deploy", "staging", env=KEY2)
    assert "this run writes with key id" in err
    code, body = project.run("audit", "--verify", env=KEY2)
    assert code == 1
    assert "is signed with key id" in body["error"]["message"]
    assert "modified" not in body["error"]["message"].split(":")[1]
    both = {**KEY2, "LAMBDA_PROMOTE_AUDIT_KEY_PREVIOUS": KEY1["LAMBDA_PROMOTE_AUDIT_KEY"]}
    _, body = project.run("audit", "--verify", env=both, check=0)
    assert len({k["key_id"] for k in body["audit"]["keys"]}) == 2
