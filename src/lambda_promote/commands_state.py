"""``lambda-promote state init`` and ``state migrate --to URL`` (DESIGN §11.6): make the
ledger's home, and move a ledger between SQLite, PostgreSQL and DynamoDB.

``init`` creates what ``state`` names: a DynamoDB table (on-demand billing, point-in-time
recovery, tags), or a SQL database's schema; run again it changes nothing. ``migrate``
copies the configured ledger (the source: ``state`` or LAMBDA_PROMOTE_STATE) into the one
``--to`` names, creating it when missing, and verifies the audit chain there
(``ledger/transfer.py``). A destination that already holds a ledger is refused with exit 1
(the operation failed and nothing was changed, DESIGN §4).
"""

from __future__ import annotations

from typing import Any

import click

from lambda_promote.invocation import Invocation, Outcome, cli, command


@cli.group("state")
def state() -> None:
    """The ledger's home: create it, or move a ledger to another backend."""


@command("init", group=state)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="KEY=VALUE",
    help="A tag for the DynamoDB table (repeatable); app and project are always set.",
)
def init_command(inv: Invocation, tags: tuple[str, ...]) -> Outcome:
    """Create the ledger `state` names (a DynamoDB table: on-demand, point-in-time recovery
    on); idempotent."""
    from lambda_promote.ledger.dynamo_url import is_dynamodb, scheme_of
    from lambda_promote.workspace import state_url

    ws = inv.workspace()
    url = state_url(ws.config.state)
    scheme_of(url)
    if is_dynamodb(url):
        from lambda_promote.ledger.choose import open_dynamodb

        chosen = {"app": "lambda-promote", "project": ws.config.project, **_tags(tags)}
        made = open_dynamodb(url).table.create(tags=chosen)
        what = "created" if made["created"] else "already there; settings checked"
        inv.ui.ok(f"ledger table {made['table']} ({made['region']}): {what}")
        return Outcome(data={"state": {"url": url, **made}}, text=made["arn"])
    from lambda_promote.ledger.sql import open_ledger

    with open_ledger(url, root=ws.root) as ledger:
        shown, created = ledger.url, ledger.schema_upgraded
    inv.ui.ok(f"ledger at {shown}: {'schema created' if created else 'up to date'}")
    return Outcome(data={"state": {"url": shown, "created": created}}, text=shown)


def _tags(given: tuple[str, ...]) -> dict[str, str]:
    from lambda_promote.errors import UsageError

    tags: dict[str, str] = {}
    for text in given:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--tag {text!r} is not KEY=VALUE", hint="e.g. --tag team=payments")
        tags[name.strip()] = value.strip()
    return tags


@command("migrate", group=state)
@click.option("--to", "destination", required=True, metavar="URL", help="Where to copy to.")
def migrate_command(inv: Invocation, destination: str) -> Outcome:
    """Copy the configured ledger to URL (SQLite, PostgreSQL or DynamoDB), creating it when
    missing; refuses a destination that holds a ledger; verifies the audit chain there."""
    from lambda_promote.ledger.transfer import migrate, open_store
    from lambda_promote.workspace import state_url

    ws = inv.workspace()
    source = open_store(state_url(ws.config.state), root=ws.root)
    try:
        target = open_store(destination, root=ws.root)
        try:
            done = migrate(source, target, verify=_verified)
        finally:
            target.close()
    finally:
        source.close()
    counts = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in done.counts.items())
    inv.ui.ok(f"copied {done.source} → {done.destination}: {counts}")
    inv.ui.ok("audit chain verified at the destination")
    inv.ui.detail(f"point `state` (or LAMBDA_PROMOTE_STATE) at {done.destination} to use it")
    data: dict[str, Any] = {"migration": done.to_json()}
    return Outcome(data=data, text=done.destination)


def _verified(events: list[Any]) -> str | None:
    """The chain head, after ``audit.verify`` accepted the copied chain."""
    from lambda_promote.audit import verify
    from lambda_promote.audit_trail import keyring
    from lambda_promote.errors import LedgerError

    result = verify(events, keyring=keyring())
    if not result.ok:
        raise LedgerError(
            f"the copied audit trail does not verify: event {result.first_bad}: {result.problem}",
            hint="verify the source with `lambda-promote audit --verify` (with the same "
            "LAMBDA_PROMOTE_AUDIT_KEY); the copy is left as it is for inspection",
            code="audit_broken",
        )
    return result.head if events else None
