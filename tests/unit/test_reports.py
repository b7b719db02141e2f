"""Deployment reports: golden files for structure and content, the order a reviewer reads in
(failing checks first), HTML that is self-contained and escapes everything, the files and the
GitHub job summary, and no secret in any of it.

Regenerate the golden files after an intended change with ``UPDATE_GOLDEN=1 pytest …`` and
review the diff."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from golden import notify_samples as samples
from lambda_promote.errors import UsageError
from lambda_promote.notify.redact import Redactor
from lambda_promote.reports import render, report_path, write_reports

GOLDEN = Path(__file__).parent.parent / "golden" / "reports"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z?")


def full_report(fmt: str, dep=None, **overrides) -> str:
    arguments = {
        "approvals": [samples.approval()],
        "notifications": samples.deliveries(),
        "audit_head": samples.AUDIT_HEAD,
        "commit": samples.COMMIT,
        "project": "orders-api",
        "generated_at": samples.GENERATED_AT,
        "environ": {},
        **overrides,
    }
    return render(dep or samples.rolled_back(), fmt, **arguments)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed (UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_a_rolled_back_deployment_report_matches_its_golden_file(fmt: str) -> None:
    check_golden(f"report_rolled_back.{fmt}", full_report(fmt))


@pytest.mark.parametrize(
    ("sample", "name"),
    [
        (samples.succeeded, "report_succeeded.md"),
        (samples.rollback_failed, "report_rollback_failed.md"),
        (samples.manual_rollback, "report_manual_rollback.md"),
        (samples.failed, "report_failed.md"),
    ],
)
def test_each_outcome_reads_as_it_should(sample, name: str) -> None:
    check_golden(name, full_report("md", sample(), approvals=[], notifications=[]))


def test_failing_checks_come_first_in_every_format() -> None:
    md = full_report("md")
    assert md.index("| ❌ | ping |") < md.index("| ✅ | health |")
    html = full_report("html")
    assert html.index("<td>ping</td>") < html.index("<td>health</td>")
    checks = json.loads(full_report("json"))["checks"]
    assert [(c["name"], c["ok"]) for c in checks] == [("ping", False), ("health", True)]


def test_the_report_has_every_section_a_reviewer_needs() -> None:
    md = full_report("md")
    for heading in ("## Timeline", "## Checks", "## Rollback", "## Approvals", "## Notifications"):
        assert heading in md
    assert "rolling_back** | check ping failed" in md
    assert "| **Live before** | version 7" in md
    assert "| **Attempted version** | 8 |" in md
    assert samples.COMMIT in md
    assert samples.NEW in md
    assert "ship it" in md
    assert "team-lead" in md
    assert "could not connect to smtp.example.com:587" in md
    assert "$HOOK_URL is not set" in md
    assert samples.AUDIT_HEAD in md
    assert "RuntimeError: release 1.2.0 has a bug" in md


def test_the_json_report_is_the_deployment_plus_what_only_the_report_carries() -> None:
    body = json.loads(full_report("json"))
    assert body["report_version"] == 1
    assert body["deployment"]["id"] == "d-0000beef"
    assert body["deployment"]["state"] == "rolled_back"
    assert body["live_after"] == {"version": "7", "digest": samples.OLD, "known": True}
    assert body["rollback"]["verified"] is True
    assert body["checks"][0]["logs"].startswith("Traceback")
    assert body["approvals"][0]["decisions"][0]["reviewer"] == "team-lead"
    assert [n["notifier"] for n in body["notifications"]] == ["slack", "email", "webhook"]
    assert body["audit_head"] == samples.AUDIT_HEAD


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += attrs


def test_the_html_is_self_contained_and_runs_no_script() -> None:
    page = full_report("html")
    parser = _Tags()
    parser.feed(page)
    assert "script" not in parser.tags
    assert "link" not in parser.tags
    assert "img" not in parser.tags
    assert not [value for name, value in parser.attributes if name in ("src", "href")]
    assert "<style>" in page
    assert "@import" not in page
    assert "url(" not in page


def test_the_html_escapes_what_users_and_functions_wrote() -> None:
    page = full_report("html")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>now</b>" not in page


def test_the_html_colours_the_outcome_and_opens_the_logs_of_failures() -> None:
    assert 'class="banner tone-warn"' in full_report("html")
    urgent = full_report("html", samples.rollback_failed())
    assert 'class="banner tone-urgent"' in urgent
    assert "Act now" in urgent
    assert "lambda-promote rollback production --to VERSION" in urgent
    assert 'class="banner tone-ok"' in full_report("html", samples.succeeded())
    assert "<details open><summary>logs</summary><pre>Traceback" in full_report("html")


def test_a_log_with_backticks_cannot_end_the_markdown_code_block() -> None:
    md = full_report("md")
    block = md[md.index("logs of ping (verify)") :]
    assert "````text" in block  # a longer fence than the ``` inside the log


def test_a_pipe_or_tag_in_a_comment_cannot_break_the_markdown_table() -> None:
    md = full_report("md")
    assert "staging looks good \\| ship it &lt;b&gt;now&lt;/b&gt;" in md


def test_an_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown report format"):
        full_report("pdf")


# --- files and the job summary -----------------------------------------------------------------
def test_write_reports_writes_the_three_files_named_by_the_deployment(tmp_path: Path) -> None:
    folder = tmp_path / ".lambda-promote" / "reports"
    written = write_reports(
        samples.rolled_back(),
        approvals=[samples.approval()],
        notifications=samples.deliveries(),
        audit_head=samples.AUDIT_HEAD,
        folder=folder,
        environ={},
    )
    assert written == {fmt: folder / f"d-0000beef.{fmt}" for fmt in ("md", "json", "html")}
    assert json.loads(written["json"].read_text())["deployment"]["id"] == "d-0000beef"
    assert written["html"].read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in folder.iterdir()) == [
        "d-0000beef.html",
        "d-0000beef.json",
        "d-0000beef.md",
    ]


def test_the_markdown_is_appended_to_the_github_job_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    for dep in (samples.succeeded(), samples.rolled_back()):
        write_reports(
            dep,
            approvals=[],
            notifications=[],
            audit_head=None,
            folder=tmp_path / "r",
            environ={"GITHUB_STEP_SUMMARY": str(summary)},
        )
    text = summary.read_text()
    assert text.startswith("# earlier step\n")
    assert "d-00000001: Succeeded" in text
    assert "d-0000beef: Rolled back" in text
    assert TIMESTAMP.search(text)


def test_a_deployment_id_cannot_escape_the_reports_folder(tmp_path: Path) -> None:
    path = report_path(tmp_path, "../../etc/passwd", "html")
    assert path.parent == tmp_path


# --- secrets ---------------------------------------------------------------------------------
def test_a_secret_in_logs_errors_or_comments_never_reaches_a_report(tmp_path: Path) -> None:
    secret = "AKIA-planted-SECRET-0123456789"
    dep = samples.rolled_back()
    dep.error = f"check failed with key={secret}"
    dep.checks[1] = dep.checks[1].__class__(
        "ping", False, 1.0, f"env: {secret}", logs=f"AWS_SECRET_ACCESS_KEY={secret}\n"
    )
    request = samples.approval()
    request.decisions[0] = request.decisions[0].__class__(
        reviewer="team-lead", approve=True, at=samples.T0, comment=f"pw {secret}"
    )
    environ = {"AWS_SECRET_ACCESS_KEY": secret}
    notifications = [{**samples.deliveries()[1], "error": f"refused {secret}"}]
    summary = tmp_path / "summary.md"
    written = write_reports(
        dep,
        approvals=[request],
        notifications=notifications,
        audit_head=None,
        folder=tmp_path / "r",
        environ={**environ, "GITHUB_STEP_SUMMARY": str(summary)},
    )
    for path in [*written.values(), summary]:
        text = path.read_text()
        assert secret not in text, path
        assert "$AWS_SECRET_ACCESS_KEY" in text, path


def test_render_uses_the_redactor_it_is_given() -> None:
    dep = samples.failed()
    dep.error = "token abc-123-xyz"
    scrub = Redactor.from_environ({"CUSTOM": "abc-123-xyz"}, names=["CUSTOM"])
    assert "abc-123-xyz" not in full_report("md", dep, redactor=scrub)


class _Balance(HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> at {self.getpos()} while {self.open[-3:]} open")
        else:
            self.open.pop()


@pytest.mark.parametrize(
    "sample",
    [
        samples.succeeded,
        samples.failed,
        samples.rolled_back,
        samples.rollback_failed,
        samples.manual_rollback,
    ],
)
def test_the_html_is_well_formed_for_every_outcome(sample) -> None:
    parser = _Balance()
    parser.feed(full_report("html", sample()))
    assert parser.problems == []
    assert parser.open == []


def test_a_report_says_when_the_commit_was_committed_when_the_ledger_knows() -> None:
    committed = datetime(2026, 11, 28, 7, 15, tzinfo=UTC)

    body = json.loads(full_report("json", committed_at=committed))
    markdown = full_report("md", committed_at=committed)

    assert body["committed_at"] == "2026-11-28T07:15:00Z"
    assert "| **Committed** | 2026-11-28 07:15:00 |" in markdown
    assert json.loads(full_report("json"))["committed_at"] is None
    assert "Committed" not in full_report("md")
