"""Everything a command needs, assembled lazily from promote.yaml: the ledger, the artifact
store, the target and the acting user. Commands ask for what they use, so ``status`` never
imports a build tool and ``validate`` never opens a database.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_promote.model import AuditEvent, FunctionRef

if TYPE_CHECKING:
    from lambda_promote.artifacts import ArtifactStore
    from lambda_promote.audit_trail import AuditTrail
    from lambda_promote.config.schema import Config
    from lambda_promote.ledger.sql import SqlLedger
    from lambda_promote.notify.dispatch import DeliveryLog
    from lambda_promote.notify.events import NotificationEvent
    from lambda_promote.targets.base import Target
    from lambda_promote.ui import UI

STATE_DIR = ".lambda-promote"


def acting_user(explicit: str | None = None) -> str:
    """DESIGN §4: ``--as``, else LAMBDA_PROMOTE_USER, else GITHUB_ACTOR, else the OS user.
    Claimed, not proven: a team needs an authenticated gate (see README)."""
    for candidate in (
        explicit,
        os.environ.get("LAMBDA_PROMOTE_USER"),
        os.environ.get("GITHUB_ACTOR"),
    ):
        if candidate:
            return candidate
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def state_url(configured: str) -> str:
    """LAMBDA_PROMOTE_STATE overrides ``state``, so a team's PostgreSQL URL (with its
    password) can come from a CI secret instead of the file."""
    return os.environ.get("LAMBDA_PROMOTE_STATE") or configured


def audit_key() -> bytes | None:
    """The HMAC key of the audit chain, from LAMBDA_PROMOTE_AUDIT_KEY (never stored)."""
    key = os.environ.get("LAMBDA_PROMOTE_AUDIT_KEY")
    return key.encode() if key else None


def lock_holder(actor: str) -> str:
    """Who holds an environment lock: ``actor@host:pid``, so a lock left by a dead process
    on this machine can be recognised as stale (see ``deploy.lock_is_stale``)."""
    return f"{actor}@{socket.gethostname()}:{os.getpid()}"


@dataclass
class Workspace:
    config: Config
    ui: UI
    actor: str
    _closers: list[object] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.config.root

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @cached_property
    def ledger(self) -> SqlLedger:
        """Opened lazily: a command that only reads creates and changes nothing, so it works
        on a read-only ledger. Everything stored is scrubbed of this machine's secrets."""
        from lambda_promote.ledger.sql import open_ledger
        from lambda_promote.notify.redact import redactor_for

        ledger = open_ledger(
            state_url(self.config.state),
            root=self.root,
            redactor=redactor_for(self.config.notifications),
            lazy=True,
            warn=self.ui.warn,
        )
        self._closers.append(ledger)
        return ledger

    @cached_property
    def audit_trail(self) -> AuditTrail:
        """The audit events this command has read: the keyed gate reads the trail once."""
        from lambda_promote.audit_trail import AuditTrail

        return AuditTrail(self.ledger)

    @cached_property
    def store(self) -> ArtifactStore:
        from lambda_promote.artifacts import open_store

        return open_store(self.config.artifacts, root=self.root)

    @cached_property
    def target(self) -> Target:
        if self.config.target == "local":
            from lambda_promote.targets.local import LocalTarget

            return LocalTarget(self.state_dir / "local", warn=self.ui.warn)
        from lambda_promote.targets import require_boto3

        require_boto3(needed_for="target: aws")
        from lambda_promote.targets.aws_target import AwsTarget

        return AwsTarget(warn=self.ui.warn)

    def function_ref(self, env: str, *, session_name: str = "lambda-promote") -> FunctionRef:
        """The environment's function with the configuration promote.yaml gives it now
        (a promotion swaps in the release part its source verified: ``promotion``)."""
        from lambda_promote.function_config import effective, settings_of

        spec = self.config.environments[env]
        fn = self.config.function
        return FunctionRef(
            env=env,
            function_name=spec.function_name,
            alias=spec.alias,
            region=spec.region,
            handler=fn.handler,
            runtime=fn.runtime,
            profile=spec.profile,
            role_arn=spec.role_arn,
            session_name=session_name,
        ).configured(effective(settings_of(fn), settings_of(spec)))

    @cached_property
    def deliveries(self) -> DeliveryLog:
        """Every notification this command sent or failed to send, recorded in the audit
        trail and shown; a failing notifier never fails the command (DESIGN §5.9)."""
        from lambda_promote.notify.dispatch import DeliveryLog

        return DeliveryLog(audit=self.audit, warn=self.ui.warn)

    def notify(self, event: NotificationEvent) -> None:
        notifications = self.config.notifications
        if notifications.slack or notifications.email or notifications.webhook:
            self.deliveries.notify(notifications, event)

    def audit(
        self,
        action: str,
        *,
        env: str | None = None,
        digest: str | None = None,
        reason: str = "",
        details: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one event to the hash-chained audit trail (DESIGN §5.7). Its free text is
        scrubbed of secrets first: the hash must cover exactly what is stored (§5.8)."""
        from lambda_promote.audit import chain, key_change_warning
        from lambda_promote.audit_trail import keyring

        at = datetime.now(UTC)
        ring = keyring()
        scrub = self.ledger.redactor
        reason, details = scrub(reason), scrub.deep(details) if details else details
        warning = ""

        def make(previous: AuditEvent | None) -> AuditEvent:
            nonlocal warning
            warning = key_change_warning(previous, ring)
            return chain(
                previous,
                at=at,
                actor=self.actor,
                action=action,
                env=env,
                digest=digest,
                reason=reason,
                details=details,
                key=ring.current,
            )

        event = self.ledger.append_audit(make)
        if warning:  # once per key change: the next append finds this event at the head
            self.ui.warn(warning)
        return event

    def close(self) -> None:
        for closer in self._closers:
            close = getattr(closer, "close", None)
            if close is not None:
                close()
