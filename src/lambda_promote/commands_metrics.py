"""``lambda-promote metrics [ENV] [--since 30d] [--format text|html|png --output FILE]``
(DESIGN §11.8): the four DORA figures of one environment, per week with trends. Reads the
ledger through ``metrics_window``, computes with ``metrics``, draws with ``metrics_charts``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lambda_promote.invocation import Invocation, Outcome, command

if TYPE_CHECKING:
    from lambda_promote.metrics import DeliveryMetrics


@command("metrics")
@click.argument("env", required=False)
@click.option(
    "--since",
    default="30d",
    show_default=True,
    help="The window: a span (12h, 7d, 4w, 90d) back from now, or a date (2026-11-01, UTC).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html", "png"]),
    default="text",
    show_default=True,
    help="A table, or charts per week with trend lines (html: self-contained; needs --output).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the html or png charts to this file.",
)
def metrics_command(
    inv: Invocation, env: str | None, since: str, fmt: str, output: Path | None
) -> Outcome:
    """Delivery metrics (DORA): deployment frequency, lead time, change failure rate and
    time to restore of ENV (default: the last environment in promotion order)."""
    from lambda_promote.errors import UsageError
    from lambda_promote.metrics_window import delivery_metrics, parse_since

    now = datetime.now(UTC)
    start = parse_since(since, now=now)
    if fmt != "text" and output is None:
        raise UsageError(f"--format {fmt} writes a file", hint="add --output FILE")
    ws = inv.workspace()
    metrics = delivery_metrics(ws.ledger_for_reading(), ws.config, env, since=start, now=now)
    lines = summary_lines(metrics)
    data = {"metrics": metrics.to_json()}
    if output is None:
        return Outcome(data=data, text="\n".join([*lines, "", *week_table(metrics)]))
    _write(output, _drawn(metrics, fmt, lines))
    inv.ui.ok(f"wrote the {fmt} charts of {metrics.env} to {output}")
    return Outcome(data={**data, "output": {"format": fmt, "path": str(output)}}, text=str(output))


def _drawn(metrics: DeliveryMetrics, fmt: str, lines: list[str]) -> bytes:
    from lambda_promote import metrics_charts

    if fmt == "png":
        return metrics_charts.png(metrics)
    return metrics_charts.html_page(metrics, [*lines, "", *week_table(metrics)]).encode()


def _write(output: Path, content: bytes) -> None:
    from lambda_promote.errors import PromoteError

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(content)
    except OSError as error:
        raise PromoteError(
            f"could not write {output}: {error.strerror}",
            hint="choose a writable path with --output",
            code="metrics",
        ) from None


def summary_lines(metrics: DeliveryMetrics) -> list[str]:
    """The four figures in words."""
    from lambda_promote.metrics import median, percentile

    figures = metrics.to_json()
    leads, restores = metrics.lead_times_hours, metrics.minutes_to_restore
    rate = metrics.change_failure_rate
    unrestored = figures["time_to_restore_minutes"]["unrestored"]
    return [
        f"{metrics.env}: {metrics.deployments} deployments since "
        f"{metrics.since:%Y-%m-%d %H:%M} UTC, {metrics.succeeded} succeeded",
        f"deployment frequency  {metrics.deployment_frequency_per_week:.2f} per week",
        f"lead time             median {_num(median(leads), 'h')}, "
        f"p90 {_num(percentile(leads, 90), 'h')} ({len(leads)} releases)",
        f"change failure rate   {_num(None if rate is None else rate * 100, '%')} "
        f"({len(metrics.failures)} of {metrics.deployments})",
        f"time to restore       median {_num(median(restores), 'min')}"
        + (f" ({unrestored} never restored)" if unrestored else ""),
    ]


_COLUMNS = ("succeeded", "CFR %", "lead h", "restore min")


def week_table(metrics: DeliveryMetrics) -> list[str]:
    """One row per ISO week, each figure with its direction against the last week before it
    that had one."""
    from lambda_promote.metrics import arrow, median

    rows = [f"{'week':<9} {'deploys':>7}" + "".join(f" {name:>13}" for name in _COLUMNS)]
    before: tuple[float | None, ...] = (None,) * len(_COLUMNS)
    for week in metrics.weeks:
        rate = week.change_failure_rate
        now = (
            float(week.succeeded),
            None if rate is None else rate * 100,
            median(week.lead_time_hours),
            median(week.minutes_to_restore),
        )
        pairs = enumerate(zip(before, now, strict=True))
        cells = [_cell(n, whole=i == 0) + " " + arrow(b, n) for i, (b, n) in pairs]
        row = f"{week.week:<9} {week.deployments:>7}" + "".join(f" {c:>13}" for c in cells)
        rows.append(row.rstrip())
        before = tuple(n if n is not None else b for b, n in zip(before, now, strict=True))
    return rows


def _cell(value: float | None, *, whole: bool) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if whole else f"{value:.1f}"


def _num(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:.1f} {unit}"
