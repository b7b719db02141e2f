"""The ``audit`` command (DESIGN §4, §5.7): list the trail; ``--verify`` checks the hash chain,
which key signed which events, and that every decision, consumption and success in the ledger
has an event behind it; ``--accept-unkeyed`` lets a key holder accept events a job wrote
without the key, so one such job does not break ``--verify`` for good.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import click

from lambda_promote.invocation import Invocation, Outcome, command

if TYPE_CHECKING:
    from lambda_promote.audit import Keyring, Verification
    from lambda_promote.model import AuditEvent
    from lambda_promote.workspace import Workspace

_SPAN_RE = re.compile(r"^\s*(\d+)\s*(?:[-–]\s*(\d+))?\s*$")
NO_KEY_NOTE = (
    "LAMBDA_PROMOTE_AUDIT_KEY is not set: an intact chain shows only that the trail is "
    "self-consistent; anyone who can write the ledger can rewrite it and recompute every hash"
)


@command("audit")
@click.option("--env", help="Only events of this environment.")
@click.option(
    "--verify",
    is_flag=True,
    help="Check the hash chain and the ledger's records against it; exit 1 naming the first "
    "problem.",
)
@click.option(
    "--head",
    metavar="HEAD",
    help="With --verify: a chain head as a report prints it ('#32 9f2c…') or a hash.",
)
@click.option(
    "--accept-unkeyed",
    "accept",
    metavar="FIRST-LAST",
    help="With the audit key: accept events a job wrote without it (recorded in the trail).",
)
@click.option("--reason", default="", help="With --accept-unkeyed: why; kept in the trail.")
def audit_command(
    inv: Invocation,
    *,
    env: str | None,
    verify: bool,
    head: str | None,
    accept: str | None,
    reason: str,
) -> Outcome:
    """The audit trail; --verify checks that nothing was edited, removed or reordered."""
    from lambda_promote.output import iso

    ws = inv.workspace()
    if accept is not None:
        return _accept_unkeyed(inv, ws, accept, reason)
    events = ws.ledger.audit_events()
    if verify:
        return _verify(inv, ws, events, head)
    shown = [e for e in events if env is None or e.env == env]
    lines = [
        f"{e.seq:>5} {iso(e.at)} {e.actor:<14} {e.action:<24} {e.env or '-':<11} "
        f"{(e.digest or '')[:12]} {e.reason}"
        for e in shown
    ]
    return Outcome(data={"events": shown}, text="\n".join(lines) or "no events yet")


def _verify(inv: Invocation, ws: Workspace, events: list[AuditEvent], head: str | None) -> Outcome:
    from lambda_promote.attested import ledger_problems
    from lambda_promote.audit import verify
    from lambda_promote.audit_trail import keyring
    from lambda_promote.errors import PromoteError

    ring = keyring()
    result = verify(events, keyring=ring, head=head)
    summary = _summary(result, ring)
    if not result.ok:
        raise PromoteError(
            f"audit trail broken at event {result.first_bad}: {result.problem}",
            hint="the ledger was changed outside lambda-promote, or the audit key differs "
            "(docs/operations.md, 'The audit key'); compare with a backup or a report's chain "
            "head",
            code="audit_broken",
            payload={
                "audit": {**summary, "first_bad": result.first_bad, "problem": result.problem}
            },
        )
    unbacked = ledger_problems(ws.ledger, events)
    if unbacked and ring.current is not None:
        more = f" (and {len(unbacked) - 1} more)" if len(unbacked) > 1 else ""
        raise PromoteError(
            f"the audit chain is intact, but the ledger holds records no audit event backs: "
            f"{unbacked[0]}{more}",
            hint="someone wrote the ledger outside lambda-promote (or cut the trail's tail); "
            "the gate refuses these records",
            code="ledger_not_attested",
            payload={
                "audit": {**summary, "ok": False, "unbacked": [u.to_json() for u in unbacked]}
            },
        )
    # Without a key anyone who can write a row can write its event too: say what does not
    # match, but an intact unkeyed chain proves too little to fail on it.
    for problem in unbacked:
        inv.ui.warn(f"no audit event backs {problem}")
    summary["unbacked"] = [u.to_json() for u in unbacked]
    for note in result.notes:
        inv.ui.detail(note)
    if ring.current is None:
        inv.ui.warn(NO_KEY_NOTE)
    last = f"#{events[-1].seq} {result.head}" if events else result.head
    inv.ui.ok(f"audit trail intact: {result.count} events, head {last}")
    return Outcome(data={"audit": summary}, text=result.head)


def _summary(result: Verification, ring: Keyring) -> dict[str, object]:
    return {
        "ok": result.ok,
        "count": result.count,
        "head": result.head,
        "key_id": ring.current_id,
        "keys": [span.to_json() for span in result.spans],
        "unauthenticated": [list(span) for span in result.unauthenticated],
    }


def _accept_unkeyed(inv: Invocation, ws: Workspace, text: str, reason: str) -> Outcome:
    """Record, signed with the key, that a key holder accepts unkeyed events ``text``."""
    from lambda_promote.audit import ACCEPT_UNKEYED, UNKEYED, first_break, signer
    from lambda_promote.audit_trail import keyring
    from lambda_promote.errors import UsageError

    ring = keyring()
    if ring.current is None:
        raise UsageError(
            "only a holder of the audit key can accept unkeyed events",
            hint="set LAMBDA_PROMOTE_AUDIT_KEY and run the command again",
        )
    found = _SPAN_RE.match(text)
    if found is None:
        raise UsageError(f"--accept-unkeyed {text!r}: expected FIRST-LAST, e.g. 51-55")
    first, last = int(found.group(1)), int(found.group(2) or found.group(1))
    events = ws.ledger.audit_events()
    span = [e for e in events if first <= e.seq <= last]
    if first > last or len(span) != last - first + 1:
        raise UsageError(f"--accept-unkeyed {text}: the trail has events 1–{len(events)}")
    if first_break(events[:last]) is not None or any(signer(e, ring) != UNKEYED for e in span):
        raise UsageError(
            f"events {first}–{last} are not all intact events written without a key",
            hint="`lambda-promote audit --verify` names the events to accept",
        )
    event = ws.audit(
        ACCEPT_UNKEYED,
        reason=reason,
        details={"from": first, "to": last, "head": span[-1].hash},
    )
    inv.ui.ok(f"events {first}–{last} accepted as written without the key (event #{event.seq})")
    return Outcome(data={"accepted": {"from": first, "to": last, "event": event.seq}})
