"""A deployment's report as data: everything the Markdown, HTML and JSON renderings show,
computed once from the model so the three agree. Pure: no I/O, no clock (the caller passes
``generated_at``), and every free text (notes, errors, logs, comments, evidence) already
passed through the ``Redactor`` (DESIGN §5.8).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from lambda_promote.function_config import described
from lambda_promote.model import (
    DIGEST_PREFIX_LEN,
    ApprovalRequest,
    CheckResult,
    Deployment,
    DeploymentKind,
    DeploymentState,
)
from lambda_promote.notify.messages import evidence_lines
from lambda_promote.notify.redact import Redactor
from lambda_promote.output import deployment_json, moved_word

Tone = Literal["ok", "warn", "bad", "urgent", "info"]
S = DeploymentState
_PHASE_ORDER = {
    "before_traffic": 0,
    "traffic": 1,
    "verify": 2,
    "bake": 3,
    "after_traffic": 4,
    "rollback_verify": 5,
}


@dataclass(frozen=True)
class Status:
    tone: Tone
    label: str
    summary: str


@dataclass(frozen=True)
class Live:
    """What the alias served. ``known`` is False when nobody can say (a failed rollback)."""

    version: str | None
    digest: str | None
    known: bool = True

    @property
    def short(self) -> str:
        return (self.digest or "")[:DIGEST_PREFIX_LEN]


@dataclass(frozen=True)
class Step:
    state: str
    at: datetime
    offset_s: float
    note: str


@dataclass(frozen=True)
class TrafficRow:
    """One step of a progressive shift (DESIGN §11.5) and the checks that judged it."""

    percent: float
    at: datetime | None
    offset_s: float | None
    ok: bool | None  # None: still running, or cut short by a crash
    passed: int
    failed: tuple[str, ...]  # "name: detail" of each failed check or alarm
    stopped_by: str | None = None


@dataclass(frozen=True)
class CheckRow:
    name: str
    phase: str
    ok: bool
    latency_ms: float
    detail: str
    logs: str


@dataclass(frozen=True)
class DecisionRow:
    reviewer: str
    approve: bool
    at: datetime
    comment: str
    source: str


@dataclass(frozen=True)
class ApprovalRow:
    id: str
    state: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    consumed_by: str | None
    decisions: tuple[DecisionRow, ...]
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class RollbackRow:
    reason: str
    from_version: str | None
    to_version: str | None
    to_digest: str | None
    verified: bool | None
    note: str
    error: str
    checks: tuple[CheckRow, ...]


@dataclass(frozen=True)
class FunctionRow:
    """One function of a many-function release (DESIGN §11.4)."""

    name: str
    function_name: str
    digest: str
    previous_version: str | None
    version: str | None
    moved: str  # output.moved_word: moved / unchanged / not moved


@dataclass(frozen=True)
class NotificationRow:
    notifier: str
    event: str
    ok: bool
    skipped: bool
    attempts: int
    error: str
    at: str | None


@dataclass(frozen=True)
class Report:
    deployment_id: str
    project: str
    env: str
    kind: str
    state: str
    status: Status
    actor: str
    digest: str
    commit: str | None
    reason: str
    error: str
    attempted_version: str | None
    before: Live
    after: Live
    created_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    timeline: tuple[Step, ...]
    checks: tuple[CheckRow, ...]
    approvals: tuple[ApprovalRow, ...]
    rollback: RollbackRow | None
    notifications: tuple[NotificationRow, ...]
    audit_head: str | None
    generated_at: datetime
    record: dict[str, Any]  # the ``--json`` shape of the deployment, redacted
    # DESIGN §11.3: (label, text) rows; empty with no digest when not recorded.
    configuration: tuple[tuple[str, str], ...] = ()
    configuration_digest: str | None = None
    # A many-function release: each function's move; empty for a single function.
    functions: tuple[FunctionRow, ...] = ()
    # When ``commit`` was committed (DESIGN §11.8); None when the ledger does not know.
    committed_at: datetime | None = None
    traffic: tuple[TrafficRow, ...] = ()  # DESIGN §11.5; empty: the traffic moved at once

    @property
    def short_digest(self) -> str:
        return self.digest[:DIGEST_PREFIX_LEN]

    @property
    def title(self) -> str:
        what = "rollback" if self.kind == DeploymentKind.ROLLBACK.value else "deployment"
        return f"{self.env} · {what} {self.deployment_id}"

    @property
    def failed_checks(self) -> int:
        return sum(1 for c in self.checks if not c.ok)


def build_report(
    dep: Deployment,
    *,
    approvals: Sequence[ApprovalRequest] = (),
    notifications: Iterable[Mapping[str, Any]] = (),
    audit_head: str | None = None,
    commit: str | None = None,
    committed_at: datetime | None = None,
    project: str = "",
    generated_at: datetime,
    redactor: Redactor,
) -> Report:
    r = redactor
    manual = dep.kind is DeploymentKind.ROLLBACK
    main_checks = [c for c in dep.checks if manual or c.phase != "rollback_verify"]
    return Report(
        deployment_id=dep.id,
        project=project,
        env=dep.env,
        kind=dep.kind.value,
        state=dep.state.value,
        status=status_of(dep),
        actor=dep.actor,
        digest=dep.digest,
        commit=commit,
        committed_at=committed_at,
        reason=r(dep.reason),
        error=r(dep.error),
        attempted_version=dep.version,
        before=Live(dep.previous_version, dep.previous_digest),
        after=live_after(dep),
        created_at=dep.created_at,
        finished_at=dep.transitions[-1].at if dep.state.terminal and dep.transitions else None,
        duration_s=_duration(dep),
        timeline=_timeline(dep, r),
        checks=_check_rows(main_checks, r),
        approvals=tuple(_approval_row(a, r) for a in approvals),
        rollback=_rollback_row(dep, r),
        notifications=tuple(_notification_row(n, r) for n in notifications),
        audit_head=audit_head,
        generated_at=generated_at,
        record=r.deep(deployment_json(dep)),
        configuration=tuple((label, r(text)) for label, text in described(dep.configuration)),
        configuration_digest=dep.configuration_digest,
        traffic=_traffic_rows(dep, r),
        functions=_function_rows(dep),
    )


def status_of(dep: Deployment) -> Status:
    prev = dep.previous_version or "(none)"
    if dep.state is S.SUCCEEDED and dep.kind is DeploymentKind.ROLLBACK:
        return Status(
            "ok",
            "Rolled back by hand",
            f"{dep.env} was moved from version {prev} to version {dep.version} and verified.",
        )
    if dep.state is S.SUCCEEDED:
        return Status(
            "ok", "Succeeded", f"Version {dep.version} ({dep.short_digest}) is live in {dep.env}."
        )
    if dep.state is S.ROLLED_BACK:
        restored = (
            f"rolled back to version {dep.previous_version} and verified"
            if dep.previous_version
            else "restored to having no version (first deployment)"
        )
        return Status("warn", "Rolled back", f"The deployment failed; {dep.env} was {restored}.")
    if dep.state is S.FAILED:
        return Status(
            "bad", "Failed", "The deployment failed before traffic moved; nothing was changed."
        )
    if dep.state is S.ROLLBACK_FAILED:
        return Status(
            "urgent",
            "Rollback failed — needs a person",
            f"The rollback did not complete or could not be verified: {dep.env} needs a "
            "person now.",
        )
    return Status(
        "info", "In progress", f"The deployment is {dep.state.value} (unfinished or interrupted)."
    )


def live_after(dep: Deployment) -> Live:
    if dep.state is S.SUCCEEDED:
        return Live(dep.version, dep.digest)
    if dep.state in (S.ROLLED_BACK, S.FAILED):
        return Live(dep.previous_version, dep.previous_digest)
    return Live(None, None, known=False)


def _duration(dep: Deployment) -> float | None:
    if not dep.transitions:
        return None
    start = dep.created_at or dep.transitions[0].at
    return max((dep.transitions[-1].at - start).total_seconds(), 0.0)


def _timeline(dep: Deployment, r: Redactor) -> tuple[Step, ...]:
    if not dep.transitions:
        return ()
    start = dep.transitions[0].at
    return tuple(
        Step(t.state.value, t.at, max((t.at - start).total_seconds(), 0.0), r(t.note))
        for t in dep.transitions
    )


def _traffic_rows(dep: Deployment, r: Redactor) -> tuple[TrafficRow, ...]:
    """Each recorded step with its checks: those on the new version say ``at P%)`` in their
    detail (``shifting.py``); the alarms that stopped a step belong to the step that failed."""
    start = dep.transitions[0].at if dep.transitions else dep.created_at
    shift_checks = [c for c in dep.checks if c.phase == "traffic"]
    rows = []
    for step in dep.traffic or []:
        percent = float(step.get("percent") or 0.0)
        at = _moment(step.get("at"))
        mine = [c for c in shift_checks if c.detail.endswith(f" at {percent:g}%)")]
        if step.get("ok") is False:
            mine += [c for c in shift_checks if c.name.startswith("alarm:") and not c.ok]
        rows.append(
            TrafficRow(
                percent=percent,
                at=at,
                offset_s=(at - start).total_seconds() if at and start else None,
                ok=step.get("ok") if isinstance(step.get("ok"), bool) else None,
                passed=sum(c.ok for c in mine),
                failed=tuple(r(f"{c.name}: {c.detail}") for c in mine if not c.ok),
                stopped_by=_text_or_none(step.get("stopped_by")),
            )
        )
    return tuple(rows)


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _check_rows(checks: Sequence[CheckResult], r: Redactor) -> tuple[CheckRow, ...]:
    """Failing checks first, then by phase, keeping the order they ran in."""
    indexed = sorted(
        enumerate(checks), key=lambda ic: (ic[1].ok, _PHASE_ORDER.get(ic[1].phase, 9), ic[0])
    )
    return tuple(
        CheckRow(c.name, c.phase, c.ok, c.latency_ms, r(c.detail), r(c.logs)) for _, c in indexed
    )


def _rollback_row(dep: Deployment, r: Redactor) -> RollbackRow | None:
    record = dep.rollback_record
    if record is None:
        return None
    checks = (
        ()
        if dep.kind is DeploymentKind.ROLLBACK
        else _check_rows([c for c in dep.checks if c.phase == "rollback_verify"], r)
    )
    return RollbackRow(
        reason=r(record.reason),
        from_version=record.from_version,
        to_version=record.to_version,
        to_digest=record.to_digest,
        verified=record.verified,
        note=r(record.note),
        error=r(record.error),
        checks=checks,
    )


def _approval_row(request: ApprovalRequest, r: Redactor) -> ApprovalRow:
    return ApprovalRow(
        id=request.id,
        state=request.state.value,
        requested_by=request.requested_by,
        requested_at=request.requested_at,
        expires_at=request.expires_at,
        consumed_by=request.consumed_by,
        decisions=tuple(
            DecisionRow(d.reviewer, d.approve, d.at, r(d.comment), d.source)
            for d in request.decisions
        ),
        evidence=tuple(r(line) for line in evidence_lines(request)),
    )


def _notification_row(item: Mapping[str, Any], r: Redactor) -> NotificationRow:
    get: Callable[[str], Any] = item.get
    return NotificationRow(
        notifier=str(get("notifier") or "?"),
        event=str(get("event") or "?"),
        ok=bool(get("ok")),
        skipped=bool(get("skipped")),
        attempts=int(get("attempts") or 0),
        error=r(str(get("error") or "")),
        at=_text_or_none(get("at")),
    )


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _function_rows(dep: Deployment) -> tuple[FunctionRow, ...]:
    return tuple(
        FunctionRow(
            name=name,
            function_name=str(entry.get("function_name") or ""),
            digest=str(entry.get("digest") or ""),
            previous_version=entry.get("previous_version"),
            version=entry.get("version"),
            moved=moved_word(entry),
        )
        for name, entry in sorted((dep.functions or {}).items())
    )
