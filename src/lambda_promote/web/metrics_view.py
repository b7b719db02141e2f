"""The dashboard's delivery metrics (DESIGN §11.8): the four DORA figures of one environment
over a window, computed by ``metrics_window``/``metrics`` exactly as ``lambda-promote metrics
--json`` computes them, and drawn by ``metrics_charts.svg_charts`` as ``--format html`` draws
them. Drawing takes a while (matplotlib), so the charts are kept until anything new is
recorded (the audit head moves), for the same environment and window, for a minute at most.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lambda_promote.errors import UsageError
from lambda_promote.web.security import HttpProblem

if TYPE_CHECKING:
    from lambda_promote.metrics import DeliveryMetrics
    from lambda_promote.web.context import WebContext

DEFAULT_SINCE = "30d"
CHART_TITLES = {
    "deployment_frequency": "Deployment frequency",
    "lead_time": "Lead time for changes",
    "change_failure_rate": "Change failure rate",
    "time_to_restore": "Time to restore",
}


@dataclass(frozen=True)
class MetricsView:
    figures: dict[str, Any]  # ``metrics --json``'s "metrics"
    charts: dict[str, str]  # chart name → <svg>; empty when matplotlib is missing
    charts_missing: str | None  # why there are no charts, with the install hint


def metrics(ctx: WebContext, *, env: str | None, since: str, charts: bool) -> MetricsView:
    """The figures (and, with ``charts``, the charts) of ``env`` since ``since``. Computing
    them reads the whole window (seconds for 10,000 deployments), so the answer is kept until
    the ledger records something new or a minute passes (the window's end moves with it)."""
    from lambda_promote.metrics_window import parse_since

    if env is not None and env not in ctx.config.environments:
        raise HttpProblem(404, f"no environment {env!r}", code="not_found")
    now = datetime.now(UTC)
    try:
        start = parse_since(since, now=now)
    except UsageError as bad:
        raise HttpProblem(400, bad.message, code="bad_request", hint=bad.hint) from None
    head = ctx.ledger.audit_head()
    minute = int(time.monotonic() // 60)
    key = f"{env or ''}|{since}|{head.seq if head is not None else 0}|{minute}"
    kept = ctx.charts.get(key)
    if kept is None or (charts and kept.charts is None):
        kept = _compute(ctx, env, start=start, now=now, charts=charts)
        ctx.charts.clear()  # only the newest answer is worth keeping
        ctx.charts[key] = kept
    return MetricsView(kept.figures, kept.charts or {}, kept.charts_missing)


@dataclass(frozen=True)
class Kept:
    figures: dict[str, Any]
    charts: dict[str, str] | None  # None: not drawn yet
    charts_missing: str | None


def _compute(
    ctx: WebContext, env: str | None, *, start: datetime, now: datetime, charts: bool
) -> Kept:
    from lambda_promote.metrics_window import delivery_metrics

    found = delivery_metrics(ctx.ledger, ctx.config, env, since=start, now=now)
    if not charts:
        return Kept(found.to_json(), None, None)
    drawn, missing = _draw(found)
    return Kept(found.to_json(), drawn, missing)


def _draw(found: DeliveryMetrics) -> tuple[dict[str, str], str | None]:
    from lambda_promote.metrics_charts import svg_charts

    try:
        return svg_charts(found), None
    except UsageError as missing:  # the metrics extra (matplotlib) is not installed
        return {}, f"{missing.message} ({missing.hint})"
