"""The I/O side of ``lambda-promote metrics`` (DESIGN §11.8): which environment and window
the command means, and one bounded read of the ledger for it; ``metrics.compute`` does the rest.

The read is the environment's deployments and rollbacks created since the window's start
(``Ledger.deployments(env, since=…)``, an indexed range on ``env, created_at``) plus one
artifact lookup per distinct digest that succeeded there. A release's time is its commit's
committer time (``Artifact.committed_at``); its build time (``built_at``) stands in only for
artifacts recorded before the ledger kept the commit time, or built outside git
(docs/metrics.md says so).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from lambda_promote.config.lookup import require_env
from lambda_promote.errors import UsageError
from lambda_promote.metrics import DeliveryMetrics, compute
from lambda_promote.model import Deployment, DeploymentKind, DeploymentState
from lambda_promote.triggers import promotion_order

if TYPE_CHECKING:
    from lambda_promote.config.schema import Config
    from lambda_promote.ledger.base import Ledger

_SPAN = re.compile(r"^\s*(\d{1,5})\s*([hdw])\s*$", re.IGNORECASE)
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
SINCE_HINT = "use a span like 12h, 7d, 4w, 90d, or a date like 2026-11-01 (UTC)"


def parse_since(text: str, *, now: datetime) -> datetime:
    """The window's start: ``now`` minus a span (``12h``, ``7d``, ``4w``), or an ISO date or
    time (a date means its midnight UTC; a time without a zone is UTC). ``UsageError``
    (exit 2) for anything else, or a start not before ``now``."""
    span = _SPAN.match(text)
    if span:
        amount = int(span.group(1))
        if amount == 0:
            raise UsageError(f"--since {text!r} is an empty window", hint=SINCE_HINT)
        return now - amount * _UNITS[span.group(2).lower()]
    start = _iso(text.strip())
    if start is None:
        raise UsageError(f"--since {text!r} is neither a span nor a date", hint=SINCE_HINT)
    if start >= now:
        raise UsageError(f"--since {text!r} is not in the past", hint=SINCE_HINT)
    return start


def _iso(text: str) -> datetime | None:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def default_env(config: Config) -> str:
    """The last environment in promotion order (production, usually)."""
    order = promotion_order({n: e.promote_from for n, e in config.environments.items()})
    return order[-1]


def delivery_metrics(
    ledger: Ledger, config: Config, env: str | None, *, since: datetime, now: datetime
) -> DeliveryMetrics:
    """Read the window of ``env`` (default: ``default_env``) and compute its metrics."""
    name = env or default_env(config)
    require_env(config, name)
    records = ledger.deployments(name, since=since, limit=None)
    return compute(
        records, env=name, since=since, until=now, release_times=release_times(ledger, records)
    )


def release_times(ledger: Ledger, records: list[Deployment]) -> dict[str, datetime]:
    """When each release that succeeded among ``records`` was made (its commit time, else its
    build time: see the module docstring). Digests the ledger has no artifact for, or with
    neither time, are left out (no lead time)."""
    wanted = {
        d.digest
        for d in records
        if d.kind is DeploymentKind.DEPLOY and d.state is DeploymentState.SUCCEEDED
    }
    times: dict[str, datetime] = {}
    for digest in sorted(wanted):
        artifact = ledger.find_artifact(digest)
        released = None if artifact is None else artifact.committed_at or artifact.built_at
        if released is not None:
            times[digest] = released
    return times
