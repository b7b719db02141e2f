"""Everything a command needs, assembled lazily from promote.yaml: the ledger, the artifact
store, the target and the acting user. Commands ask for what they use, so ``status`` never
imports a build tool and ``validate`` never opens a database.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable
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
    from lambda_promote.function_config import FunctionConfiguration
    from lambda_promote.ledger.base import Ledger
    from lambda_promote.notify.dispatch import DeliveryLog
    from lambda_promote.notify.events import NotificationEvent
    from lambda_promote.notify.redact import Redactor
    from lambda_promote.targets.base import Target
    from lambda_promote.ui import UI

STATE_DIR = ".lambda-promote"


@dataclass(frozen=True)
class Parts:
    """Parts handed to a ``Workspace`` instead of the ones promote.yaml names."""

    ledger: Ledger | None = None
    target: Target | None = None
    store: ArtifactStore | None = None
    notifier: Callable[[NotificationEvent], None] | None = None


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


def this_host() -> str:
    return socket.gethostname()


def lock_holder(actor: str) -> str:
    """Who holds an environment lock: ``actor@host:pid``, so a lock left by a dead process
    on this machine can be recognised as stale (see ``deploy.lock_is_stale``)."""
    return f"{actor}@{this_host()}:{os.getpid()}"


@dataclass(frozen=True)
class LockHolder:
    actor: str
    host: str
    pid: int | None  # None when the text names no process (written by something else)


def parse_lock_holder(holder: str) -> LockHolder:
    """``lock_holder``'s text read back; the actor may itself contain ``@``."""
    actor, _, where = holder.rpartition("@")
    host, _, pid_text = where.rpartition(":")
    return LockHolder(actor, host, int(pid_text) if pid_text.isdigit() else None)


def sqlite_file(url: str, *, root: Path) -> Path | None:
    """The file a ``sqlite:///…`` state URL names (relative to ``root``), else None."""
    if not url.startswith("sqlite:///"):
        return None
    name = url.removeprefix("sqlite:///").partition("?")[0]
    if not name or name == ":memory:":
        return None
    path = Path(name).expanduser()
    return path if path.is_absolute() else root / path


@dataclass
class Workspace:
    """What a command works with: the config, the acting user, and the parts — ledger,
    target, artifact store, notifier. A part not passed in is made from promote.yaml on
    first use, so tests (and other ledgers) pass their own."""

    config: Config
    ui: UI
    actor: str
    parts: Parts | None = None
    _closers: list[object] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.config.root

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @cached_property
    def ledger(self) -> Ledger:
        """Opened lazily: a command that only reads creates and changes nothing, so it works
        on a read-only ledger. Everything stored is scrubbed of this machine's secrets."""
        if self.parts is not None and self.parts.ledger is not None:
            return self.parts.ledger
        # A SQLite file already made is served without SQLAlchemy (ledger/choose.py).
        from lambda_promote.ledger.choose import open_ledger

        ledger = open_ledger(
            state_url(self.config.state),
            root=self.root,
            redactor=self.redactor,
            lazy=True,
            warn=self.ui.warn,
        )
        self._closers.append(ledger)
        return ledger

    @cached_property
    def redactor(self) -> Redactor:
        """What scrubs this machine's secrets from everything recorded (DESIGN §5.8)."""
        from lambda_promote.notify.redact import redactor_for

        return redactor_for(self.config.notifications)

    def ledger_for_reading(self) -> Ledger:
        """The ledger, or — when its SQLite file does not exist yet — an empty one: a dry
        run reads, and must not create the file (or its folder) by reading."""
        if "ledger" in self.__dict__ or (self.parts is not None and self.parts.ledger):
            return self.ledger
        path = sqlite_file(state_url(self.config.state), root=self.root)
        if path is not None and not path.exists():
            from lambda_promote.ledger.empty import EmptyLedger

            return EmptyLedger()
        return self.ledger

    @cached_property
    def audit_trail(self) -> AuditTrail:
        """The audit events this command has read: the keyed gate reads the trail once."""
        from lambda_promote.audit_trail import AuditTrail

        return AuditTrail(self.ledger)

    @cached_property
    def store(self) -> ArtifactStore:
        if self.parts is not None and self.parts.store is not None:
            return self.parts.store
        from lambda_promote.artifacts import open_store

        return open_store(self.config.artifacts, root=self.root)

    @cached_property
    def target(self) -> Target:
        if self.parts is not None and self.parts.target is not None:
            return self.parts.target
        if self.config.target == "local":
            from lambda_promote.targets.local import LocalTarget

            return LocalTarget(self.state_dir / "local", warn=self.ui.warn)
        from lambda_promote.targets import require_boto3

        require_boto3(needed_for="target: aws")
        from lambda_promote.targets.aws_target import AwsTarget

        return AwsTarget(warn=self.ui.warn)

    def function_ref(
        self,
        env: str,
        *,
        session_name: str = "lambda-promote",
        function: str = "",
        release: FunctionConfiguration | None = None,
    ) -> FunctionRef:
        """The environment's function with the configuration promote.yaml gives it now
        (a promotion swaps in the release part its source verified: ``promotion``).
        ``function``: which function of a many-function release (default: the first);
        ``release``: its release part as its source verified it, instead of promote.yaml's."""
        from lambda_promote.function_config import effective, settings_of

        spec = self.config.environments[env]
        functions = self.config.release_functions
        name = function or next(iter(functions))
        fn = functions[name]
        configured = effective(release or settings_of(fn), settings_of(spec))
        if spec.functions and name in spec.functions:
            configured = effective(configured, settings_of(spec.functions[name]))
        return FunctionRef(
            env=env,
            function_name=self.config.lambda_name(env, name),
            alias=spec.alias,
            region=spec.region,
            handler=fn.handler,
            runtime=fn.runtime,
            profile=spec.profile,
            role_arn=spec.role_arn,
            session_name=session_name,
        ).configured(configured)

    def function_refs(
        self, env: str, *, session_name: str = "lambda-promote"
    ) -> dict[str, FunctionRef]:
        """Every function of the release, by name, addressed in ``env`` (DESIGN §11.4)."""
        return {
            name: self.function_ref(env, session_name=session_name, function=name)
            for name in self.config.release_functions
        }

    @cached_property
    def deliveries(self) -> DeliveryLog:
        """Every notification this command sent or failed to send, recorded in the audit
        trail and shown; a failing notifier never fails the command (DESIGN §5.9)."""
        from lambda_promote.notify.dispatch import DeliveryLog

        return DeliveryLog(audit=self.audit, warn=self.ui.warn)

    def notify(self, event: NotificationEvent) -> None:
        if self.parts is not None and self.parts.notifier is not None:
            self.parts.notifier(event)
            return
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
        scrub = self.redactor
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
