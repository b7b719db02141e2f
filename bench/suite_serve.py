"""``serve`` at scale (DESIGN §11.7, issue 19): page and API latency of the dashboard over a
ledger seeded with 10,000 deployments (each with its transitions, check and six hash-chained
audit events, written through the ledger's API by ``seed.py``) and 50 approval requests.

Requests go through Starlette's in-process test client, so the figures are the server's own
time (routing, ledger queries, templates, JSON), not the network's. The audit page's first
answer verifies the whole chain (60,000 events) and is reported apart: later answers reuse it
until the chain's head moves. The metrics cases take the whole seeded history as their window
(every one of the 10,000 deployments); the page's charts are drawn once and kept.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import Section, Settings, scratch
from bench.seed import seed_deployments

DEPLOYMENTS = 10_000
QUICK_DEPLOYMENTS = 1_000
CONFIG = """\
project: bench-serve
target: local
state: sqlite:///.lambda-promote/state.db
artifacts: .lambda-promote/artifacts
function: {source: src, handler: app.handler}
environments:
  staging: {function_name: bench-serve-staging}
  production:
    function_name: bench-serve-production
    promote_from: staging
    approval: {reviewers: [lead, ops]}
"""
PATHS = (
    "/",
    "/api/status",
    "/history",
    "/api/history",
    "/api/history?page=40",
    "/deployments/{middle}",
    "/api/deployments/{middle}",
    "/approvals",
    "/api/approvals",
    "/audit",
    "/api/audit",
    "/api/metrics?env=staging&since=2023-12-31",
    "/metrics?env=staging&since=2023-12-31",
)


def run(settings: Settings, *, log: Callable[[str], None]) -> Section:
    count = QUICK_DEPLOYMENTS if settings.quick else DEPLOYMENTS
    folder = scratch("serve")
    (folder / "src").mkdir()
    (folder / "src" / "app.py").write_text("def handler(e, c):\n    return {}\n")
    (folder / "promote.yaml").write_text(CONFIG)
    state = folder / ".lambda-promote" / "state.db"
    state.parent.mkdir()
    started = time.perf_counter()
    seed_deployments(state, start=0, count=1)  # creates the ledger at the schema's head
    _fast_seed(state, start=1, count=count - 1)
    _seed_requests(state, 50)
    log(f"serve: seeded {count} deployments in {time.perf_counter() - started:.0f} s")
    client = _client(folder)
    rows, data = [], {}
    cold = _timed(client, "/audit")
    for shape in PATHS:
        path = shape.format(middle=f"d-seed{count // 2:06d}")
        times = [_timed(client, path) for _ in range(max(5, settings.repeat * 4))]
        median, p95 = statistics.median(times), sorted(times)[int(len(times) * 0.95) - 1]
        data[path] = {"median_ms": round(median, 1), "p95_ms": round(p95, 1), "n": len(times)}
        rows.append(f"| `{path}` | {median:.1f} | {p95:.1f} | {len(times)} |")
    data["/audit (first answer: verifies the chain)"] = {"ms": round(cold, 1)}
    markdown = [
        f"Ledger: {count:,} deployments, {count * 6:,} audit events, 50 approval requests "
        "(SQLite, standard-library ledger). In-process requests (no network).",
        "",
        "| path | median ms | p95 ms | requests |",
        "|---|---:|---:|---:|",
        *rows,
        f"| `/audit`, first answer (verifies {count * 6:,} events) | {cold:.1f} | | 1 |",
    ]
    return Section("serve: dashboard and API latency", markdown=markdown, data=data)


def _timed(client: Any, path: str) -> float:
    started = time.perf_counter()
    answer = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return elapsed


def _client(folder: Path) -> Any:
    from starlette.testclient import TestClient

    from lambda_promote.config import snapshot
    from lambda_promote.ui import UI
    from lambda_promote.web.app import create_app
    from lambda_promote.web.context import open_context
    from lambda_promote.workspace import Workspace

    config = snapshot.load(folder / "promote.yaml", check_source=False)
    ctx = open_context(Workspace(config=config, ui=UI(), actor="web"))
    return TestClient(create_app(ctx, session_secret="b" * 40))


def _fast_seed(state: Path, *, start: int, count: int) -> None:
    """``seed.py``'s deployments through the standard-library ledger, with SQLite's fsync
    off for the seeding only: 10,000 deployments are 110,000 small transactions, which this
    machine otherwise needs half an hour to commit. The rows are the same."""
    from bench import seed
    from lambda_promote.ledger.lite import open_current

    ledger = open_current(state)
    assert ledger is not None, "the seeded ledger is at the schema's head"
    ledger._db._connection.execute("PRAGMA synchronous = OFF")
    try:
        for index in range(start, start + count):
            seed._one(ledger, index, "staging")
    finally:
        ledger.close()


def _seed_requests(state: Path, count: int) -> None:
    from lambda_promote.ledger.sql import open_ledger
    from lambda_promote.model import ApprovalRequest

    at = datetime.now(UTC)
    with open_ledger(f"sqlite:///{state}", root=state.parent) as ledger:
        for n in range(count):
            ledger.create_request(
                ApprovalRequest(
                    id=f"r-seed{n:04d}",
                    env="production",
                    digest=f"{n:064x}",
                    requested_by="seed",
                    requested_at=at - timedelta(minutes=n),
                    expires_at=at + timedelta(hours=72),
                )
            )
