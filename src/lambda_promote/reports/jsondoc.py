"""The JSON report: the deployment's ``--json`` shape (DESIGN §4) plus what only the report
carries — every check with its logs, the timeline, approvals, the rollback, notifications and
the audit chain head. Stable keys (``report_version`` changes when they do)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from lambda_promote.output import iso
from lambda_promote.reports.data import ApprovalRow, CheckRow, Live, Report

REPORT_VERSION = 1


def _check(row: CheckRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "phase": row.phase,
        "ok": row.ok,
        "latency_ms": round(row.latency_ms, 1),
        "detail": row.detail,
        "logs": row.logs,
    }


def report_json(report: Report) -> dict[str, Any]:
    rollback = None
    if report.rollback is not None:
        rollback = {
            **{k: v for k, v in asdict(report.rollback).items() if k != "checks"},
            "checks": [_check(c) for c in report.rollback.checks],
        }
    return {
        "report_version": REPORT_VERSION,
        "generated_at": iso(report.generated_at),
        "project": report.project or None,
        "status": {
            "tone": report.status.tone,
            "label": report.status.label,
            "summary": report.status.summary,
        },
        "deployment": report.record,
        "commit": report.commit,
        "committed_at": iso(report.committed_at),
        "live_before": _live(report.before),
        "live_after": _live(report.after),
        "duration_s": None if report.duration_s is None else round(report.duration_s, 3),
        "timeline": [
            {"state": s.state, "at": iso(s.at), "offset_s": round(s.offset_s, 3), "note": s.note}
            for s in report.timeline
        ],
        "checks": [_check(c) for c in report.checks],
        "rollback": rollback,
        "approvals": [_approval(a) for a in report.approvals],
        "notifications": [asdict(n) for n in report.notifications],
        "audit_head": report.audit_head,
    }


def _live(live: Live) -> dict[str, Any]:
    return {"version": live.version, "digest": live.digest, "known": live.known}


def _approval(row: ApprovalRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "state": row.state,
        "requested_by": row.requested_by,
        "requested_at": iso(row.requested_at),
        "expires_at": iso(row.expires_at),
        "consumed_by": row.consumed_by,
        "decisions": [
            {
                "reviewer": d.reviewer,
                "approve": d.approve,
                "at": iso(d.at),
                "comment": d.comment,
                "source": d.source,
            }
            for d in row.decisions
        ],
        "evidence": list(row.evidence),
    }


def render_json(report: Report) -> str:
    return json.dumps(report_json(report), indent=2, ensure_ascii=False, default=str) + "\n"
