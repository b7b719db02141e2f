"""What a notification is about, and the outcome of sending one: plain data shared by the
message builders (``messages.py``), the notifiers and the dispatcher. No I/O here.

A ``NotificationEvent`` is built from the model by one of the factories below, at the moment
something happens: a deployment ends (``deployment_event``, usually through the Journal
listener of ``notify.deployment_listener``), a reviewer is asked or decides
(``approval_event``), a lock is broken (``lock_broken_event``).
"""

from __future__ import annotations

import fnmatch
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambda_promote.model import (
    DIGEST_PREFIX_LEN,
    ApprovalRequest,
    Deployment,
    DeploymentKind,
    DeploymentState,
)

APPROVAL_EVENTS = (
    "approval.requested",
    "approval.granted",
    "approval.rejected",
    "approval.expired",
)
DEPLOYMENT_EVENTS = (
    "deployment.succeeded",
    "deployment.failed",
    "deployment.rolled_back",
    "rollback.failed",
    "rollback.manual",
)
# A progressive shift (DESIGN §11.5): its start and each step that stops it; its end is
# deployment.succeeded or deployment.rolled_back.
TRAFFIC_EVENTS = ("traffic.started", "traffic.failed")
EVENTS = (*APPROVAL_EVENTS, *DEPLOYMENT_EVENTS, *TRAFFIC_EVENTS, "lock.broken")

# The one event that means "the environment needs a person now" (DESIGN §4, exit code 4).
URGENT_EVENTS = frozenset({"rollback.failed"})


def now_utc() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> str:
    """Unique per notification; receivers use it to drop duplicates (retries, replays)."""
    return f"n-{secrets.token_hex(8)}"


@dataclass(frozen=True)
class NotificationEvent:
    """One thing people should hear about. ``subject`` is the deployment or approval request
    it concerns (its id); ``report`` a path or URL of the deployment's report."""

    name: str
    env: str
    actor: str
    at: datetime = field(default_factory=now_utc)
    digest: str | None = None
    commit: str | None = None
    project: str = ""
    deployment: Deployment | None = None
    request: ApprovalRequest | None = None
    report: str | None = None
    comment: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_event_id)

    @property
    def urgent(self) -> bool:
        return self.name in URGENT_EVENTS

    @property
    def short_digest(self) -> str:
        return (self.digest or "")[:DIGEST_PREFIX_LEN]

    @property
    def subject(self) -> str | None:
        if self.deployment is not None:
            return self.deployment.id
        if self.request is not None:
            return self.request.id
        return self.details.get("deployment_id")


@dataclass(frozen=True)
class Delivery:
    """The outcome of one notifier for one event. ``error`` never carries a secret (it is
    scrubbed before it gets here); ``skipped`` means the notifier could not even be set up
    (e.g. its environment variable is unset), so ``attempts`` is 0."""

    notifier: str
    event: str
    ok: bool
    error: str | None
    attempts: int
    skipped: bool = False
    env: str | None = None
    digest: str | None = None
    subject: str | None = None
    event_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "notifier": self.notifier,
            "event": self.event,
            "ok": self.ok,
            "error": self.error,
            "attempts": self.attempts,
            "skipped": self.skipped,
            "env": self.env,
            "subject": self.subject,
            "event_id": self.event_id,
        }


# --- filters ---------------------------------------------------------------------------------
def event_matches(name: str, patterns: Iterable[str] | None) -> bool:
    """A notifier's ``events`` filter: None means every event; entries are exact names or
    globs such as ``deployment.*`` or ``*.failed``."""
    if patterns is None:
        return True
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def unknown_event_patterns(patterns: Iterable[str] | None) -> list[str]:
    """Entries of an ``events`` filter that match no event at all (likely typos)."""
    if patterns is None:
        return []
    return [p for p in patterns if not any(fnmatch.fnmatchcase(e, p) for e in EVENTS)]


# --- factories -------------------------------------------------------------------------------
_STATES = frozenset(s.value for s in DeploymentState)
_JOURNAL_TO_EVENT = {
    DeploymentState.FAILED: "deployment.failed",
    DeploymentState.ROLLED_BACK: "deployment.rolled_back",
    DeploymentState.ROLLBACK_FAILED: "rollback.failed",
}


def event_for_journal(journal_event: str, deployment: Deployment) -> str | None:
    """The notification a Journal event calls for, if any (``journal.Listener`` names its
    events ``deployment.<state>``; ``lock.broken`` passes through)."""
    if journal_event == "lock.broken" or journal_event in TRAFFIC_EVENTS:
        return journal_event
    prefix, _, state = journal_event.partition(".")
    if prefix != "deployment" or state not in _STATES:
        return None
    state_value = DeploymentState(state)
    if state_value is DeploymentState.SUCCEEDED:
        manual = deployment.kind is DeploymentKind.ROLLBACK
        return "rollback.manual" if manual else "deployment.succeeded"
    return _JOURNAL_TO_EVENT.get(state_value)


def deployment_event(
    name: str,
    deployment: Deployment,
    *,
    project: str = "",
    commit: str | None = None,
    report: str | None = None,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> NotificationEvent:
    return NotificationEvent(
        name=name,
        env=deployment.env,
        actor=deployment.actor,
        at=at or now_utc(),
        digest=deployment.digest,
        commit=commit,
        project=project,
        deployment=deployment,
        report=report,
        comment=deployment.reason,
        details=dict(details or {}),
    )


def approval_event(
    name: str,
    request: ApprovalRequest,
    *,
    actor: str,
    project: str = "",
    comment: str = "",
    report: str | None = None,
    at: datetime | None = None,
) -> NotificationEvent:
    """``approval.requested`` (actor: the requester), ``.granted``/``.rejected`` (actor: the
    reviewer, comment: theirs) or ``.expired``."""
    return NotificationEvent(
        name=name,
        env=request.env,
        actor=actor,
        at=at or now_utc(),
        digest=request.digest,
        commit=request.evidence_record.commit,
        project=project,
        request=request,
        report=report,
        comment=comment,
    )


def lock_broken_event(
    env: str,
    *,
    actor: str,
    holder: str,
    deployment_id: str,
    reason: str = "",
    project: str = "",
    at: datetime | None = None,
) -> NotificationEvent:
    return NotificationEvent(
        name="lock.broken",
        env=env,
        actor=actor,
        at=at or now_utc(),
        project=project,
        comment=reason,
        details={"holder": holder, "deployment_id": deployment_id},
    )
