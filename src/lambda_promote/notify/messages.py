"""What each notification says, as pure functions of a ``NotificationEvent``: the headline,
the facts (what, env, digest, commit, who, report), the evidence and exact command for an
approval request, and the three shapes sent out — Slack Block Kit, plain text + HTML email,
and the webhook's JSON. No I/O; the notifiers redact and send what these return.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from typing import Any

from lambda_promote.model import ApprovalRequest, ConfigurationEvidence, Deployment
from lambda_promote.notify.events import NotificationEvent
from lambda_promote.output import deployment_json, function_lines, iso

SCHEMA_VERSION = 1
_SLACK_TEXT_LIMIT = 2900  # Slack refuses section texts over 3000 characters
_SLACK_HEADER_LIMIT = 150


# --- words -----------------------------------------------------------------------------------
def _dep(event: NotificationEvent) -> Deployment:
    if event.deployment is None:
        raise ValueError(f"a {event.name} notification needs its deployment")
    return event.deployment


def _req(event: NotificationEvent) -> ApprovalRequest:
    if event.request is None:
        raise ValueError(f"a {event.name} notification needs its approval request")
    return event.request


_HEADLINES: dict[str, Callable[[NotificationEvent], str]] = {
    "approval.requested": lambda e: (
        f"Approval needed: {e.short_digest} → {e.env} (request {_req(e).id})"
    ),
    "approval.granted": lambda e: f"Approved by {e.actor}: {e.short_digest} → {e.env}",
    "approval.rejected": lambda e: f"Rejected by {e.actor}: {e.short_digest} → {e.env}",
    "approval.expired": lambda e: (
        f"Approval expired: request {_req(e).id} for {e.short_digest} → {e.env}"
    ),
    "deployment.succeeded": lambda e: (
        f"{e.env}: version {_dep(e).version} ({e.short_digest}) is live"
    ),
    "deployment.failed": lambda e: f"{e.env}: deployment {_dep(e).id} failed — nothing was changed",
    "deployment.rolled_back": lambda e: (
        f"{e.env}: deployment {_dep(e).id} failed and was rolled back to version "
        f"{_dep(e).previous_version or '(none)'}"
    ),
    "rollback.failed": lambda e: (
        f"URGENT — {e.env} NEEDS A PERSON: the rollback of {_dep(e).id} did not complete"
    ),
    "rollback.manual": lambda e: (
        f"{e.env}: rolled back by hand to version {_dep(e).version} ({e.short_digest}), verified"
    ),
    "traffic.started": lambda e: (
        f"{e.env}: shifting traffic to version {_dep(e).version} ({e.short_digest}) — "
        f"{e.details.get('strategy', 'progressively')}"
    ),
    "traffic.failed": lambda e: (
        f"{e.env}: the shift to version {_dep(e).version} stopped at "
        f"{e.details.get('percent', '?')}% — {e.details.get('why', 'failed')}; rolling back"
    ),
    "lock.broken": lambda e: (
        f"{e.env}: the lock of {e.details.get('holder', '?')} "
        f"(deployment {e.details.get('deployment_id', '?')}) was broken"
    ),
}


def when(at: datetime) -> str:
    """Times in messages: UTC to the second."""
    return iso(at.replace(microsecond=0)) or ""


def headline(event: NotificationEvent) -> str:
    make = _HEADLINES.get(event.name)
    return make(event) if make is not None else f"{event.env}: {event.name}"


def subject(event: NotificationEvent) -> str:
    project = f"{event.project} · " if event.project else ""
    return f"[lambda-promote] {project}{headline(event)}"


def approve_command(request: ApprovalRequest) -> str:
    return f"lambda-promote approve {request.id} --env {request.env}"


def reject_command(request: ApprovalRequest) -> str:
    return f'lambda-promote reject {request.id} --env {request.env} --comment "why"'


def facts(event: NotificationEvent) -> list[tuple[str, str]]:
    """(label, value) pairs, in the order people look for them."""
    rows: list[tuple[str, str]] = [("Event", event.name), ("Environment", event.env)]
    if event.project:
        rows.insert(0, ("Project", event.project))
    if event.digest:
        rows.append(("Artifact", event.digest))
    if event.commit:
        rows.append(("Commit", event.commit))
    rows.append(("By", event.actor or "?"))
    rows += _deployment_facts(event.deployment)
    if event.request is not None:
        rows += _request_facts(event.request)
    if event.comment:
        rows.append(("Comment" if event.request else "Reason", event.comment))
    if event.report:
        rows.append(("Report", event.report))
    rows.append(("At", when(event.at)))
    return rows


def _deployment_facts(dep: Deployment | None) -> list[tuple[str, str]]:
    if dep is None:
        return []
    rows = [
        ("Deployment", f"{dep.id} ({dep.kind.value}, {dep.state.value})"),
        (
            "Version change",
            f"{dep.previous_version or '(none)'} → {dep.version or '(none)'}",
        ),
    ]
    rows += [("Function", line) for line in function_lines(dep)]
    if dep.error:
        rows.append(("Error", dep.error))
    rollback = dep.rollback_record
    if rollback is not None:
        outcome = "verified" if rollback.verified else "NOT verified"
        if rollback.error:
            outcome += f": {rollback.error}"
        rows.append(("Rollback", f"to version {rollback.to_version or '(none)'}, {outcome}"))
    return rows


def _request_facts(request: ApprovalRequest) -> list[tuple[str, str]]:
    decided = [
        f"{'approved' if d.approve else 'rejected'} by {d.reviewer}" for d in request.decisions
    ]
    rows = [
        ("Request", f"{request.id} ({request.state.value})"),
        ("Requested by", request.requested_by),
        ("Expires", when(request.expires_at)),
    ]
    if decided:
        rows.append(("Decisions", "; ".join(decided)))
    return rows


def evidence_lines(request: ApprovalRequest) -> list[str]:
    """What a reviewer needs before approving: provenance, upstream checks, what a rollback
    would restore, the commits that change."""
    ev = request.evidence_record
    lines = [
        f"built by {ev.built_by or request.built_by or '?'} from "
        f"{ev.branch or request.branch or '?'} @ {(ev.commit or '?')[:12]}",
        f"live now: version {ev.live_version or '(none)'}; "
        f"a rollback would restore version {ev.rollback_restores or '(none)'}",
    ]
    source = ev.source
    if source is not None:
        lines.append(
            f"{source.env}: {source.passed}/{len(source.checks)} checks passed "
            f"(deployment {source.deployment})"
        )
        lines += [
            f"  {'✓' if c.get('ok') else '✗'} {c.get('name')} {c.get('latency_ms')} ms"
            for c in source.checks
        ]
    lines += _configuration_lines(ev.configuration)
    for name, entry in sorted((ev.functions or {}).items()):
        lines.append(
            f"function {name}: {str(entry.get('digest') or '?')[:12]} from "
            f"{str(entry.get('commit') or '?')[:12]}; live now: version "
            f"{entry.get('live_version') or '(none)'}"
        )
        lines += [
            f"  {line}"
            for line in _configuration_lines(
                ConfigurationEvidence.from_json(entry.get("configuration"))
            )
        ]
    if ev.commits:
        lines.append(f"{len(ev.commits)} commit(s):")
        lines += [f"  {c}" for c in ev.commits[:10]]
    return lines


def _configuration_lines(configuration: ConfigurationEvidence | None) -> list[str]:
    """DESIGN §11.3: what the release changes in the function's settings."""
    if configuration is None:
        return []
    changes = configuration.changes
    if changes:
        return ["configuration changes:", *[f"  {line}" for line in changes]]
    if changes is not None:
        return ["configuration: unchanged"]
    settings = "; ".join(configuration.settings) or "none managed"
    return [f"configuration: {settings} (nothing recorded live to compare with)"]


# --- plain text and HTML (email) ---------------------------------------------------------------
def text_body(event: NotificationEvent) -> str:
    lines = []
    if event.urgent:
        lines += ["!" * 72, "URGENT: the environment needs a person now.", "!" * 72, ""]
    lines += [headline(event), ""]
    width = max(len(label) for label, _ in facts(event))
    lines += [f"{label:<{width}}  {value}" for label, value in facts(event)]
    if event.request is not None and event.name == "approval.requested":
        lines += ["", "Evidence:", *[f"  {line}" for line in evidence_lines(event.request)]]
        lines += [
            "",
            "To approve:",
            f"  {approve_command(event.request)}",
            "To reject:",
            f"  {reject_command(event.request)}",
        ]
    lines += ["", "— lambda-promote"]
    return "\n".join(lines) + "\n"


def html_body(event: NotificationEvent) -> str:
    esc = html.escape
    colour = "#b91c1c" if event.urgent else _tone_colour(event.name)
    rows = "".join(
        f'<tr><th style="text-align:left;padding:4px 12px 4px 0;color:#555;font-weight:600;'
        f'vertical-align:top">{esc(label)}</th><td style="padding:4px 0;font-family:'
        f'ui-monospace,Menlo,monospace;word-break:break-all">{esc(value)}</td></tr>'
        for label, value in facts(event)
    )
    parts = [
        '<!DOCTYPE html><html><body style="font-family:-apple-system,Segoe UI,Helvetica,'
        'Arial,sans-serif;color:#111;max-width:680px">',
        f'<div style="border-left:6px solid {colour};padding:8px 16px;margin:8px 0">',
    ]
    if event.urgent:
        parts.append(
            f'<p style="color:{colour};font-weight:700;font-size:18px;margin:0 0 8px">'
            "URGENT: the environment needs a person now.</p>"
        )
    parts += [
        f'<h2 style="margin:0 0 12px;font-size:18px">{esc(headline(event))}</h2>',
        f'<table style="border-collapse:collapse;font-size:14px">{rows}</table>',
    ]
    if event.request is not None and event.name == "approval.requested":
        evidence = "".join(
            f"<li>{esc(line.strip())}</li>" for line in evidence_lines(event.request)
        )
        parts += [
            '<h3 style="font-size:15px;margin:16px 0 4px">Evidence</h3>',
            f'<ul style="margin:0;padding-left:20px;font-size:14px">{evidence}</ul>',
            '<h3 style="font-size:15px;margin:16px 0 4px">To approve</h3>',
            f'<pre style="background:#f3f4f6;padding:8px;border-radius:4px">'
            f"{esc(approve_command(event.request))}</pre>",
        ]
    parts += ["</div>", '<p style="color:#888;font-size:12px">— lambda-promote</p>']
    parts.append("</body></html>")
    return "".join(parts)


def _tone_colour(name: str) -> str:
    if name in ("deployment.succeeded", "approval.granted", "rollback.manual"):
        return "#15803d"
    if name in ("deployment.rolled_back", "approval.expired", "lock.broken", "traffic.failed"):
        return "#b45309"
    if name in ("deployment.failed", "approval.rejected"):
        return "#b91c1c"
    return "#1d4ed8"


# --- Slack Block Kit -------------------------------------------------------------------------
def slack_escape(text: str) -> str:
    """Slack's mrkdwn: ``&``, ``<`` and ``>`` must be escaped, which also stops user text
    (a comment, a log line) from pinging ``<!channel>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, _SLACK_TEXT_LIMIT)}}


def slack_payload(event: NotificationEvent) -> dict[str, Any]:
    title = headline(event)
    emoji = ":rotating_light: " if event.urgent else _slack_emoji(event.name)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(emoji + title, _SLACK_HEADER_LIMIT)},
        }
    ]
    if event.urgent:
        # <!here> is the one mention we write ourselves: a failed rollback needs a person now.
        blocks.append(
            _mrkdwn(
                "<!here> *The rollback did not complete or could not be verified: "
                f"{slack_escape(event.env)} needs a person now.* "
                "Inspect the function, then `lambda-promote rollback "
                f"{slack_escape(event.env)} --to VERSION`."
            )
        )
    fields = [
        {"type": "mrkdwn", "text": _clip(f"*{label}*\n{slack_escape(value)}", 1900)}
        for label, value in facts(event)
        if label not in ("Report", "At", "Error", "Comment", "Reason")
    ]
    blocks.append({"type": "section", "fields": fields[:10]})
    for label in ("Error", "Reason", "Comment"):
        value = dict(facts(event)).get(label)
        if value:
            blocks.append(_mrkdwn(f"*{label}:* {slack_escape(value)}"))
    if event.request is not None and event.name == "approval.requested":
        blocks += _slack_approval(event.request)
    context = f"{when(event.at)} · event {event.id}"
    if event.report:
        context = f"{_slack_report(event.report)} · {context}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    fallback = ("<!here> " if event.urgent else "") + slack_escape(title)
    return {"text": fallback, "blocks": blocks}


def _slack_approval(request: ApprovalRequest) -> list[dict[str, Any]]:
    evidence = "\n".join(slack_escape(line) for line in evidence_lines(request))
    return [
        _mrkdwn(f"*Evidence*\n```{evidence}```"),
        _mrkdwn(
            f"*To approve*\n```{slack_escape(approve_command(request))}```\n"
            f"*To reject*\n```{slack_escape(reject_command(request))}```"
        ),
    ]


def _slack_report(report: str) -> str:
    if report.startswith(("http://", "https://")):
        return f"<{report}|Open the report>"
    return f"Report: `{slack_escape(report)}`"


def _slack_emoji(name: str) -> str:
    return {
        "deployment.succeeded": ":white_check_mark: ",
        "rollback.manual": ":rewind: ",
        "deployment.rolled_back": ":warning: ",
        "deployment.failed": ":x: ",
        "approval.requested": ":raising_hand: ",
        "approval.granted": ":heavy_check_mark: ",
        "approval.rejected": ":no_entry: ",
        "approval.expired": ":hourglass: ",
        "lock.broken": ":unlock: ",
        "traffic.started": ":twisted_rightwards_arrows: ",
        "traffic.failed": ":vertical_traffic_light: ",
    }.get(name, "")


# --- webhook JSON ----------------------------------------------------------------------------
def webhook_payload(event: NotificationEvent) -> dict[str, Any]:
    """The generic webhook's body; stable keys, documented in docs/notifications.md."""
    return {
        "schema": SCHEMA_VERSION,
        "id": event.id,
        "event": event.name,
        "urgent": event.urgent,
        "at": iso(event.at),
        "project": event.project or None,
        "env": event.env,
        "actor": event.actor,
        "digest": event.digest,
        "commit": event.commit,
        "summary": headline(event),
        "comment": event.comment or None,
        "report": event.report,
        "deployment": deployment_json(event.deployment) if event.deployment else None,
        "approval_request": _request_json(event.request) if event.request else None,
        "details": dict(event.details),
    }


def _request_json(request: ApprovalRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "env": request.env,
        "digest": request.digest,
        "state": request.state.value,
        "requested_by": request.requested_by,
        "requested_at": iso(request.requested_at),
        "expires_at": iso(request.expires_at),
        "decisions": [
            {"reviewer": d.reviewer, "approve": d.approve, "comment": d.comment, "at": iso(d.at)}
            for d in request.decisions
        ],
        "evidence": request.evidence,
        "approve_command": approve_command(request),
    }
