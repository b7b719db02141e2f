"""Deployment reports (issue 6): every deployment and rollback leaves Markdown, JSON and a
self-contained HTML page under ``.lambda-promote/reports/<deployment-id>.{md,json,html}``;
``lambda-promote report`` renders any past one again. In GitHub Actions the Markdown is also
appended to the job summary (``$GITHUB_STEP_SUMMARY``).

    build_report (data.py, pure)  →  render_markdown (md.py) | render_html (html.py)
                                     | render_json (jsondoc.py)
    write_reports                 →  the three files (+ the job summary)

No secret reaches a report (DESIGN §5.8): free text is redacted while the data is built and
the rendered text is redacted once more before it is returned or written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from lambda_promote.errors import PromoteError, UsageError
from lambda_promote.model import ApprovalRequest, Deployment
from lambda_promote.notify.redact import Redactor
from lambda_promote.reports.data import Report, build_report

Format = Literal["md", "json", "html"]
FORMATS: tuple[Format, ...] = ("md", "json", "html")
REPORTS_DIR = "reports"  # under .lambda-promote/
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"

__all__ = [
    "FORMATS",
    "REPORTS_DIR",
    "Report",
    "append_step_summary",
    "build_report",
    "render",
    "report_path",
    "write_reports",
]


def _renderer(fmt: str) -> Callable[[Report], str]:
    if fmt == "md":
        from lambda_promote.reports.md import render_markdown

        return render_markdown
    if fmt == "html":
        from lambda_promote.reports.html import render_html

        return render_html
    if fmt == "json":
        from lambda_promote.reports.jsondoc import render_json

        return render_json
    raise UsageError(f"unknown report format {fmt!r}", hint="use one of: md, json, html")


def render(
    deployment: Deployment,
    fmt: str,
    *,
    approvals: Sequence[ApprovalRequest] = (),
    notifications: Iterable[Mapping[str, Any]] = (),
    audit_head: str | None = None,
    commit: str | None = None,
    committed_at: datetime | None = None,
    project: str = "",
    generated_at: datetime | None = None,
    redactor: Redactor | None = None,
    environ: Mapping[str, str] = os.environ,
) -> str:
    """The report of ``deployment`` in ``fmt`` (md, json or html). ``redactor`` defaults to
    the secrets of ``environ``; pass ``notify.redactor_for(config.notifications)`` so the
    variables promote.yaml names are covered too."""
    render_as = _renderer(fmt)
    scrub = redactor or Redactor.from_environ(environ)
    report = build_report(
        deployment,
        approvals=approvals,
        notifications=list(notifications),
        audit_head=audit_head,
        commit=commit,
        committed_at=committed_at,
        project=project,
        generated_at=generated_at or datetime.now(UTC),
        redactor=scrub,
    )
    return scrub(render_as(report))


def report_path(folder: Path, deployment_id: str, fmt: str) -> Path:
    """Where the ``fmt`` report of ``deployment_id`` lives in ``folder``."""
    return folder / f"{_safe_name(deployment_id)}.{fmt}"


def _safe_name(deployment_id: str) -> str:
    # Ids are ``d-<hex>``; anything else must still not escape the reports folder.
    return re.sub(r"[^A-Za-z0-9._-]", "_", deployment_id).lstrip(".") or "deployment"


def write_reports(
    deployment: Deployment,
    *,
    approvals: Sequence[ApprovalRequest],
    notifications: Iterable[Mapping[str, Any]],
    audit_head: str | None,
    folder: Path,
    commit: str | None = None,
    committed_at: datetime | None = None,
    project: str = "",
    generated_at: datetime | None = None,
    redactor: Redactor | None = None,
    environ: Mapping[str, str] = os.environ,
    step_summary: bool = True,
) -> dict[str, Path]:
    """Write ``<id>.md``, ``<id>.json`` and ``<id>.html`` in ``folder`` (created if needed),
    replacing earlier ones; append the Markdown to ``$GITHUB_STEP_SUMMARY`` when set."""
    at = generated_at or datetime.now(UTC)
    listed = list(notifications)
    written: dict[str, Path] = {}
    texts: dict[str, str] = {}
    fmt: str
    for fmt in FORMATS:
        texts[fmt] = render(
            deployment,
            fmt,
            approvals=approvals,
            notifications=listed,
            audit_head=audit_head,
            commit=commit,
            committed_at=committed_at,
            project=project,
            generated_at=at,
            redactor=redactor,
            environ=environ,
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for fmt, text in texts.items():
            written[fmt] = _write_atomically(report_path(folder, deployment.id, fmt), text)
    except OSError as error:
        raise PromoteError(
            f"could not write the report of {deployment.id} in {folder}: {error.strerror}",
            hint="check that the folder is writable; `lambda-promote report "
            f"{deployment.id} --format html` renders it again later",
            code="report",
        ) from None
    if step_summary:
        append_step_summary(texts["md"], environ=environ)
    return written


def _write_atomically(path: Path, text: str) -> Path:
    """A reader (a browser, a CI upload) never sees half a report."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path


def append_step_summary(markdown: str, *, environ: Mapping[str, str] = os.environ) -> Path | None:
    """Append ``markdown`` to the GitHub Actions job summary, if this runs in one."""
    target = environ.get(STEP_SUMMARY_ENV)
    if not target:
        return None
    path = Path(target)
    try:
        with path.open("a", encoding="utf-8") as summary:
            summary.write(markdown.rstrip("\n") + "\n\n")
    except OSError as error:
        raise PromoteError(
            f"could not append the report to ${STEP_SUMMARY_ENV}: {error.strerror}",
            hint="the report files were written; only the job summary is missing",
            code="report",
        ) from None
    return path
