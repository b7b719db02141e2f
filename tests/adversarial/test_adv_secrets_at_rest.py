"""Attack: read the secrets a deployment saw straight out of the ledger (DESIGN §5.8).

The ledger outlives the machine that wrote it: a SQLite file travels as a CI artifact, a
PostgreSQL ledger is read by every team member. So the secrets of the *writing* machine must
be gone before anything is stored — redacting only when printing uses the secrets of the
*reading* machine, and one without the variables would print them all.

Every planted value contains ``PLANTED``. Some are the values of variables (named in
promote.yaml, or well known); others are credential *shapes* no variable names (a token a
handler printed, a key a reviewer pasted). They are written through every path — a check's
logs, answer and detail, a failed deployment's error and rollback record, an approval comment,
a rollback reason, a notification failure whose URL carries a token, the audit trail — and
then the raw ledger (plain sqlite3 / SQL, no lambda-promote), the report files and every
reading command run *without* the variables must show none of them.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from cli_project import Project, make_project
from ledger_fixtures import postgres_schema

MARK = "PLANTED"
# Values of environment variables the writing machine has.
NAMED = {
    # promote.yaml names these as the notifiers' secrets; port 9: nothing listens.
    "SLACK_WEBHOOK_URL": f"http://127.0.0.1:9/services/T0/B0/slack-{MARK}-token",
    "RELEASE_HOOK_URL": f"http://127.0.0.1:9/hooks/{MARK}-hook-path",
    "RELEASE_HOOK_SIGNING": f"signing-{MARK}-value",
    # Well-known variables of a CI machine.
    "AWS_SECRET_ACCESS_KEY": f"aws-env-{MARK}-secret-key",
    "LAMBDA_PROMOTE_AUDIT_KEY": f"audit-{MARK}-hmac-key",
    "GITHUB_TOKEN": f"env-{MARK}-github-token",
}
# Credentials no variable of the writing machine holds: caught by their shape.
SHAPED = {
    "aws access key id": "AKIAPLANTED000000001",
    "aws secret key": "PLANTEDaws/Secret+Key0123456789abcdefGHI",
    "github classic token": "ghp_PLANTED0123456789abcdefghijABCDEFGHIJ",
    "github oauth token": "gho_PLANTED0123456789abcdefghijABCDEFGHIJ",
    "github app token": "ghs_PLANTED0123456789abcdefghijABCDEFGHIJ",
    "github fine-grained token": "github_pat_11PLANTED0123456789_abcdefghijklmnopqrstuvwxyzAB",
    "slack token": "xoxb-1234-PLANTED-abcdefghij",
    "slack webhook": "https://hooks.slack.com/services/T00000000/B00000000/PLANTEDxyz",
    "bearer token": "Authorization: Bearer PLANTED.bearer-token_value",
    "url password": "postgresql://deployer:pw-PLANTED-9@db.internal:5432/ledger",
    "private key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAPLANTED\n"
    "abcdefghijklmnop\n-----END RSA PRIVATE KEY-----",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJQTEFOVEVEIn0.PLANTEDsignature_abc",
}
ALL_SECRETS = [*NAMED.values(), *SHAPED.values()]

NOTIFY = """notifications:
  slack: {webhook_url_env: SLACK_WEBHOOK_URL}
  webhook: {url_env: RELEASE_HOOK_URL, secret_env: RELEASE_HOOK_SIGNING}
triggers:"""

# A handler that prints every secret and answers with them, failing its check.
LEAKY_APP = """\
import json

SECRETS = {secrets!r}


def handler(event, context):
    for value in SECRETS:
        print("debug:", value)
    return {{"ok": False, "leaked": SECRETS, "note": " ".join(SECRETS)}}
"""


def _leaky_release(project: Project) -> None:
    (project.root / "src" / "app.py").write_text(LEAKY_APP.format(secrets=ALL_SECRETS))


def _write_through_every_path(project: Project, env: dict[str, str]) -> None:
    """Secrets go in through every path a deployment, a reviewer and an operator have."""
    project.run("deploy", "staging", env=env, check=0)  # r1, good
    project.release("r2")
    project.run("deploy", "staging", env=env, check=0)  # r2, good: r1 is a rollback target
    _leaky_release(project)
    code, failed = project.run("deploy", "staging", env=env)  # checks fail: rolled back
    assert code == 3, failed
    everything = " ".join(ALL_SECRETS)
    _, requested = project.run("request-approval", "production", env=env, check=0)
    request = requested["approval_request"]["id"]
    project.run(
        "approve", request, "--env", "production", "--comment", everything,
        user="ops", env=env, check=0,
    )  # fmt: skip
    _, other = project.run("request-approval", "eu-production", env=env, check=0)
    project.run(
        "reject", other["approval_request"]["id"], "--env", "eu-production",
        "--comment", everything, user="lead", env=env, check=0,
    )  # fmt: skip
    project.run("rollback", "staging", "--reason", everything, env=env, check=0)


def _leaks(texts: dict[str, str]) -> dict[str, list[str]]:
    """For each text that holds one, the planted secrets (or parts of them) it holds."""
    found = {}
    for where, text in texts.items():
        hits = [s for s in ALL_SECRETS if s in text]
        if MARK in text:
            hits.append(MARK)
        if hits:
            found[where] = hits
    return found


def _reading_outputs(project: Project, deployment_ids: list[str]) -> dict[str, str]:
    """What every reading command prints on a machine WITHOUT the secrets' variables."""
    bare = dict.fromkeys(NAMED, "")  # set but empty: the reader knows no value
    # Verifying an HMAC chain needs its key; it is the only secret this reader holds.
    verifier = {**bare, "LAMBDA_PROMOTE_AUDIT_KEY": NAMED["LAMBDA_PROMOTE_AUDIT_KEY"]}
    outputs = {}
    for args in (("status",), ("history",), ("audit",), ("audit", "--verify")):
        proc = project.popen(*args, env=verifier if "--verify" in args else bare)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (args, err)
        outputs[" ".join(args)] = out + err
    for dep in deployment_ids:
        for args in (("show", dep), *(("report", dep, "--format", f) for f in ("md", "html"))):
            proc = project.popen(*args, env=bare)
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, (args, err)
            outputs[" ".join(args)] = out + err
    return outputs


def _report_files(project: Project) -> dict[str, str]:
    folder = project.root / ".lambda-promote" / "reports"
    return {str(p): p.read_text() for p in folder.rglob("*") if p.is_file()}


def _deployment_ids(project: Project) -> list[str]:
    _, history = project.run("history", check=0)
    return [d["id"] for d in history["deployments"]]


def _planted_env() -> dict[str, str]:
    return dict(NAMED)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A SQLite project whose ledger had secrets written through every path (once: the
    tests below only read it)."""
    project = make_project(tmp_path_factory.mktemp("secrets") / "p", edits={"triggers:": NOTIFY})
    _write_through_every_path(project, _planted_env())
    return project


def test_secrets_written_through_every_path_are_not_in_the_raw_sqlite_ledger(
    written: Project,
) -> None:
    project = written
    db = sqlite3.connect(project.root / ".lambda-promote" / "state.db")
    try:
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    assert "notification.failed" in dump  # the failing notifier was recorded, by name
    assert "$SLACK_WEBHOOK_URL" in dump
    assert _leaks({"state.db": dump}) == {}
    assert _leaks(_report_files(project)) == {}


def test_a_machine_without_the_variables_reads_no_secret_from_the_ledger(
    written: Project,
) -> None:
    outputs = _reading_outputs(written, _deployment_ids(written))
    assert _leaks(outputs) == {}
    # The chain was hashed over the redacted text, so it still verifies.
    assert '"ok": true' in outputs["audit --verify"]


def test_the_stored_text_says_what_was_removed(written: Project) -> None:
    project = written
    comments = [row[0] for row in project.sql("select comment from approval_decisions")]
    assert comments
    assert all("$RELEASE_HOOK_SIGNING" in c for c in comments)
    assert all("[redacted:github-token]" in c for c in comments)
    logs = "\n".join(str(row[0]) for row in project.sql("select logs from check_results"))
    assert "debug: $AWS_SECRET_ACCESS_KEY" in logs
    assert "[redacted:private-key]" in logs


@pytest.mark.postgres
def test_secrets_written_through_every_path_are_not_in_a_postgresql_ledger(
    tmp_path: Path,
) -> None:
    with postgres_schema() as url:
        project = make_project(tmp_path / "p", edits={"triggers:": NOTIFY})
        env = {**_planted_env(), "LAMBDA_PROMOTE_STATE": url}
        _write_through_every_path(project, env)

        engine = sa.create_engine(url)
        try:
            with engine.connect() as connection:
                tables = sa.inspect(connection).get_table_names()
                stored = {
                    table: json.dumps(
                        [
                            list(row)
                            for row in connection.execute(sa.text(f"SELECT * FROM {table}"))
                        ],
                        default=str,
                        ensure_ascii=False,
                    )
                    for table in tables
                }
        finally:
            engine.dispose()
        assert "audit_events" in stored
        assert _leaks(stored) == {}


def test_secrets_written_through_every_path_are_not_in_a_dynamodb_ledger(
    tmp_path: Path,
) -> None:
    """The same at the DynamoDB ledger's boundary (DESIGN §11.6): every item of the table,
    read raw with boto3, holds none of them."""
    import boto3

    from ledger_fixtures import dynamodb_table

    with dynamodb_table(server=True, root=tmp_path) as url:
        project = make_project(tmp_path / "p", edits={"triggers:": NOTIFY})
        env = {**_planted_env(), "LAMBDA_PROMOTE_STATE": url}
        _write_through_every_path(project, env)

        table = url.removeprefix("dynamodb://").partition("?")[0]
        pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=table)
        stored = json.dumps([page["Items"] for page in pages], ensure_ascii=False)
        assert "notification.failed" in stored
        assert "comment" in stored
        assert _leaks({"dynamodb table": stored}) == {}
