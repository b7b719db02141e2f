"""A whole ledger as plain records, as ``state migrate`` moves it between backends
(``transfer.py``): what a source's store reads and a destination's store writes. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lambda_promote.ledger import rules
from lambda_promote.model import ApprovalRequest, Artifact, AuditEvent, Deployment


@dataclass
class Records:
    """A whole ledger, oldest first within each kind (the order records were inserted)."""

    artifacts: list[Artifact] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)  # with transitions, checks
    requests: list[ApprovalRequest] = field(default_factory=list)  # with decisions
    audit: list[AuditEvent] = field(default_factory=list)
    locks: int = 0  # locks are never copied: a held one refuses the migration

    def counts(self) -> dict[str, int]:
        return {
            "artifacts": len(self.artifacts),
            "deployments": len(self.deployments),
            "transitions": sum(len(d.transitions) for d in self.deployments),
            "checks": sum(len(d.checks) for d in self.deployments),
            "approval_requests": len(self.requests),
            "approval_decisions": sum(len(r.decisions) for r in self.requests),
            "audit_events": len(self.audit),
        }


def audit_row(event: AuditEvent) -> dict[str, Any]:
    """An event as a row, exactly as it was read (not re-checked: a source's chain is copied
    as it is and verified at the destination). Details that were not JSON stay that text."""
    details: Any = event.details
    text = details if isinstance(details, str) else rules.dump_json(details, what="details")
    return {
        "seq": event.seq,
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "env": event.env,
        "digest": event.digest,
        "reason": event.reason,
        "details": text,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "key_id": event.key_id,
    }
