"""The ledger in one DynamoDB table (DESIGN §11.6): the ``Ledger`` protocol of ``base.py``
for ``state: dynamodb://TABLE?region=REGION``, so a team's CI runners and laptops share one
history, one set of approvals and one audit chain with nothing but AWS access.

Single-table design (keys in ``dynamo_codec``; every read below is one bounded round trip
per page, never a scan):

    access pattern                          how
    artifact / deployment / request by id   GetItem / Query on pk (consistent)
    … by a prefix of ≥ 4 characters         GSI by_prefix: ppk = KIND#first-4, begins_with(psk)
    a deployment with transitions, checks   Query pk = D#id (one partition, in order)
    history per env, newest first, paged    GSI by_env: epk = deployment#ENV, esk descending
    history of all envs                     GSI by_kind: kpk = deployment, ksk descending
    in-flight deployments of an env         GSI live (sparse): lpk = deployment#ENV
    pending approvals                       GSI live (sparse): lpk = request#open
    requests of an env / of all             GSI by_env / by_kind with kind request
    the lock of an env                      GetItem L#ENV
    the audit trail, in order / after seq   Query pk = AUDIT, sk between E#… (consistent)
    the chain head                          Query pk = AUDIT, begins_with E#, descending, 1

The invariants of §5 by DynamoDB's own means:

- the environment lock is a conditional put (``attribute_not_exists``): one winner; the
  loser is told the holder (actor@host:pid), its deployment and since when, and a stale lock
  is broken only by naming its deployment (a conditional delete), as on SQL;
- a transition is a transaction: the deployment's item changes only if it is not finished
  and nobody moved it since we read it, together with the new transition's item;
- an approval decision is one conditional update (open, and this reviewer not in the
  request's ``reviewers`` set); consuming a request is one conditional update on ``open``;
- an audit event is appended in a transaction with the chain head's item, conditional on
  the head still being the event the new one was made from: two writers never fork the
  chain; the loser re-reads the new head and makes its event again (as ``sql.py`` does).

Index reads (history, pending approvals, prefixes) are eventually consistent in DynamoDB:
a record written a moment ago by another runner may show a moment later. Everything a
decision rests on — the lock, a request's state, the chain head, a deployment by id — is
read or written with consistency. Every record is scrubbed of secrets before it is stored
(``scrub.py``), exactly as on SQL.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from lambda_promote.errors import LedgerError
from lambda_promote.ledger import dynamo_audit, dynamo_requests, rules, scrub
from lambda_promote.ledger import dynamo_codec as codec
from lambda_promote.ledger import dynamo_items as items
from lambda_promote.ledger.base import Ledger, LockInfo
from lambda_promote.ledger.dynamo_codec import ARTIFACT, DEPLOYMENT
from lambda_promote.ledger.dynamo_table import DynamoTable, cancel_reasons, conditional_failure
from lambda_promote.ledger.dynamo_url import DynamoLocation, parse_dynamodb
from lambda_promote.model import (
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
_LIVE = frozenset(s for s in DeploymentState if not s.terminal)
_ATTEMPTS = 5  # optimistic writes that lose to a concurrent writer re-read this often
_MAX_ACTIONS = 100  # TransactWriteItems' limit


def open_ledger(
    url: str, *, clock: Clock = rules.now_utc, redactor: Redactor | None = None, client: Any = None
) -> DynamoLedger:
    """The ledger in the table ``url`` names. Nothing is read or created now: a missing
    table is reported by the first call (exit 2, hint ``lambda-promote state init``)."""
    return DynamoLedger(
        DynamoTable(parse_dynamodb(url), client=client), clock=clock, redactor=redactor
    )


class DynamoLedger:
    """``Ledger`` over one DynamoDB table."""

    def __init__(
        self, table: DynamoTable, *, clock: Clock = rules.now_utc, redactor: Redactor | None = None
    ) -> None:
        self.table = table
        self._read_clock = clock
        self.redactor = redactor if redactor is not None else Redactor.from_environ(os.environ)

    @property
    def url(self) -> str:
        return self.table.shown

    @property
    def location(self) -> DynamoLocation:
        return self.table.where

    def close(self) -> None:
        """Nothing to release: boto3 clients hold no server-side state."""

    def __enter__(self) -> DynamoLedger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _clock(self) -> datetime:
        return rules.utc(self._read_clock())

    # --- releases -------------------------------------------------------------------------
    def record_artifact(self, artifact: Artifact) -> None:
        try:
            self.table.put(
                items.artifact_item(artifact), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if not conditional_failure(error):
                raise
            # The same digest is the same bytes: the first record stands.

    def find_artifact(self, digest_or_prefix: str) -> Artifact | None:
        found = self._resolve(ARTIFACT, digest_or_prefix.strip().lower(), noun="artifact")
        return None if found is None else items.artifact(found)

    def _resolve(self, kind: str, key: str, *, noun: str) -> dict[str, Any] | None:
        """The item ``key`` names: its own id, else the one id it is a prefix of."""
        exact = self.table.get(codec.key(kind, key)) if key else None
        if exact is not None or not rules.usable_prefix(key):
            return exact
        ids = [
            str(i["psk"])
            for i in self.table.query(
                index="by_prefix",
                limit=rules.SHOWN_CANDIDATES + 1,
                KeyConditionExpression="ppk = :p AND begins_with(psk, :k)",
                ExpressionAttributeValues={":p": codec.prefix_partition(kind, key), ":k": key},
            )
        ][: rules.SHOWN_CANDIDATES + 1]
        chosen = rules.pick_unique(key, ids, noun=noun)
        return None if chosen is None else self.table.get(codec.key(kind, chosen))

    # --- deployments ----------------------------------------------------------------------
    def create_deployment(self, deployment: Deployment) -> Deployment:
        deployment = scrub.scrubbed(deployment, self.redactor)
        created = rules.utc(deployment.created_at) if deployment.created_at else self._clock()
        updated = rules.utc(deployment.updated_at) if deployment.updated_at else created
        state = DeploymentState(deployment.state)
        stored = dataclasses.replace(
            deployment, state=state, created_at=created, updated_at=updated
        )
        first = Transition(state=state, at=created, note="")
        checks = list(deployment.checks)
        main = items.deployment_item(
            stored, seq=items.insertion_seq(), transitions=1, checks=len(checks)
        )
        children = [items.transition_item(deployment.id, 1, first)] + [
            items.check_item(deployment.id, seq, c) for seq, c in enumerate(checks, start=1)
        ]
        if len(children) + 1 > _MAX_ACTIONS:
            raise LedgerError(
                f"deployment {deployment.id} carries {len(checks)} check results; at most "
                f"{_MAX_ACTIONS - 2} can be recorded with it",
                hint="record further results with add_checks",
            )
        actions = [{"Put": {"Item": main, "ConditionExpression": "attribute_not_exists(pk)"}}]
        actions += [{"Put": {"Item": child}} for child in children]
        for _ in range(_ATTEMPTS):
            try:
                self.table.transact(actions)
                return self._load(deployment.id)
            except ClientError as error:
                if cancel_reasons(error)[:1] == ["ConditionalCheckFailed"]:
                    raise rules.duplicate_deployment(deployment.id) from None
                if not _lost(error):
                    raise
                # A concurrent transaction on the same items: DynamoDB asks us to try again.
        raise _lost_race(f"deployment {deployment.id}")

    def transition(
        self, deployment_id: str, state: DeploymentState, *, note: str = "", **fields: Any
    ) -> Deployment:
        state = DeploymentState(state)
        changes = scrub.scrubbed_fields(rules.transition_fields(fields), self.redactor)
        if "rollback" in changes:
            rules.dump_json(changes["rollback"], what="the rollback")
        note = self.redactor(note)
        for _ in range(_ATTEMPTS):
            item = self.table.get(codec.key(DEPLOYMENT, deployment_id))
            if item is None:
                raise rules.unknown_deployment(deployment_id)
            current = items.deployment(item)
            if current.state.terminal:
                raise rules.terminal_refusal(deployment_id, current.state, state)
            at = self._clock()
            moved = dataclasses.replace(current, **changes, state=state, updated_at=at)
            seq = int(item["transitions"]) + 1
            new_item = items.deployment_item(
                moved, seq=int(item["seq"]), transitions=seq, checks=int(item["checks"])
            )
            if self._replace(
                item,
                new_item,
                items.transition_item(
                    deployment_id, seq, Transition(state=state, at=at, note=note)
                ),
            ):
                return self._load(deployment_id)
        raise _lost_race(f"deployment {deployment_id}")

    def _replace(self, old: dict[str, Any], new: dict[str, Any], child: dict[str, Any]) -> bool:
        """``old`` becomes ``new`` with ``child`` beside it, unless someone changed it first."""
        try:
            self.table.transact(
                [
                    {
                        "Put": {
                            "Item": new,
                            "ConditionExpression": "#t = :t AND #c = :c",
                            "ExpressionAttributeNames": {"#t": "transitions", "#c": "checks"},
                            "ExpressionAttributeValues": {
                                ":t": old["transitions"],
                                ":c": old["checks"],
                            },
                        }
                    },
                    {"Put": {"Item": child, "ConditionExpression": "attribute_not_exists(pk)"}},
                ]
            )
        except ClientError as error:
            if not _lost(error):
                raise
            return False
        return True

    def add_checks(self, deployment_id: str, results: Sequence[CheckResult]) -> None:
        cleaned = [scrub.scrubbed(r, self.redactor) for r in results]
        for result in cleaned:  # refused before anything is written, as on SQL
            codec.dumps(result, what=f"the response of check {result.name!r}")
        for start in range(0, len(cleaned), _MAX_ACTIONS - 1):
            self._add_check_batch(deployment_id, cleaned[start : start + _MAX_ACTIONS - 1])

    def _add_check_batch(self, deployment_id: str, results: Sequence[CheckResult]) -> None:
        for _ in range(_ATTEMPTS):
            item = self.table.get(codec.key(DEPLOYMENT, deployment_id))
            if item is None:
                raise rules.unknown_deployment(deployment_id)
            first = int(item["checks"]) + 1
            actions: list[dict[str, Any]] = [
                {
                    "Update": {
                        "Key": codec.key(DEPLOYMENT, deployment_id),
                        "UpdateExpression": "SET #c = :n",
                        "ConditionExpression": "#c = :c",
                        "ExpressionAttributeNames": {"#c": "checks"},
                        "ExpressionAttributeValues": {
                            ":c": first - 1,
                            ":n": first - 1 + len(results),
                        },
                    }
                }
            ]
            actions += [
                {"Put": {"Item": items.check_item(deployment_id, seq, r)}}
                for seq, r in enumerate(results, start=first)
            ]
            try:
                self.table.transact(actions)
                return
            except ClientError as error:
                if not _lost(error):
                    raise
        raise _lost_race(f"the checks of deployment {deployment_id}")

    def get_deployment(self, id_or_prefix: str) -> Deployment | None:
        found = self._resolve(DEPLOYMENT, id_or_prefix.strip(), noun="deployment")
        return None if found is None else self._load(str(found["id"]))

    def _load(self, deployment_id: str) -> Deployment:
        partition = codec.key(DEPLOYMENT, deployment_id)["pk"]
        loaded = items.full_deployment(
            list(
                self.table.query(
                    KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": partition}
                )
            )
        )
        if loaded is None:
            raise rules.unknown_deployment(deployment_id)
        return loaded

    def deployments(
        self,
        env: str | None = None,
        *,
        states: Sequence[DeploymentState] | None = None,
        since: datetime | None = None,
        limit: int | None = 50,
    ) -> list[Deployment]:
        wanted = None if states is None else {DeploymentState(s) for s in states}
        if env is not None and wanted is not None and wanted <= _LIVE:
            index, (name, sort) = "live", ("lpk", "lsk")
        elif env is not None:
            index, (name, sort) = "by_env", ("epk", "esk")
        else:
            index, (name, sort) = "by_kind", ("kpk", "ksk")
        condition = f"{name} = :p"
        values = {":p": DEPLOYMENT if env is None else f"{DEPLOYMENT}#{env}"}
        if since is not None:
            # Sort keys start with the creation time: the window is a key condition.
            condition += f" AND {sort} >= :since"
            values[":since"] = codec.stamp(since)
        found = _newest(
            self.table.query(
                index=index,
                limit=_page(limit),
                ScanIndexForward=False,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
            ),
            keep=lambda item: wanted is None or DeploymentState(item["state"]) in wanted,
            limit=limit,
        )
        return [items.deployment(item) for item in found]

    def unfinished(self, env: str) -> list[Deployment]:
        return self.deployments(env, states=sorted(_LIVE), limit=None)

    # --- per-environment lock (DESIGN §5.6) -----------------------------------------------
    def acquire_lock(self, env: str, *, holder: str, deployment_id: str) -> None:
        for _ in range(_ATTEMPTS):
            try:
                self.table.put(
                    items.lock_item(
                        env, holder=holder, deployment_id=deployment_id, since=self._clock()
                    ),
                    ConditionExpression="attribute_not_exists(pk)",
                )
                return
            except ClientError as error:
                if not conditional_failure(error):
                    raise
            current = self.lock_info(env)
            if current is not None:
                raise rules.locked(current)
        raise LedgerError(
            f"could not take the lock of {env}: it was taken and released repeatedly",
            hint="another process is deploying to it in a loop; try again",
        )

    def release_lock(self, env: str, deployment_id: str) -> None:
        try:
            self.table.delete(
                codec.lock_key(env),
                ConditionExpression="deployment_id = :d",
                ExpressionAttributeValues={":d": deployment_id},
            )
        except ClientError as error:
            if not conditional_failure(error):
                raise  # held by another deployment, or not at all: a no-op

    def lock_info(self, env: str) -> LockInfo | None:
        item = self.table.get(codec.lock_key(env))
        return None if item is None else items.lock(item)

    def break_lock(self, env: str, deployment_id: str) -> LockInfo:
        try:
            old = self.table.delete(
                codec.lock_key(env),
                ConditionExpression="deployment_id = :d",
                ExpressionAttributeValues={":d": deployment_id},
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if not conditional_failure(error):
                raise
            raise rules.no_such_lock(env, deployment_id, self.lock_info(env)) from None
        return items.lock(old)

    # --- approval requests (DESIGN §5.2–5.3) ---------------------------------------------
    def create_request(self, request: ApprovalRequest) -> ApprovalRequest:
        return dynamo_requests.create(self.table, scrub.scrubbed(request, self.redactor))

    def get_request(self, id_or_prefix: str) -> ApprovalRequest | None:
        found = self._resolve(codec.REQUEST, id_or_prefix.strip(), noun="approval request")
        return None if found is None else items.request(found)

    def requests(
        self,
        *,
        env: str | None = None,
        digest: str | None = None,
        states: Sequence[RequestState] | None = None,
        limit: int | None = 50,
    ) -> list[ApprovalRequest]:
        return dynamo_requests.listed(
            self.table, env=env, digest=digest, states=states, limit=limit
        )

    def add_decision(self, request_id: str, decision: ApprovalDecision) -> ApprovalRequest:
        return dynamo_requests.decide(
            self.table, request_id, scrub.scrubbed(decision, self.redactor)
        )

    def set_request_state(
        self, request_id: str, state: RequestState, *, consumed_by: str | None = None
    ) -> ApprovalRequest:
        wanted = rules.request_move(request_id, state, consumed_by)
        return dynamo_requests.move(self.table, request_id, wanted, consumed_by=consumed_by)

    # --- the audit trail (DESIGN §5.7) ---------------------------------------------------
    def append_audit(self, make: Callable[[AuditEvent | None], AuditEvent]) -> AuditEvent:
        return dynamo_audit.append(self.table, make)

    def audit_head(self) -> AuditEvent | None:
        return dynamo_audit.last_event(self.table)

    def audit_events(
        self, *, env: str | None = None, since_seq: int | None = None
    ) -> list[AuditEvent]:
        return dynamo_audit.events(self.table, env=env, since_seq=since_seq)


def _page(limit: int | None) -> int:
    """Items per page: a little more than wanted, since a filter may drop some."""
    return 100 if limit is None else max(10, min(limit + 10, 500))


def _newest(
    found: Iterator[dict[str, Any]], *, keep: Callable[[dict[str, Any]], bool], limit: int | None
) -> list[dict[str, Any]]:
    """The first ``limit`` items ``keep`` accepts; no more pages are read than needed."""
    chosen: list[dict[str, Any]] = []
    for item in found:
        if keep(item):
            chosen.append(item)
            if limit is not None and len(chosen) >= limit:
                break
    return chosen


def _lost(error: ClientError) -> bool:
    """A conditional write that lost to a concurrent writer (so: re-read and retry)."""
    reasons = cancel_reasons(error)
    return conditional_failure(error) or any(
        r in ("ConditionalCheckFailed", "TransactionConflict") for r in reasons
    )


def _lost_race(what: str) -> LedgerError:
    return LedgerError(
        f"could not record {what}: {_ATTEMPTS} attempts in a row lost to other writers",
        hint="many processes are writing to this ledger at once; try again",
    )


if TYPE_CHECKING:

    def _implements_the_protocol(ledger: DynamoLedger) -> Ledger:
        return ledger
