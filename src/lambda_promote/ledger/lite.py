"""The ``Ledger`` protocol of ``base.py`` over a SQLite file with the standard library
(``lite_db.py``), so deploy, rollback and status never import SQLAlchemy. It is the SQL
ledger's twin: the same statements as ``sql.py``, ``sql_approvals.py`` and ``sql_audit.py``,
the same rules (``rules.py``), the same rows (``rows.py``), and the same contract suite
(tests/ledger_fixtures.py runs every contract test against both).

Every method is one short transaction; a write starts with ``BEGIN IMMEDIATE``, so a
transition is durable before the side effect it announces. The environment lock is a row
keyed by the environment: inserting it is the atomic test-and-set. Consuming an approval is a
conditional ``UPDATE … WHERE state = 'open'``. The audit trail is append-only; its seq is the
primary key, so two appenders cannot both insert the same place.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from lambda_promote.errors import LedgerError
from lambda_promote.ledger import lite_requests, rows, rules, scrub
from lambda_promote.ledger.base import Ledger, LockInfo
from lambda_promote.ledger.lite_db import (
    LiteDatabase,
    Transaction,
    listing,
    migrations_head,
    placeholders,
)
from lambda_promote.ledger.scrub import Record
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
_LIVE = sorted(state.value for state in DeploymentState if not state.terminal)
_LOCK_ATTEMPTS = 3  # as sql.py: a lock that vanishes between our insert and our read
_AUDIT_ATTEMPTS = 5  # as sql.py: an append that lost its seq re-reads and re-makes
_DEPLOYMENT_SEQ = "seq:SELECT coalesce(max(seq), 0) + 1 FROM deployments"


def open_current(
    path: Path, *, clock: Clock = rules.now_utc, redactor: Redactor | None = None
) -> LiteLedger | None:
    """The ledger in ``path`` when the file exists, can be written here and its schema is at
    the migrations' head; None otherwise — a new or older file is for ``migrate.py`` to create
    or upgrade, and a read-only one for ``access.py`` to read as a snapshot."""
    if not (path.is_file() and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        return None
    try:
        database = LiteDatabase(path)
    except (LedgerError, sqlite3.Error):
        return None
    try:
        if database.revision() != migrations_head():
            database.close()
            return None
        database.load_types()
    except (LedgerError, sqlite3.Error):
        database.close()
        return None
    return LiteLedger(database, clock=clock, redactor=redactor)


class LiteLedger:
    """``Ledger`` over one SQLite file; ``close()`` (or ``with``) closes it."""

    schema_upgraded = False  # opened only at the head (see open_current)

    def __init__(
        self,
        database: LiteDatabase,
        *,
        clock: Clock = rules.now_utc,
        redactor: Redactor | None = None,
    ) -> None:
        self._db = database
        self._clock = clock
        # Nothing secret is stored (scrub.py): every record passes here first, as in sql.py.
        self.redactor = redactor if redactor is not None else Redactor.from_environ(os.environ)

    def _clean(self, record: Record) -> Record:
        return scrub.scrubbed(record, self.redactor)

    @property
    def url(self) -> str:
        return self._db.shown

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LiteLedger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- releases -------------------------------------------------------------------------
    def record_artifact(self, artifact: Artifact) -> None:
        row = rows.artifact_row(artifact)
        try:
            with self._db.writing() as tx:
                if _exists(tx, "artifacts", "digest", artifact.digest):
                    return  # the same digest is the same bytes: the first record stands
                tx.insert("artifacts", row)
        except sqlite3.IntegrityError:
            with self._db.reading() as tx:
                if not _exists(tx, "artifacts", "digest", artifact.digest):
                    raise

    def find_artifact(self, digest_or_prefix: str) -> Artifact | None:
        key = digest_or_prefix.strip().lower()
        with self._db.reading() as tx:
            digest = resolve(tx, "artifacts", "digest", key, noun="artifact")
            found = None if digest is None else tx.row("artifacts", "WHERE digest = ?", [digest])
        return None if found is None else rows.artifact(found)

    # --- deployments ----------------------------------------------------------------------
    def create_deployment(self, deployment: Deployment) -> Deployment:
        deployment = self._clean(deployment)
        created = rules.utc(deployment.created_at) if deployment.created_at else self._clock()
        updated = rules.utc(deployment.updated_at) if deployment.updated_at else created
        row = rows.deployment_row(deployment, created=created, updated=updated)
        first_checks = rows.check_rows(deployment.checks, first_seq=1)
        try:
            with self._db.writing() as tx:
                if _exists(tx, "deployments", "id", deployment.id):
                    raise rules.duplicate_deployment(deployment.id)
                tx.insert("deployments", row, extra=_DEPLOYMENT_SEQ)
                first = {"deployment_id": deployment.id, "seq": 1, "state": row["state"]}
                tx.insert("transitions", {**first, "at": created, "note": ""})
                _insert_checks(tx, deployment.id, first_checks)
                return _load_full(tx, deployment.id)
        except sqlite3.IntegrityError as error:
            raise rules.duplicate_deployment(deployment.id) from error

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
        values = {"state": state.value, "updated_at": at, **changes}
        assignments = ", ".join(f'"{name}" = ?' for name in values)
        with self._db.writing() as tx:
            # Conditional on "not finished yet", so two writers cannot both end a deployment.
            moved = tx.run(
                f"UPDATE deployments SET {assignments} WHERE id = ? "
                f"AND state NOT IN ({placeholders(_TERMINAL)})",
                [*values.values(), deployment_id, *_TERMINAL],
            )
            if moved == 0:
                current = tx.one("SELECT state FROM deployments WHERE id = ?", [deployment_id])
                if current is None:
                    raise rules.unknown_deployment(deployment_id)
                raise rules.terminal_refusal(deployment_id, DeploymentState(current[0]), state)
            seq = next_seq(tx, "transitions", "deployment_id", deployment_id)
            tx.insert(
                "transitions",
                {
                    "deployment_id": deployment_id,
                    "seq": seq,
                    "state": state.value,
                    "at": at,
                    "note": note,
                },
            )
            return _load_full(tx, deployment_id)

    def add_checks(self, deployment_id: str, results: Sequence[CheckResult]) -> None:
        new_rows = rows.check_rows([self._clean(r) for r in results], first_seq=1)
        with self._db.writing() as tx:
            if not _exists(tx, "deployments", "id", deployment_id):
                raise rules.unknown_deployment(deployment_id)
            offset = next_seq(tx, "check_results", "deployment_id", deployment_id) - 1
            for row in new_rows:
                row["seq"] += offset
            _insert_checks(tx, deployment_id, new_rows)

    def get_deployment(self, id_or_prefix: str) -> Deployment | None:
        key = id_or_prefix.strip()
        with self._db.reading() as tx:
            found = resolve(tx, "deployments", "id", key, noun="deployment")
            return None if found is None else _load_full(tx, found)

    def deployments(
        self,
        env: str | None = None,
        *,
        states: Sequence[DeploymentState] | None = None,
        since: datetime | None = None,
        limit: int | None = 50,
    ) -> list[Deployment]:
        sql, params = listing(
            equal=[("env", env)],
            state_in=None if states is None else [DeploymentState(s).value for s in states],
            newest_by="created_at",
            since=since,
            limit=limit,
        )
        with self._db.reading() as tx:
            return [rows.deployment(row) for row in tx.rows("deployments", sql, params)]

    def unfinished(self, env: str) -> list[Deployment]:
        return self.deployments(env, states=[DeploymentState(s) for s in _LIVE], limit=None)

    # --- per-environment lock (DESIGN §5.6) -----------------------------------------------
    def acquire_lock(self, env: str, *, holder: str, deployment_id: str) -> None:
        for _ in range(_LOCK_ATTEMPTS):
            try:
                with self._db.writing() as tx:
                    tx.insert(
                        "locks",
                        {
                            "env": env,
                            "holder": holder,
                            "deployment_id": deployment_id,
                            "since": self._clock(),
                        },
                    )
                return
            except sqlite3.IntegrityError:
                current = self.lock_info(env)
                if current is not None:
                    raise rules.locked(current) from None
        raise LedgerError(
            f"could not take the lock of {env}: it was taken and released repeatedly",
            hint="another process is deploying to it in a loop; try again",
        )

    def release_lock(self, env: str, deployment_id: str) -> None:
        with self._db.writing() as tx:
            tx.run("DELETE FROM locks WHERE env = ? AND deployment_id = ?", [env, deployment_id])

    def lock_info(self, env: str) -> LockInfo | None:
        with self._db.reading() as tx:
            row = tx.row("locks", "WHERE env = ?", [env])
        return None if row is None else rows.lock(row)

    def break_lock(self, env: str, deployment_id: str) -> LockInfo:
        with self._db.writing() as tx:
            row = tx.row("locks", "WHERE env = ?", [env])
            current = None if row is None else rows.lock(row)
            if current is None or current.deployment_id != deployment_id:
                raise rules.no_such_lock(env, deployment_id, current)
            tx.run("DELETE FROM locks WHERE env = ? AND deployment_id = ?", [env, deployment_id])
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
            with self._db.writing() as tx:
                lite_requests.insert_request(tx, row, decisions)
                return lite_requests.load_request(tx, request.id)
        except sqlite3.IntegrityError as error:
            with self._db.reading() as tx:
                if _exists(tx, "approval_requests", "id", request.id):
                    raise rules.duplicate_request(request.id) from error
            raise _unrecordable(f"approval request {request.id}", error) from error

    def get_request(self, id_or_prefix: str) -> ApprovalRequest | None:
        key = id_or_prefix.strip()
        with self._db.reading() as tx:
            found = resolve(tx, "approval_requests", "id", key, noun="approval request")
            return None if found is None else lite_requests.load_request(tx, found)

    def requests(
        self,
        *,
        env: str | None = None,
        digest: str | None = None,
        states: Sequence[RequestState] | None = None,
        limit: int | None = 50,
    ) -> list[ApprovalRequest]:
        with self._db.reading() as tx:
            return lite_requests.list_requests(
                tx, env=env, digest=digest, states=states, limit=limit
            )

    def add_decision(self, request_id: str, decision: ApprovalDecision) -> ApprovalRequest:
        decision = self._clean(decision)
        try:
            with self._db.writing() as tx:
                lite_requests.append_decision(tx, request_id, decision)
                return lite_requests.load_request(tx, request_id)
        except sqlite3.IntegrityError as error:
            with self._db.reading() as tx:
                if lite_requests.has_decided(tx, request_id, decision.reviewer):
                    raise rules.already_decided(decision.reviewer, request_id) from error
            raise _unrecordable(f"{decision.reviewer}'s decision", error) from error

    def set_request_state(
        self, request_id: str, state: RequestState, *, consumed_by: str | None = None
    ) -> ApprovalRequest:
        wanted = rules.request_move(request_id, state, consumed_by)
        with self._db.writing() as tx:
            lite_requests.move_request(tx, request_id, wanted, consumed_by=consumed_by)
            return lite_requests.load_request(tx, request_id)

    # --- the audit trail (DESIGN §5.7) ---------------------------------------------------
    def append_audit(self, make: Callable[[AuditEvent | None], AuditEvent]) -> AuditEvent:
        for _ in range(_AUDIT_ATTEMPTS):
            event: AuditEvent | None = None
            try:
                with self._db.writing() as tx:  # BEGIN IMMEDIATE: appenders take turns
                    last = _last_event(tx)
                    event = make(last)
                    tx.insert("audit_events", rules.audit_event(event, last))
                return event
            except sqlite3.IntegrityError as error:
                if event is None or not self._audit_seq_taken(event.seq):
                    raise _unrecordable("an audit event", error) from error
        raise LedgerError(
            f"could not append to the audit trail: {_AUDIT_ATTEMPTS} attempts in a row lost "
            "their place to other writers",
            hint="many processes are writing to this ledger at once; try again",
        )

    def audit_head(self) -> AuditEvent | None:
        with self._db.reading() as tx:
            return _last_event(tx)

    def audit_events(
        self, *, env: str | None = None, since_seq: int | None = None
    ) -> list[AuditEvent]:
        where: list[str] = []
        params: list[object] = []
        if env is not None:
            where.append("env = ?")
            params.append(env)
        if since_seq is not None:
            where.append("seq > ?")
            params.append(since_seq)
        sql = ("WHERE " + " AND ".join(where)) if where else ""
        with self._db.reading() as tx:
            found = tx.rows("audit_events", sql + " ORDER BY seq", params)
        return [rows.audit_event(row) for row in found]

    def _audit_seq_taken(self, seq: int) -> bool:
        with self._db.reading() as tx:
            return tx.one("SELECT seq FROM audit_events WHERE seq = ?", [seq]) is not None


# --- lookups inside a transaction -----------------------------------------------------------
def _exists(tx: Transaction, table: str, column: str, key: str) -> bool:
    return tx.one(f'SELECT 1 FROM {table} WHERE "{column}" = ?', [key]) is not None


def resolve(tx: Transaction, table: str, column: str, key: str, *, noun: str) -> str | None:
    """The full key named by ``key``: itself when it exists, else the one it prefixes."""
    if _exists(tx, table, column, key):
        return key
    if not rules.usable_prefix(key):
        return None
    # substr, not LIKE: LIKE is case-insensitive on SQLite and treats _ and % as wildcards.
    matches = tx.all(
        f'SELECT "{column}" FROM {table} WHERE substr("{column}", 1, ?) = ? '
        f'ORDER BY "{column}" LIMIT ?',
        [len(key), key, rules.SHOWN_CANDIDATES + 1],
    )
    return rules.pick_unique(key, [m[0] for m in matches], noun=noun)


def next_seq(tx: Transaction, table: str, parent: str, key: str) -> int:
    """One more than the highest ``seq`` of the rows whose ``parent`` column is ``key``."""
    found = tx.one(f'SELECT coalesce(max(seq), 0) FROM {table} WHERE "{parent}" = ?', [key])
    return int(found[0] if found else 0) + 1


def _insert_checks(tx: Transaction, deployment_id: str, values: list[dict[str, Any]]) -> None:
    for row in values:
        tx.insert("check_results", {**row, "deployment_id": deployment_id})


def _load_full(tx: Transaction, deployment_id: str) -> Deployment:
    deployment = rows.deployment(tx.row("deployments", "WHERE id = ?", [deployment_id]))
    deployment.transitions = [
        Transition(state=DeploymentState(t.state), at=t.at, note=t.note)
        for t in tx.rows("transitions", "WHERE deployment_id = ? ORDER BY seq", [deployment_id])
    ]
    deployment.checks = [
        rows.check(c)
        for c in tx.rows("check_results", "WHERE deployment_id = ? ORDER BY seq", [deployment_id])
    ]
    return deployment


def _last_event(tx: Transaction) -> AuditEvent | None:
    row = tx.row("audit_events", "ORDER BY seq DESC LIMIT 1")
    return None if row is None else rows.audit_event(row)


def _unrecordable(what: str, error: sqlite3.IntegrityError) -> LedgerError:
    """A constraint the code did not expect to meet: a bug, said plainly."""
    return LedgerError(
        f"the ledger refused {what}: {str(error).strip()}",
        hint="this is a bug in lambda-promote; please report it with this message",
    )


if TYPE_CHECKING:

    def _implements_the_protocol(ledger: LiteLedger) -> Ledger:
        return ledger
