"""The ledger over SQLAlchemy Core, for SQLite files and PostgreSQL: the ``Ledger`` protocol of
``base.py``, opened from the ``state`` setting by ``open_ledger``.

Every method is one short transaction, so a crash loses at most the step in flight and a
transition is durable before the side effect it announces (DESIGN §6). The environment lock
is a row keyed by the environment: inserting it is the atomic test-and-set on every database,
and a second insert fails with the holder's row there to be named (DESIGN §5.6). Approval
requests (``sql_approvals.py``) and the audit trail (``sql_audit.py``) keep their SQL apart;
this class gives them their transactions.

Two boundaries are crossed in one place each: every record is scrubbed of secrets before its
rows are built (``_clean``, see ``scrub.py``), and which Engine reads or writes — reading never
writes, a read-only or full ledger is still read — is ``access.py``'s business.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from lambda_promote.errors import LedgerError
from lambda_promote.ledger import queries, rows, rules, scrub, sql_approvals, sql_audit
from lambda_promote.ledger.access import LedgerAccess
from lambda_promote.ledger.base import Ledger, LockInfo
from lambda_promote.ledger.engine import ledger_url, reading, writing
from lambda_promote.ledger.scrub import Record
from lambda_promote.ledger.tables import artifacts, check_results, deployments, locks, transitions
from lambda_promote.model import (
    TERMINAL_STATES,
    ApprovalDecision,
    ApprovalRequest,
    Artifact,
    AuditEvent,
    CheckResult,
    Deployment,
    DeploymentState,
    RequestState,
    Transition,
)
from lambda_promote.notify.redact import Redactor

Clock = Callable[[], datetime]
_TERMINAL = sorted(state.value for state in TERMINAL_STATES)
_LIVE_STATES = [state for state in DeploymentState if not state.terminal]
# A lock that vanishes between our failed insert and our read is retried this often.
_LOCK_ATTEMPTS = 3
# An audit append that loses its seq to a concurrent appender re-reads and re-makes this often.
_AUDIT_ATTEMPTS = 5


def open_ledger(
    url: str,
    *,
    root: Path,
    clock: Clock = rules.now_utc,
    redactor: Redactor | None = None,
    lazy: bool = False,
    warn: Callable[[str], None] | None = None,
) -> SqlLedger:
    """The ledger at ``url`` (the ``state`` setting; a relative SQLite path is relative to
    ``root``). Its schema is brought up to date now, or with ``lazy`` at the first write:
    a lazy ledger that is only read creates and changes nothing (see ``access.py``).
    ``redactor`` scrubs what is stored (default: the secrets of this process's environment
    and the credential shapes); ``warn`` is told when only a snapshot can be read."""
    access = LedgerAccess(ledger_url(url, root=root), warn=warn)
    ledger = SqlLedger(access, clock=clock, redactor=redactor)
    if not lazy:
        try:
            access.for_writing()
        except BaseException:
            access.dispose()
            raise
    return ledger


class SqlLedger:
    """``Ledger`` over SQLAlchemy; ``close()`` (or ``with``) disposes its engines. Every
    record written passes through ``scrub`` first, so the ledger stores no secret."""

    def __init__(
        self,
        source: Engine | LedgerAccess,
        *,
        clock: Clock = rules.now_utc,
        redactor: Redactor | None = None,
    ) -> None:
        self._access = (
            source if isinstance(source, LedgerAccess) else LedgerAccess.of_engine(source)
        )
        self._clock = clock
        self._shown = self._access.shown
        self.redactor = redactor if redactor is not None else Redactor.from_environ(os.environ)

    @property
    def schema_upgraded(self) -> bool:
        """Whether preparing this ledger for writing ran the migrations."""
        return self._access.schema_upgraded

    @property
    def engine(self) -> Engine:
        """The Engine this ledger writes with (prepared for writing now, if it was not), for
        modules that add their own tables to it."""
        return self._access.for_writing()

    @property
    def url(self) -> str:
        """Where the ledger lives, password hidden."""
        return self._shown

    def close(self) -> None:
        self._access.dispose()

    def __enter__(self) -> SqlLedger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        engine = self._access.for_writing()
        with self._access.errors(writing=True), writing(engine) as connection:
            yield connection

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        engine = self._access.for_reading()
        with self._access.errors(writing=False), reading(engine) as connection:
            yield connection

    def _clean(self, record: Record) -> Record:
        return scrub.scrubbed(record, self.redactor)

    # --- releases -------------------------------------------------------------------------
    def record_artifact(self, artifact: Artifact) -> None:
        row = rows.artifact_row(artifact)
        try:
            with self._writing() as connection:
                if queries.exists(connection, artifacts.c.digest, artifact.digest):
                    return  # the same digest is the same bytes: the first record stands
                connection.execute(sa.insert(artifacts).values(row))
        except sa.exc.IntegrityError:
            # Recorded by a concurrent process between our check and our insert.
            with self._reading() as connection:
                if not queries.exists(connection, artifacts.c.digest, artifact.digest):
                    raise

    def find_artifact(self, digest_or_prefix: str) -> Artifact | None:
        key = digest_or_prefix.strip().lower()
        with self._reading() as connection:
            digest = queries.resolve(connection, artifacts.c.digest, key, noun="artifact")
            if digest is None:
                return None
            row = connection.execute(sa.select(artifacts).where(artifacts.c.digest == digest)).one()
        return rows.artifact(row)

    # --- deployments ----------------------------------------------------------------------
    def create_deployment(self, deployment: Deployment) -> Deployment:
        deployment = self._clean(deployment)
        created = rules.utc(deployment.created_at) if deployment.created_at else self._clock()
        updated = rules.utc(deployment.updated_at) if deployment.updated_at else created
        row = rows.deployment_row(deployment, created=created, updated=updated)
        first_checks = rows.check_rows(deployment.checks, first_seq=1)
        try:
            with self._writing() as connection:
                if queries.exists(connection, deployments.c.id, deployment.id):
                    raise rules.duplicate_deployment(deployment.id)
                # Insertion order, for "newest first" among equal timestamps.
                seq = queries.insertion_seq(deployments)
                connection.execute(sa.insert(deployments).values({**row, "seq": seq}))
                connection.execute(
                    sa.insert(transitions).values(
                        deployment_id=deployment.id,
                        seq=1,
                        state=row["state"],
                        at=created,
                        note="",
                    )
                )
                _insert_checks(connection, deployment.id, first_checks)
        except sa.exc.IntegrityError as error:
            raise rules.duplicate_deployment(deployment.id) from error
        return self._load(deployment.id)

    def transition(
        self, deployment_id: str, state: DeploymentState, *, note: str = "", **fields: Any
    ) -> Deployment:
        state = DeploymentState(state)
        changes = scrub.scrubbed_fields(rules.transition_fields(fields), self.redactor)
        note = self.redactor(note)
        if "rollback" in changes:
            changes["rollback"] = rules.dump_json(changes["rollback"], what="the rollback")
        if "functions" in changes:
            changes["functions"] = rules.dump_json(changes["functions"], what="the functions")
        at = self._clock()
        with self._writing() as connection:
            # Conditional on "not finished yet", so two writers cannot both end a deployment.
            moved = connection.execute(
                sa.update(deployments)
                .where(deployments.c.id == deployment_id, deployments.c.state.not_in(_TERMINAL))
                .values(state=state.value, updated_at=at, **changes)
            )
            if moved.rowcount == 0:
                current = connection.execute(
                    sa.select(deployments.c.state).where(deployments.c.id == deployment_id)
                ).scalar()
                if current is None:
                    raise rules.unknown_deployment(deployment_id)
                raise rules.terminal_refusal(deployment_id, DeploymentState(current), state)
            seq = queries.next_seq(connection, transitions.c.deployment_id, deployment_id)
            connection.execute(
                sa.insert(transitions).values(
                    deployment_id=deployment_id, seq=seq, state=state.value, at=at, note=note
                )
            )
        return self._load(deployment_id)

    def add_checks(self, deployment_id: str, results: Sequence[CheckResult]) -> None:
        new_rows = rows.check_rows([self._clean(r) for r in results], first_seq=1)
        with self._writing() as connection:
            # FOR UPDATE (PostgreSQL) serialises concurrent writers of the same deployment.
            found = connection.execute(
                sa.select(deployments.c.id)
                .where(deployments.c.id == deployment_id)
                .with_for_update()
            ).first()
            if found is None:
                raise rules.unknown_deployment(deployment_id)
            offset = queries.next_seq(connection, check_results.c.deployment_id, deployment_id) - 1
            for row in new_rows:
                row["seq"] += offset
            _insert_checks(connection, deployment_id, new_rows)

    def get_deployment(self, id_or_prefix: str) -> Deployment | None:
        key = id_or_prefix.strip()
        with self._reading() as connection:
            found = queries.resolve(connection, deployments.c.id, key, noun="deployment")
            return None if found is None else _load_full(connection, found)

    def deployments(
        self,
        env: str | None = None,
        *,
        states: Sequence[DeploymentState] | None = None,
        since: datetime | None = None,
        limit: int | None = 50,
    ) -> list[Deployment]:
        query = sa.select(deployments).order_by(
            deployments.c.created_at.desc(), deployments.c.seq.desc(), deployments.c.id.desc()
        )
        if env is not None:
            query = query.where(deployments.c.env == env)
        if states is not None:
            query = query.where(deployments.c.state.in_([DeploymentState(s).value for s in states]))
        if since is not None:
            query = query.where(deployments.c.created_at >= rules.utc(since))
        if limit is not None:
            query = query.limit(limit)
        with self._reading() as connection:
            return [rows.deployment(row) for row in connection.execute(query)]

    def unfinished(self, env: str) -> list[Deployment]:
        return self.deployments(env, states=_LIVE_STATES, limit=None)

    def _load(self, deployment_id: str) -> Deployment:
        with self._reading() as connection:
            return _load_full(connection, deployment_id)

    # --- per-environment lock (DESIGN §5.6) -----------------------------------------------
    def acquire_lock(self, env: str, *, holder: str, deployment_id: str) -> None:
        for _ in range(_LOCK_ATTEMPTS):
            try:
                with self._writing() as connection:
                    connection.execute(
                        sa.insert(locks).values(
                            env=env,
                            holder=holder,
                            deployment_id=deployment_id,
                            since=self._clock(),
                        )
                    )
                return
            except sa.exc.IntegrityError:
                current = self.lock_info(env)
                if current is not None:
                    raise rules.locked(current) from None
        raise LedgerError(
            f"could not take the lock of {env}: it was taken and released repeatedly",
            hint="another process is deploying to it in a loop; try again",
        )

    def release_lock(self, env: str, deployment_id: str) -> None:
        with self._writing() as connection:
            connection.execute(
                sa.delete(locks).where(locks.c.env == env, locks.c.deployment_id == deployment_id)
            )

    def lock_info(self, env: str) -> LockInfo | None:
        with self._reading() as connection:
            row = connection.execute(sa.select(locks).where(locks.c.env == env)).first()
        return None if row is None else rows.lock(row)

    def break_lock(self, env: str, deployment_id: str) -> LockInfo:
        with self._writing() as connection:
            row = connection.execute(sa.select(locks).where(locks.c.env == env)).first()
            current = None if row is None else rows.lock(row)
            if current is None or current.deployment_id != deployment_id:
                raise rules.no_such_lock(env, deployment_id, current)
            connection.execute(
                sa.delete(locks).where(locks.c.env == env, locks.c.deployment_id == deployment_id)
            )
        return current

    # --- approval requests (DESIGN §5.2–5.3) ---------------------------------------------
    def create_request(self, request: ApprovalRequest) -> ApprovalRequest:
        request = self._clean(request)
        row = rows.request_row(request)
        decisions = [
            rows.decision_row(decision, request_id=request.id, seq=seq)
            for seq, decision in enumerate(rules.distinct_decisions(request), start=1)
        ]
        try:
            with self._writing() as connection:
                sql_approvals.insert_request(connection, row, decisions)
                return sql_approvals.load_request(connection, request.id)
        except sa.exc.IntegrityError as error:
            # The same id inserted by a concurrent process between our check and our insert.
            with self._reading() as connection:
                if sql_approvals.request_exists(connection, request.id):
                    raise rules.duplicate_request(request.id) from error
            raise _unrecordable(f"approval request {request.id}", error) from error

    def get_request(self, id_or_prefix: str) -> ApprovalRequest | None:
        with self._reading() as connection:
            return sql_approvals.find_request(connection, id_or_prefix.strip())

    def requests(
        self,
        *,
        env: str | None = None,
        digest: str | None = None,
        states: Sequence[RequestState] | None = None,
        limit: int | None = 50,
    ) -> list[ApprovalRequest]:
        with self._reading() as connection:
            return sql_approvals.list_requests(
                connection, env=env, digest=digest, states=states, limit=limit
            )

    def add_decision(self, request_id: str, decision: ApprovalDecision) -> ApprovalRequest:
        decision = self._clean(decision)
        try:
            with self._writing() as connection:
                sql_approvals.append_decision(connection, request_id, decision)
                return sql_approvals.load_request(connection, request_id)
        except sa.exc.IntegrityError as error:
            # Only without the row lock's protection: the unique (request, reviewer) held.
            with self._reading() as connection:
                if sql_approvals.has_decided(connection, request_id, decision.reviewer):
                    raise rules.already_decided(decision.reviewer, request_id) from error
            raise _unrecordable(f"{decision.reviewer}'s decision", error) from error

    def set_request_state(
        self, request_id: str, state: RequestState, *, consumed_by: str | None = None
    ) -> ApprovalRequest:
        wanted = rules.request_move(request_id, state, consumed_by)
        with self._writing() as connection:
            sql_approvals.move_request(connection, request_id, wanted, consumed_by=consumed_by)
            return sql_approvals.load_request(connection, request_id)

    # --- the audit trail (DESIGN §5.7) ---------------------------------------------------
    def append_audit(self, make: Callable[[AuditEvent | None], AuditEvent]) -> AuditEvent:
        for _ in range(_AUDIT_ATTEMPTS):
            event: AuditEvent | None = None
            try:
                with self._writing() as connection:
                    sql_audit.serialise_appenders(connection)
                    last = sql_audit.last_event(connection)
                    event = make(last)
                    sql_audit.insert_event(connection, rules.audit_event(event, last))
                return event
            except sa.exc.IntegrityError as error:
                if event is None or not self._audit_seq_taken(event.seq):
                    raise _unrecordable("an audit event", error) from error
                # A concurrent appender took this seq: re-read and re-make.
        raise LedgerError(
            f"could not append to the audit trail: {_AUDIT_ATTEMPTS} attempts in a row lost "
            "their place to other writers",
            hint="many processes are writing to this ledger at once; try again",
        )

    def audit_head(self) -> AuditEvent | None:
        with self._reading() as connection:
            return sql_audit.last_event(connection)

    def audit_events(
        self, *, env: str | None = None, since_seq: int | None = None
    ) -> list[AuditEvent]:
        with self._reading() as connection:
            return sql_audit.events(connection, env=env, since_seq=since_seq)

    def _audit_seq_taken(self, seq: int) -> bool:
        with self._reading() as connection:
            return sql_audit.seq_taken(connection, seq)


# --- queries ------------------------------------------------------------------------------
def _unrecordable(what: str, error: sa.exc.IntegrityError) -> LedgerError:
    """A constraint the code did not expect to meet: a bug, said plainly."""
    return LedgerError(
        f"the ledger refused {what}: {str(error.orig).strip()}",
        hint="this is a bug in lambda-promote; please report it with this message",
    )


def _insert_checks(
    connection: Connection, deployment_id: str, values: list[dict[str, Any]]
) -> None:
    if values:
        connection.execute(
            sa.insert(check_results), [{**row, "deployment_id": deployment_id} for row in values]
        )


def _load_full(connection: Connection, deployment_id: str) -> Deployment:
    row = connection.execute(sa.select(deployments).where(deployments.c.id == deployment_id)).one()
    deployment = rows.deployment(row)
    deployment.transitions = [
        Transition(state=DeploymentState(t.state), at=t.at, note=t.note)
        for t in connection.execute(
            sa.select(transitions)
            .where(transitions.c.deployment_id == deployment_id)
            .order_by(transitions.c.seq)
        )
    ]
    deployment.checks = [
        rows.check(c)
        for c in connection.execute(
            sa.select(check_results)
            .where(check_results.c.deployment_id == deployment_id)
            .order_by(check_results.c.seq)
        )
    ]
    return deployment


if TYPE_CHECKING:

    def _implements_the_protocol(ledger: SqlLedger) -> Ledger:
        return ledger
