"""Fakes implementing the tool's protocols, for unit tests of the code that uses them.

``MemoryLedger`` is the ``Ledger`` of ``lambda_promote.ledger.base`` in memory. It applies the
same rules as ``SqlLedger`` (``lambda_promote.ledger.rules``): the same errors, the same
ordering, JSON values copied through JSON text, times required timezone-aware and returned in
UTC, one decision per reviewer, one consumer per approval request, audit events stored only
as the next seq. The contract suites in tests/integration/test_ledger.py and
test_ledger_gate.py run against both, so a test that passes here would pass against a real
database.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lambda_promote.ledger import rules
from lambda_promote.ledger.base import LockInfo
from lambda_promote.model import (
    ApprovalDecision,
    ApprovalRequest,
    Artifact,
    AuditEvent,
    CheckResult,
    Deployment,
    DeploymentKind,
    DeploymentState,
    RequestState,
    Transition,
)


@dataclass
class _StoredDeployment:
    deployment: Deployment  # without transitions/checks; rollback kept as JSON text below
    seq: int
    rollback_json: str | None
    # The configurations, as JSON text like SQL's columns (a caller's dict is never shared).
    configuration_json: str | None = None
    release_json: str | None = None
    functions_json: str | None = None
    transitions: list[Transition] = field(default_factory=list)
    checks: list[tuple[CheckResult, str | None]] = field(default_factory=list)


@dataclass
class _StoredRequest:
    request: ApprovalRequest  # without decisions; evidence kept as JSON text below
    seq: int
    evidence_json: str
    decisions: list[ApprovalDecision] = field(default_factory=list)


class MemoryLedger:
    """``Ledger`` in memory; ``clock`` gives the time of transitions and locks. Approval and
    audit writes hold a lock, so threads racing for one request see one winner, as on SQL."""

    def __init__(self, *, clock: Callable[[], datetime] = rules.now_utc) -> None:
        self._read_clock = clock
        self._artifacts: dict[str, Artifact] = {}
        self._deployments: dict[str, _StoredDeployment] = {}
        self._locks: dict[str, LockInfo] = {}
        self._seq = 0
        self._requests: dict[str, _StoredRequest] = {}
        self._audit: list[dict[str, Any]] = []  # rows as SqlLedger stores them
        self._guard = threading.RLock()  # reentrant: append_audit's ``make`` may read
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def _clock(self) -> datetime:
        return rules.utc(self._read_clock())  # kept in UTC, as the SQL columns are

    def __enter__(self) -> MemoryLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- releases -------------------------------------------------------------------------
    def record_artifact(self, artifact: Artifact) -> None:
        files = rules.load_json(
            rules.dump_json(list(artifact.files), what="the artifact's file list")
        )
        built_at = None if artifact.built_at is None else rules.utc(artifact.built_at)
        committed = artifact.committed_at
        self._artifacts.setdefault(
            artifact.digest,
            dataclasses.replace(
                artifact,
                files=tuple(files),
                built_at=built_at,
                committed_at=None if committed is None else rules.utc(committed),
            ),
        )

    def find_artifact(self, digest_or_prefix: str) -> Artifact | None:
        key = digest_or_prefix.strip().lower()
        found = self._resolve(self._artifacts, key, noun="artifact")
        return None if found is None else self._artifacts[found]

    # --- deployments ----------------------------------------------------------------------
    def create_deployment(self, deployment: Deployment) -> Deployment:
        created = rules.utc(deployment.created_at) if deployment.created_at else self._clock()
        updated = rules.utc(deployment.updated_at) if deployment.updated_at else created
        rollback_json = rules.dump_json(deployment.rollback, what="the rollback")
        configuration_json = rules.dump_json(deployment.configuration, what="the configuration")
        release_json = rules.dump_json(
            deployment.release_configuration, what="the release configuration"
        )
        functions_json = rules.dump_json(deployment.functions, what="the functions")
        checks = [self._check_entry(result) for result in deployment.checks]
        if deployment.id in self._deployments:
            raise rules.duplicate_deployment(deployment.id)
        state = DeploymentState(deployment.state)
        stored = dataclasses.replace(
            deployment,
            state=state,
            kind=DeploymentKind(deployment.kind),
            created_at=created,
            updated_at=updated,
            transitions=[],
            checks=[],
            rollback=None,
            configuration=None,
            release_configuration=None,
            functions=None,
        )
        self._seq += 1
        self._deployments[deployment.id] = _StoredDeployment(
            deployment=stored,
            seq=self._seq,
            rollback_json=rollback_json,
            configuration_json=configuration_json,
            release_json=release_json,
            functions_json=functions_json,
            transitions=[Transition(state=state, at=created, note="")],
            checks=checks,
        )
        return self._full(deployment.id)

    def transition(
        self, deployment_id: str, state: DeploymentState, *, note: str = "", **fields: Any
    ) -> Deployment:
        state = DeploymentState(state)
        changes = rules.transition_fields(fields)
        rollback_json = (
            rules.dump_json(changes.pop("rollback"), what="the rollback")
            if "rollback" in changes
            else None
        )
        functions_json = (
            rules.dump_json(changes.pop("functions"), what="the functions")
            if "functions" in changes
            else None
        )
        stored = self._deployments.get(deployment_id)
        if stored is None:
            raise rules.unknown_deployment(deployment_id)
        if stored.deployment.state.terminal:
            raise rules.terminal_refusal(deployment_id, stored.deployment.state, state)
        if "rollback" in fields:
            stored.rollback_json = rollback_json
        if "functions" in fields:
            stored.functions_json = functions_json
        at = self._clock()
        stored.deployment = dataclasses.replace(
            stored.deployment, state=state, updated_at=at, **changes
        )
        stored.transitions.append(Transition(state=state, at=at, note=note))
        return self._full(deployment_id)

    def add_checks(self, deployment_id: str, results: Sequence[CheckResult]) -> None:
        entries = [self._check_entry(result) for result in results]
        stored = self._deployments.get(deployment_id)
        if stored is None:
            raise rules.unknown_deployment(deployment_id)
        stored.checks.extend(entries)

    def get_deployment(self, id_or_prefix: str) -> Deployment | None:
        found = self._resolve(self._deployments, id_or_prefix.strip(), noun="deployment")
        return None if found is None else self._full(found)

    def deployments(
        self,
        env: str | None = None,
        *,
        states: Sequence[DeploymentState] | None = None,
        since: datetime | None = None,
        limit: int | None = 50,
    ) -> list[Deployment]:
        wanted = None if states is None else {DeploymentState(s) for s in states}
        chosen = [
            stored
            for stored in self._deployments.values()
            if (env is None or stored.deployment.env == env)
            and (wanted is None or stored.deployment.state in wanted)
            and (since is None or stored.deployment.created_at >= since)
        ]
        chosen.sort(key=lambda s: (s.deployment.created_at, s.seq, s.deployment.id), reverse=True)
        if limit is not None:
            chosen = chosen[:limit]
        return [self._summary(stored) for stored in chosen]

    def unfinished(self, env: str) -> list[Deployment]:
        live = [state for state in DeploymentState if not state.terminal]
        return self.deployments(env, states=live, limit=None)

    # --- per-environment lock -------------------------------------------------------------
    def acquire_lock(self, env: str, *, holder: str, deployment_id: str) -> None:
        current = self._locks.get(env)
        if current is not None:
            raise rules.locked(current)
        self._locks[env] = LockInfo(
            env=env, holder=holder, deployment_id=deployment_id, since=self._clock()
        )

    def release_lock(self, env: str, deployment_id: str) -> None:
        current = self._locks.get(env)
        if current is not None and current.deployment_id == deployment_id:
            del self._locks[env]

    def lock_info(self, env: str) -> LockInfo | None:
        return self._locks.get(env)

    def break_lock(self, env: str, deployment_id: str) -> LockInfo:
        current = self._locks.get(env)
        if current is None or current.deployment_id != deployment_id:
            raise rules.no_such_lock(env, deployment_id, current)
        del self._locks[env]
        return current

    # --- approval requests ----------------------------------------------------------------
    def create_request(self, request: ApprovalRequest) -> ApprovalRequest:
        evidence = rules.evidence_json(request.evidence, request_id=request.id)
        stored = dataclasses.replace(
            request,
            requested_at=rules.utc(request.requested_at),
            expires_at=rules.utc(request.expires_at),
            state=RequestState(request.state),
            decisions=[],
            evidence={},
        )
        decisions = [_decision_copy(d) for d in rules.distinct_decisions(request)]
        with self._guard:
            if request.id in self._requests:
                raise rules.duplicate_request(request.id)
            self._seq += 1
            self._requests[request.id] = _StoredRequest(stored, self._seq, evidence, decisions)
        return self._request(request.id)

    def get_request(self, id_or_prefix: str) -> ApprovalRequest | None:
        found = self._resolve(self._requests, id_or_prefix.strip(), noun="approval request")
        return None if found is None else self._request(found)

    def requests(
        self,
        *,
        env: str | None = None,
        digest: str | None = None,
        states: Sequence[RequestState] | None = None,
        limit: int | None = 50,
    ) -> list[ApprovalRequest]:
        wanted = None if states is None else {RequestState(s) for s in states}
        chosen = [
            stored
            for stored in self._requests.values()
            if (env is None or stored.request.env == env)
            and (digest is None or stored.request.digest == digest)
            and (wanted is None or stored.request.state in wanted)
        ]
        chosen.sort(key=lambda s: (s.request.requested_at, s.seq, s.request.id), reverse=True)
        return [self._request(s.request.id) for s in chosen[:limit]]

    def add_decision(self, request_id: str, decision: ApprovalDecision) -> ApprovalRequest:
        with self._guard:
            stored = self._requests.get(request_id)
            if stored is None:
                raise rules.unknown_request(request_id)
            if stored.request.state is not RequestState.OPEN:
                raise rules.closed_request(request_id, stored.request.state)
            if any(d.reviewer == decision.reviewer for d in stored.decisions):
                raise rules.already_decided(decision.reviewer, request_id)
            stored.decisions.append(_decision_copy(decision))
        return self._request(request_id)

    def set_request_state(
        self, request_id: str, state: RequestState, *, consumed_by: str | None = None
    ) -> ApprovalRequest:
        wanted = rules.request_move(request_id, state, consumed_by)
        with self._guard:
            stored = self._requests.get(request_id)
            if stored is None:
                raise rules.unknown_request(request_id)
            current = stored.request
            if current.state is not RequestState.OPEN:
                raise rules.refused_move(
                    request_id, current.state, wanted, consumed_by=current.consumed_by
                )
            stored.request = dataclasses.replace(current, state=wanted, consumed_by=consumed_by)
        return self._request(request_id)

    # --- the audit trail ------------------------------------------------------------------
    def append_audit(self, make: Callable[[AuditEvent | None], AuditEvent]) -> AuditEvent:
        with self._guard:
            last = _audit_event(self._audit[-1]) if self._audit else None
            event = make(last)
            self._audit.append(rules.audit_event(event, last))
        return event

    def audit_head(self) -> AuditEvent | None:
        return _audit_event(self._audit[-1]) if self._audit else None

    def audit_events(
        self, *, env: str | None = None, since_seq: int | None = None
    ) -> list[AuditEvent]:
        return [
            _audit_event(row)
            for row in self._audit
            if (env is None or row["env"] == env) and (since_seq is None or row["seq"] > since_seq)
        ]

    # --- the same lookups and copies as SqlLedger -----------------------------------------
    @staticmethod
    def _resolve(table: dict[str, Any], key: str, *, noun: str) -> str | None:
        if key in table:
            return key
        if not rules.usable_prefix(key):
            return None
        matches = sorted(k for k in table if k.startswith(key))
        return rules.pick_unique(key, matches[: rules.SHOWN_CANDIDATES + 1], noun=noun)

    @staticmethod
    def _check_entry(result: CheckResult) -> tuple[CheckResult, str | None]:
        response = rules.dump_json(result.response, what=f"the response of check {result.name!r}")
        plain = dataclasses.replace(
            result, ok=bool(result.ok), latency_ms=float(result.latency_ms), response=None
        )
        return plain, response

    def _summary(self, stored: _StoredDeployment) -> Deployment:
        return dataclasses.replace(
            stored.deployment,
            transitions=[],
            checks=[],
            rollback=rules.load_json(stored.rollback_json),
            configuration=rules.load_json(stored.configuration_json),
            release_configuration=rules.load_json(stored.release_json),
            functions=rules.load_json(stored.functions_json),
        )

    def _full(self, deployment_id: str) -> Deployment:
        stored = self._deployments[deployment_id]
        deployment = self._summary(stored)
        deployment.transitions = list(stored.transitions)
        deployment.checks = [
            dataclasses.replace(check, response=rules.load_json(response))
            for check, response in stored.checks
        ]
        return deployment

    def _request(self, request_id: str) -> ApprovalRequest:
        stored = self._requests[request_id]
        return dataclasses.replace(
            stored.request,
            decisions=list(stored.decisions),
            evidence=rules.load_json(stored.evidence_json),
        )


def _decision_copy(decision: ApprovalDecision) -> ApprovalDecision:
    return dataclasses.replace(decision, approve=bool(decision.approve), at=rules.utc(decision.at))


def _audit_event(row: dict[str, Any]) -> AuditEvent:
    """As SqlLedger reads a row back: the time in UTC, the details parsed from their text."""
    return AuditEvent(
        **{**row, "at": rules.utc(row["at"]), "details": rules.audit_details(row["details"])}
    )
