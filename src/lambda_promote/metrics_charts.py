"""Charts of the delivery metrics (DESIGN §11.8): one per figure, per ISO week, each with its
least-squares trend line. ``svg_charts`` is what the dashboard embeds; ``png`` and ``html``
are what ``metrics --format png|html`` writes.

matplotlib is an optional extra (``lambda-promote[metrics]``), imported only here and only
when a chart is drawn. Figures are made with ``matplotlib.figure.Figure``, never pyplot: no
global state, no GUI backend, safe in a web server's threads. SVG text is drawn as paths and
the page carries no script, stylesheet or font from elsewhere: it is self-contained.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lambda_promote.errors import UsageError
from lambda_promote.metrics import DeliveryMetrics, WeekFigures, median, trend_line

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

INSTALL_HINT = "install the charting extra: pip install 'lambda-promote[metrics]'"
_SUCCESS, _FAILURE, _TREND = "#2e7d32", "#c62828", "#555555"


def _rate(week: WeekFigures) -> float | None:
    rate = week.change_failure_rate
    return None if rate is None else rate * 100


# name → (title, y label, the weekly value when a line chart)
_LINES: dict[str, tuple[str, str, Callable[[WeekFigures], float | None]]] = {
    "lead_time": ("Lead time for changes (median)", "hours", lambda w: median(w.lead_time_hours)),
    "change_failure_rate": ("Change failure rate", "% of deployments", _rate),
    "time_to_restore": (
        "Time to restore (median)",
        "minutes",
        lambda w: median(w.minutes_to_restore),
    ),
}
CHART_NAMES = ("deployment_frequency", *_LINES)


def svg_charts(metrics: DeliveryMetrics) -> dict[str, str]:
    """Each chart as an ``<svg>`` element to embed in a page, keyed by ``CHART_NAMES``."""
    charts = {}
    for name in CHART_NAMES:
        figure = _figure(figsize=(6.4, 3.2))
        _draw(name, figure.add_subplot(), metrics)
        charts[name] = _svg(figure)
    return charts


def png(metrics: DeliveryMetrics) -> bytes:
    """The four charts on one image."""
    figure = _figure(figsize=(12.8, 7.2))
    for position, name in enumerate(CHART_NAMES, start=1):
        _draw(name, figure.add_subplot(2, 2, position), metrics)
    figure.suptitle(_caption(metrics))
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100, metadata={"Software": None})
    return out.getvalue()


def html_page(metrics: DeliveryMetrics, summary: Sequence[str]) -> str:
    """A self-contained page: the summary lines and the four charts inline."""
    charts = "\n".join(
        f'<figure id="{name}">{svg}</figure>' for name, svg in svg_charts(metrics).items()
    )
    lines = "\n".join(html.escape(line) for line in summary)
    title = html.escape(_caption(metrics))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2em}"
        "figure{display:inline-block;margin:0 1em 1em 0}svg{max-width:100%;height:auto}"
        "pre{background:#f6f6f6;padding:1em}</style></head>\n"
        f"<body><h1>{title}</h1>\n<pre>{lines}</pre>\n{charts}\n</body></html>\n"
    )


def _caption(metrics: DeliveryMetrics) -> str:
    return (
        f"Delivery metrics of {metrics.env}, "
        f"{metrics.since:%Y-%m-%d %H:%M} to {metrics.until:%Y-%m-%d %H:%M} UTC"
    )


def _figure(*, figsize: tuple[float, float]) -> Figure:
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError("drawing the charts needs matplotlib", hint=INSTALL_HINT) from None
    # A fixed salt: the same metrics draw the same SVG ids, byte for byte.
    matplotlib.rcParams["svg.hashsalt"] = "lambda-promote"
    return Figure(figsize=figsize, layout="constrained")


def _svg(figure: Figure) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg") :]  # no XML prolog or doctype: embeddable in HTML


def _draw(name: str, axes: Axes, metrics: DeliveryMetrics) -> None:
    weeks = metrics.weeks
    labels = [w.week[5:] for w in weeks]  # "W47": the year is in the caption
    positions = list(range(len(weeks)))
    if name == "deployment_frequency":
        succeeded = [float(w.succeeded) for w in weeks]
        failed = [float(w.failed) for w in weeks]
        axes.bar(positions, succeeded, color=_SUCCESS, label="succeeded")
        axes.bar(positions, failed, color=_FAILURE, width=0.4, label="change failures")
        _trend(axes, succeeded)
        axes.set_title("Deployments per week")
        axes.set_ylabel("deployments")
        axes.legend(loc="upper left", fontsize="small")
    else:
        title, unit, value = _LINES[name]
        values = [value(w) for w in weeks]
        shown = [float("nan") if v is None else v for v in values]
        color = _SUCCESS if name == "lead_time" else _FAILURE
        axes.plot(positions, shown, marker="o", color=color, clip_on=False)  # 0 % fully drawn
        _trend(axes, values)
        axes.set_title(title)
        axes.set_ylabel(unit)
        if all(v is None for v in values):
            axes.text(0.5, 0.5, "no data", transform=axes.transAxes, ha="center", va="center")
    axes.set_xticks(positions, labels, fontsize="small")
    axes.set_ylim(bottom=0)


def _trend(axes: Any, values: Sequence[float | None]) -> None:
    line = trend_line(values)
    if line is not None:
        axes.plot(range(len(line)), line, linestyle="--", color=_TREND, label="trend")
