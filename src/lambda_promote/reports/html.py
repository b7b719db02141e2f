"""The HTML report: one self-contained page a reviewer can open from a CI artifact or an
email — inline CSS, no scripts, no external fonts or images, light and dark, printable.
Every value from the model, users or functions goes through ``html.escape``.
"""

from __future__ import annotations

from html import escape

from lambda_promote.reports.data import (
    ApprovalRow,
    CheckRow,
    Live,
    NotificationRow,
    Report,
)
from lambda_promote.reports.text import duration, latency, no_checks, stamp, step_result

_CSS = """
:root{--ok:#15803d;--ok-bg:#f0fdf4;--warn:#b45309;--warn-bg:#fffbeb;--bad:#b91c1c;
--bad-bg:#fef2f2;--urgent:#991b1b;--urgent-bg:#fee2e2;--info:#1d4ed8;--info-bg:#eff6ff;
--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--card:#fff;--page:#f6f7f9;--code:#f3f4f6}
@media (prefers-color-scheme:dark){:root{--fg:#e5e7eb;--muted:#9ca3af;--line:#374151;
--card:#111827;--page:#030712;--code:#1f2937;--ok-bg:#052e16;--warn-bg:#3b1d06;
--bad-bg:#3f0d0d;--urgent-bg:#4c0b0b;--info-bg:#172554}}
*{box-sizing:border-box}
body{margin:0;background:var(--page);color:var(--fg);
font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:980px;margin:0 auto;padding:24px 16px 40px}
.tone-ok{--tone:var(--ok);--tone-bg:var(--ok-bg)}
.tone-warn{--tone:var(--warn);--tone-bg:var(--warn-bg)}
.tone-bad{--tone:var(--bad);--tone-bg:var(--bad-bg)}
.tone-urgent{--tone:var(--urgent);--tone-bg:var(--urgent-bg)}
.tone-info{--tone:var(--info);--tone-bg:var(--info-bg)}
.banner{border-radius:10px;padding:18px 24px;margin-bottom:18px;background:var(--tone-bg);
border-left:8px solid var(--tone)}
.tone-urgent.banner{border:3px solid var(--tone);border-left-width:12px}
.badge{display:inline-block;padding:2px 10px;border-radius:999px;background:var(--tone);
color:#fff;font-weight:700;font-size:12px;letter-spacing:.04em;text-transform:uppercase}
h1{font-size:24px;margin:8px 0 4px;word-break:break-word}
.lead{margin:0;font-size:16px}
.act{margin:12px 0 0;padding:10px 14px;border-radius:8px;background:var(--tone);color:#fff;
font-weight:600}
.act code{background:rgba(255,255,255,.18);color:#fff}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:16px 20px;margin-bottom:16px}
h2{font-size:17px;margin:0 0 12px}
h3{font-size:15px;margin:16px 0 6px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:6px 24px;margin:0}
dt{color:var(--muted)}
dd{margin:0;word-break:break-all}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
code{background:var(--code);padding:1px 5px;border-radius:4px}
pre{background:var(--code);padding:10px 12px;border-radius:6px;overflow:auto;margin:6px 0;
white-space:pre-wrap;word-break:break-word;max-height:420px}
.versions{display:flex;align-items:stretch;gap:14px;flex-wrap:wrap;margin-top:16px}
.version{flex:1;min-width:200px;border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.version.after{border-color:var(--tone);background:var(--tone-bg)}
.label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.05em}
.v{font-size:20px;font-weight:650}
.arrow{align-self:center;font-size:22px;color:var(--muted)}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:13px}
td.num{text-align:right;white-space:nowrap}
tr.fail>td{background:var(--bad-bg)}
.mark-ok{color:var(--ok);font-weight:700}
.mark-bad{color:var(--bad);font-weight:700}
.mark-warn{color:var(--warn);font-weight:700}
ol.timeline{list-style:none;margin:0;padding:0 0 0 16px;border-left:2px solid var(--line)}
ol.timeline li{position:relative;padding:2px 0 10px 14px}
ol.timeline li::before{content:"";position:absolute;left:-23px;top:8px;width:12px;height:12px;
border-radius:50%;background:var(--muted);border:2px solid var(--card)}
li.s-succeeded::before{background:var(--ok)!important}
li.s-failed::before,li.s-rollback_failed::before{background:var(--bad)!important}
li.s-rolling_back::before,li.s-rolled_back::before{background:var(--warn)!important}
.when{color:var(--muted);font-size:13px;font-variant-numeric:tabular-nums}
.state{font-weight:650}
.muted{color:var(--muted)}
.share{width:120px;height:8px;background:var(--line);border-radius:4px;margin-top:4px}
.share>div{height:8px;border-radius:4px}
.fill-ok{background:var(--ok)}.fill-bad{background:var(--bad)}.fill-warn{background:var(--warn)}
details>summary{cursor:pointer;color:var(--info);font-size:13px}
footer{color:var(--muted);font-size:13px;text-align:center;margin-top:20px}
@media print{body{background:#fff}section{break-inside:avoid}pre{max-height:none}}
"""


def _live_card(live: Live, *, label: str, extra: str = "") -> str:
    if not live.known:
        value, sub = "unknown", '<div class="muted">the rollback did not complete</div>'
    elif live.version is None:
        value, sub = "nothing", '<div class="muted">no version was live</div>'
    else:
        value, sub = f"version {live.version}", f"<code>{escape(live.short)}</code>"
    return (
        f'<div class="version{extra}"><div class="label">{escape(label)}</div>'
        f'<div class="v">{escape(value)}</div>{sub}</div>'
    )


def _banner(report: Report) -> str:
    status = report.status
    act = ""
    if status.tone == "urgent":
        act = (
            '<p class="act">Act now: inspect the function, then run '
            f"<code>lambda-promote rollback {escape(report.env)} --to VERSION</code>; "
            "<code>lambda-promote status</code> shows what is live.</p>"
        )
    return (
        f'<header class="banner tone-{status.tone}">'
        f'<span class="badge">{escape(status.label)}</span>'
        f"<h1>{escape(report.title)}</h1>"
        f'<p class="lead">{escape(status.summary)}</p>{act}</header>'
    )


def _facts(report: Report) -> str:
    rows: list[tuple[str, str]] = []
    if report.project:
        rows.append(("Project", escape(report.project)))
    rows += [
        ("Environment", escape(report.env)),
        ("Kind", escape(report.kind)),
        ("State", escape(report.state)),
        ("Artifact", f"<code>{escape(report.digest)}</code>"),
        ("Commit", f"<code>{escape(report.commit)}</code>" if report.commit else "—"),
        *([("Committed", stamp(report.committed_at))] if report.committed_at else []),
        ("By", escape(report.actor or "?")),
    ]
    if report.attempted_version and report.after.version != report.attempted_version:
        rows.append(("Attempted version", escape(report.attempted_version)))
    if report.reason:
        rows.append(("Reason", escape(report.reason)))
    if report.error:
        rows.append(("Error", f'<span class="mark-bad">{escape(report.error)}</span>'))
    rows += [
        ("Started", f"{escape(stamp(report.created_at))} UTC"),
        ("Finished", f"{escape(stamp(report.finished_at))} UTC" if report.finished_at else "—"),
        ("Took", escape(duration(report.duration_s))),
    ]
    items = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    versions = (
        f'<div class="versions tone-{report.status.tone}">'
        f"{_live_card(report.before, label='live before')}"
        '<div class="arrow">→</div>'
        f"{_live_card(report.after, label='live after', extra=' after')}</div>"
    )
    return f'<section><h2>Summary</h2><dl class="facts">{items}</dl>{versions}</section>'


def _functions(report: Report) -> str:
    if not report.functions:
        return ""
    rows = "".join(
        f"<tr><th>{escape(f.name)}</th><td>{escape(f.function_name)}</td>"
        f"<td>{escape(f.previous_version or '(none)')} → {escape(f.version or '(none)')}</td>"
        f"<td><code>{escape(f.digest[:12])}</code></td><td>{escape(f.moved)}</td></tr>"
        for f in report.functions
    )
    return (
        "<section><h2>Functions</h2><table><thead><tr><th>function</th>"
        "<th>Lambda function</th><th>version</th><th>digest</th><th>alias</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _configuration(report: Report) -> str:
    if report.configuration_digest is None:
        return ""
    rows = report.configuration or (("managed", "nothing: the function's own settings"),)
    items = "".join(f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>" for label, text in rows)
    digest = escape(report.configuration_digest[:12])
    return (
        f'<section><h2>Configuration</h2><dl class="facts">{items}</dl>'
        f"<p>Digest <code>{digest}</code>: the version carries it with the code.</p></section>"
    )


def _timeline(report: Report) -> str:
    if not report.timeline:
        return ""
    items = "".join(
        f'<li class="s-{escape(s.state)}"><span class="when">{escape(stamp(s.at))} '
        f'(+{s.offset_s:.1f} s)</span> <span class="state">{escape(s.state)}</span>'
        + (f' <span class="muted">— {escape(s.note)}</span>' if s.note else "")
        + "</li>"
        for s in report.timeline
    )
    return f'<section><h2>Timeline</h2><ol class="timeline">{items}</ol></section>'


def _traffic(report: Report) -> str:
    if not report.traffic:
        return ""
    rows = []
    for t in report.traffic:
        tone = {True: "ok", False: "bad", None: "warn"}[t.ok]
        bar = (
            f'<div class="share"><div class="fill-{tone}" style="width:{min(t.percent, 100):g}%">'
            "</div></div>"
        )
        failed = "".join(f"<br>✗ {escape(f)}" for f in t.failed)
        rows.append(
            f'<tr class="{"fail" if t.ok is False else "pass"}"><td class="num">{t.percent:g}%'
            f"{bar}</td><td>{escape(stamp(t.at))}</td>"
            f"<td>{escape(step_result(t.ok, t.stopped_by))}</td>"
            f"<td>{t.passed} passed{failed}</td></tr>"
        )
    head = "<tr><th>share</th><th>time (UTC)</th><th>step</th><th>checks</th></tr>"
    table = f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    return f"<section><h2>Traffic shift</h2>{table}</section>"


def _check_rows(checks: tuple[CheckRow, ...]) -> str:
    rows = []
    for c in checks:
        mark = (
            '<span class="mark-ok">✓ pass</span>'
            if c.ok
            else '<span class="mark-bad">✗ FAIL</span>'
        )
        logs = ""
        if c.logs.strip():
            opened = "" if c.ok else " open"
            logs = f"<details{opened}><summary>logs</summary><pre>{escape(c.logs)}</pre></details>"
        rows.append(
            f'<tr class="{"pass" if c.ok else "fail"}"><td>{mark}</td><td>{escape(c.name)}</td>'
            f'<td>{escape(c.phase)}</td><td class="num">{escape(latency(c.latency_ms))}</td>'
            f"<td>{escape(c.detail)}{logs}</td></tr>"
        )
    head = "<tr><th></th><th>check</th><th>phase</th><th>latency</th><th>detail</th></tr>"
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _checks(report: Report) -> str:
    passed = len(report.checks) - report.failed_checks
    title = f'Checks <span class="muted">({passed} passed, {report.failed_checks} failed)</span>'
    if not report.checks:
        body = f'<p class="mark-warn">{escape(no_checks(report))}</p>'
    else:
        body = _check_rows(report.checks)
    return f"<section><h2>{title}</h2>{body}</section>"


def _rollback(report: Report) -> str:
    rb = report.rollback
    if rb is None:
        return ""
    verified = {
        True: '<span class="mark-ok">✓ verified</span>',
        False: '<span class="mark-bad">✗ NOT verified</span>',
        None: "—",
    }[rb.verified]
    to = escape(rb.to_version or "(none)")
    if rb.to_digest:
        to += f" <code>{escape(rb.to_digest[:12])}</code>"
    rows = [
        ("From version", escape(rb.from_version or "(none)")),
        ("To version", to),
        ("Why", escape(rb.reason or "—")),
        ("Verification", verified),
    ]
    if rb.note:
        rows.append(("Note", escape(rb.note)))
    if rb.error:
        rows.append(("Error", f'<span class="mark-bad">{escape(rb.error)}</span>'))
    items = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    checks = f"<h3>Checks after the rollback</h3>{_check_rows(rb.checks)}" if rb.checks else ""
    return f'<section><h2>Rollback</h2><dl class="facts">{items}</dl>{checks}</section>'


_DECISION = {
    True: '<span class="mark-ok">✓ approved</span>',
    False: '<span class="mark-bad">✗ rejected</span>',
}


def _approval(row: ApprovalRow) -> str:
    consumed = f"; admitted deployment {escape(row.consumed_by)}" if row.consumed_by else ""
    head = (
        f'<h3>Request {escape(row.id)} <span class="muted">({escape(row.state)})</span></h3>'
        f'<p class="muted">requested by {escape(row.requested_by)} at '
        f"{escape(stamp(row.requested_at))} UTC; expires {escape(stamp(row.expires_at))} UTC"
        f"{consumed}</p>"
    )
    if row.decisions:
        decisions = "".join(
            f"<tr><td>{_DECISION[d.approve]}</td><td>{escape(d.reviewer)}</td><td>{escape(stamp(d.at))}</td>"
            f"<td>{escape(d.comment) or '—'}</td></tr>"
            for d in row.decisions
        )
        table = (
            "<table><thead><tr><th>decision</th><th>reviewer</th><th>at (UTC)</th>"
            f"<th>comment</th></tr></thead><tbody>{decisions}</tbody></table>"
        )
    else:
        table = '<p class="muted">No decisions yet.</p>'
    evidence = ""
    if row.evidence:
        evidence = (
            "<details><summary>evidence shown to reviewers</summary>"
            f"<pre>{escape(chr(10).join(row.evidence))}</pre></details>"
        )
    return head + table + evidence


def _approvals(report: Report) -> str:
    if not report.approvals:
        return ""
    return f"<section><h2>Approvals</h2>{''.join(_approval(a) for a in report.approvals)}</section>"


def _notification(row: NotificationRow) -> str:
    if row.ok:
        mark = '<span class="mark-ok">✓ sent</span>'
    elif row.skipped:
        mark = '<span class="mark-warn">! skipped</span>'
    else:
        mark = '<span class="mark-bad">✗ failed</span>'
    return (
        f"<tr><td>{mark}</td><td>{escape(row.notifier)}</td><td>{escape(row.event)}</td>"
        f'<td class="num">{row.attempts}</td><td>{escape(row.error) or "—"}</td></tr>'
    )


def _notifications(report: Report) -> str:
    if not report.notifications:
        return '<section><h2>Notifications</h2><p class="muted">None sent.</p></section>'
    rows = "".join(_notification(n) for n in report.notifications)
    head = "<tr><th></th><th>notifier</th><th>event</th><th>attempts</th><th>error</th></tr>"
    return (
        f"<section><h2>Notifications</h2><table><thead>{head}</thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _footer(report: Report) -> str:
    head = f"<code>{escape(report.audit_head)}</code>" if report.audit_head else "not recorded"
    return (
        f"<footer><p>Audit chain head when this report was written: {head}<br>"
        "<code>lambda-promote audit --verify</code> checks the chain still reaches it.</p>"
        f"<p>Generated by lambda-promote at {escape(stamp(report.generated_at))} UTC.</p>"
        "</footer>"
    )


def render_html(report: Report) -> str:
    title = f"{report.title} · {report.status.label} — lambda-promote"
    body = "".join(
        part(report)
        for part in (
            _banner,
            _facts,
            _functions,
            _configuration,
            _timeline,
            _traffic,
            _checks,
            _rollback,
            _approvals,
            _notifications,
            _footer,
        )
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body><main>{body}</main></body></html>\n"
    )
