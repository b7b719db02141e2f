"""Where the audit trail's inputs come from: the keys in the environment (never stored) and the
events in the ledger, read once per command. ``Workspace.audit`` signs with these keys;
``attested`` (the gate) and ``audit --verify`` check with them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lambda_promote.audit import Keyring

if TYPE_CHECKING:
    from lambda_promote.ledger.base import Ledger
    from lambda_promote.model import AuditEvent

KEY_VARIABLE = "LAMBDA_PROMOTE_AUDIT_KEY"
PREVIOUS_KEYS_VARIABLE = "LAMBDA_PROMOTE_AUDIT_KEY_PREVIOUS"


def keyring() -> Keyring:
    """This run's audit key and the earlier ones (comma-separated in
    LAMBDA_PROMOTE_AUDIT_KEY_PREVIOUS) it still verifies with after a rotation."""
    current = os.environ.get(KEY_VARIABLE) or None
    previous = os.environ.get(PREVIOUS_KEYS_VARIABLE, "")
    return Keyring(
        current.encode() if current else None,
        tuple(k.strip().encode() for k in previous.split(",") if k.strip()),
    )


class AuditTrail:
    """The events read so far in this command; a second look reads only what was appended."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._events: list[AuditEvent] | None = None

    def events(self) -> list[AuditEvent]:
        if self._events is None:
            self._events = self._ledger.audit_events()
        else:
            since = self._events[-1].seq if self._events else 0
            self._events += self._ledger.audit_events(since_seq=since)
        return self._events
