"""The Markdown report: what lands in ``.lambda-promote/reports/<id>.md`` and in the GitHub
Actions job summary. GitHub-flavoured (tables, ``<details>`` for logs); text from users and
functions is escaped so a log line cannot break a table or inject markup.
"""

from __future__ import annotations

import re

from lambda_promote.reports.data import (
    ApprovalRow,
    CheckRow,
    Live,
    NotificationRow,
    Report,
    RollbackRow,
)
from lambda_promote.reports.text import duration, latency, no_checks, stamp, step_result

_MARK = {"ok": "✅", "warn": "⚠️", "bad": "❌", "urgent": "🚨", "info": "⏳"}


def cell(text: str) -> str:
    """``text`` safe inside a table cell: one line, no pipes, no HTML."""
    flat = " ".join(text.split())
    return (
        flat.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("`", "\\`")
    )


def code(text: str) -> str:
    """An inline code span that survives backticks in ``text``."""
    flat = " ".join(text.split()).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{ticks}{pad}{flat}{pad}{ticks}"


def fenced(text: str, info: str = "text") -> list[str]:
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return [f"{fence}{info}", *text.rstrip("\n").splitlines(), fence]


def render_markdown(report: Report) -> str:
    lines: list[str] = []
    for section in (
        _head,
        _summary,
        _functions,
        _configuration,
        _timeline,
        _traffic,
        _checks,
        _rollback,
        _approvals,
        _notifications,
        _footer,
    ):
        part = section(report)
        if part:
            lines += [*part, ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _head(report: Report) -> list[str]:
    status = report.status
    lines = [
        f"# {_MARK[status.tone]} {cell(report.title)}: {cell(status.label)}",
        "",
        f"> **{cell(status.label)}** — {cell(status.summary)}",
    ]
    if status.tone == "urgent":
        lines += [
            ">",
            f"> **Act now:** inspect the function, then run `lambda-promote rollback "
            f"{cell(report.env)} --to VERSION`; `lambda-promote status` shows what is live.",
        ]
    return lines


def _live(live: Live) -> str:
    if not live.known:
        return "unknown — check the function"
    if live.version is None:
        return "nothing (no version)"
    return f"version {cell(live.version)} ({code(live.short)})" if live.digest else live.version


def _summary(report: Report) -> list[str]:
    rows: list[tuple[str, str]] = []
    if report.project:
        rows.append(("Project", cell(report.project)))
    rows += [
        ("Environment", cell(report.env)),
        ("Kind", cell(report.kind)),
        ("State", cell(report.state)),
        ("Artifact", code(report.digest)),
        ("Commit", code(report.commit) if report.commit else "—"),
        *([("Committed", stamp(report.committed_at))] if report.committed_at else []),
        ("By", cell(report.actor or "?")),
        ("Live before", _live(report.before)),
        ("Live after", _live(report.after)),
    ]
    if report.attempted_version and report.after.version != report.attempted_version:
        rows.append(("Attempted version", cell(report.attempted_version)))
    if report.reason:
        rows.append(("Reason", cell(report.reason)))
    if report.error:
        rows.append(("Error", cell(report.error)))
    rows += [
        ("Started", stamp(report.created_at)),
        ("Finished", stamp(report.finished_at) if report.finished_at else "not finished"),
        ("Took", duration(report.duration_s)),
    ]
    return ["| | |", "|---|---|", *[f"| **{k}** | {v} |" for k, v in rows]]


def _functions(report: Report) -> list[str]:
    if not report.functions:
        return []
    lines = [
        "## Functions",
        "",
        "| function | Lambda function | version | digest | alias |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| **{cell(f.name)}** | {cell(f.function_name)} | "
        f"{cell(f.previous_version or '(none)')} → {cell(f.version or '(none)')} | "
        f"{code(f.digest[:12])} | {cell(f.moved)} |"
        for f in report.functions
    ]
    return lines


def _configuration(report: Report) -> list[str]:
    if report.configuration_digest is None:
        return []
    rows = report.configuration or (("managed", "nothing: the function's own settings"),)
    return [
        "## Configuration",
        "",
        "| | |",
        "|---|---|",
        *[f"| **{cell(label)}** | {cell(text)} |" for label, text in rows],
        "",
        f"Digest {code(report.configuration_digest[:12])}: the version carries it with the code.",
    ]


def _timeline(report: Report) -> list[str]:
    if not report.timeline:
        return []
    lines = ["## Timeline", "", "| time (UTC) | after | state | note |", "|---|---:|---|---|"]
    lines += [
        f"| {stamp(s.at)} | +{s.offset_s:.1f} s | **{cell(s.state)}** | {cell(s.note)} |"
        for s in report.timeline
    ]
    return lines


def _traffic(report: Report) -> list[str]:
    if not report.traffic:
        return []
    lines = [
        "## Traffic shift",
        "",
        "| share | time (UTC) | after | step | checks |",
        "|---:|---|---:|---|---|",
    ]
    for t in report.traffic:
        after = "—" if t.offset_s is None else f"+{t.offset_s:.1f} s"
        checks = f"{t.passed} passed" + "".join(f"; ❌ {cell(f)}" for f in t.failed)
        lines.append(
            f"| {t.percent:g}% | {stamp(t.at)} | {after} | "
            f"{step_result(t.ok, t.stopped_by)} | {checks} |"
        )
    return lines


def _check_table(checks: tuple[CheckRow, ...]) -> list[str]:
    lines = ["| | check | phase | latency | detail |", "|---|---|---|---:|---|"]
    lines += [
        f"| {'✅' if c.ok else '❌'} | {cell(c.name)} | {cell(c.phase)} | "
        f"{latency(c.latency_ms)} | {cell(c.detail)} |"
        for c in checks
    ]
    for c in checks:
        if c.logs.strip():
            lines += [
                "",
                f"<details><summary>logs of {cell(c.name)} ({cell(c.phase)})</summary>",
                "",
                *fenced(c.logs),
                "",
                "</details>",
            ]
    return lines


def _checks(report: Report) -> list[str]:
    passed = len(report.checks) - report.failed_checks
    head = f"## Checks ({passed} passed, {report.failed_checks} failed)"
    if not report.checks:
        return [head, "", f"_{no_checks(report)}_"]
    return [head, "", *_check_table(report.checks)]


def _rollback(report: Report) -> list[str]:
    rb: RollbackRow | None = report.rollback
    if rb is None:
        return []
    verified = {True: "✅ verified", False: "❌ NOT verified", None: "—"}[rb.verified]
    lines = [
        "## Rollback",
        "",
        f"- **From version** {cell(rb.from_version or '(none)')} **to version** "
        f"{cell(rb.to_version or '(none)')}"
        + (f" ({code(rb.to_digest[:12])})" if rb.to_digest else ""),
        f"- **Why:** {cell(rb.reason or '—')}",
        f"- **Verification:** {verified}",
    ]
    if rb.note:
        lines.append(f"- **Note:** {cell(rb.note)}")
    if rb.error:
        lines.append(f"- **Error:** {cell(rb.error)}")
    if rb.checks:
        lines += ["", *_check_table(rb.checks)]
    return lines


def _approval(row: ApprovalRow) -> list[str]:
    lines = [
        f"### Request {cell(row.id)} — {cell(row.state)}",
        "",
        f"Requested by {cell(row.requested_by)} at {stamp(row.requested_at)}; "
        f"expires {stamp(row.expires_at)}"
        + (f"; admitted deployment {cell(row.consumed_by)}" if row.consumed_by else "")
        + ".",
        "",
    ]
    if row.decisions:
        lines += ["| decision | reviewer | at | comment |", "|---|---|---|---|"]
        lines += [
            f"| {'✅ approved' if d.approve else '❌ rejected'} | {cell(d.reviewer)} | "
            f"{stamp(d.at)} | {cell(d.comment) or '—'} |"
            for d in row.decisions
        ]
    else:
        lines.append("_No decisions yet._")
    if row.evidence:
        lines += ["", "<details><summary>evidence</summary>", "", *fenced("\n".join(row.evidence))]
        lines += ["", "</details>"]
    return lines


def _approvals(report: Report) -> list[str]:
    if not report.approvals:
        return []
    lines = ["## Approvals"]
    for row in report.approvals:
        lines += ["", *_approval(row)]
    return lines


def _notification(row: NotificationRow) -> str:
    if row.ok:
        outcome = "✅ sent"
    elif row.skipped:
        outcome = "⚠️ skipped"
    else:
        outcome = "❌ failed"
    return (
        f"| {outcome} | {cell(row.notifier)} | {cell(row.event)} | {row.attempts} | "
        f"{cell(row.error) or '—'} |"
    )


def _notifications(report: Report) -> list[str]:
    if not report.notifications:
        return ["## Notifications", "", "_None sent for this deployment._"]
    lines = ["## Notifications", "", "| | notifier | event | attempts | error |"]
    lines += ["|---|---|---|---:|---|", *[_notification(n) for n in report.notifications]]
    return lines


def _footer(report: Report) -> list[str]:
    head = code(report.audit_head) if report.audit_head else "not recorded"
    return [
        "## Audit",
        "",
        f"Audit chain head when this report was written: {head}. "
        "`lambda-promote audit --verify` checks the chain still reaches it.",
        "",
        f"<sub>Generated by lambda-promote at {stamp(report.generated_at)} UTC.</sub>",
    ]
