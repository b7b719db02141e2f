"""``lambda-promote report DEPLOYMENT --format md|json|html [--output PATH]`` (DESIGN §4):
render the report of any past deployment or rollback from the ledger."""

from __future__ import annotations

from pathlib import Path

import click

from lambda_promote.invocation import Invocation, Outcome, command


@command("report")
@click.argument("deployment_id", metavar="DEPLOYMENT")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "json", "html"]),
    default="md",
    show_default=True,
    help="Markdown, JSON or a self-contained HTML page.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report to this file instead of stdout.",
)
def report_command(inv: Invocation, deployment_id: str, fmt: str, output: Path | None) -> Outcome:
    """The report of one deployment: timeline, checks with logs, approvals, rollback,
    notifications and the audit chain head."""
    from lambda_promote import status
    from lambda_promote.errors import PromoteError
    from lambda_promote.reports import render
    from lambda_promote.reports.gather import report_inputs

    ws = inv.workspace()
    dep = status.show(ws, deployment_id)
    text = render(dep, fmt, **report_inputs(ws, dep))
    summary = {"deployment": dep.id, "format": fmt, "path": None}
    if output is None:
        # Under --json the report travels inside the one JSON object.
        return Outcome(data={"report": {**summary, "content": text}}, text=text.rstrip("\n"))
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise PromoteError(
            f"could not write {output}: {error.strerror}",
            hint="choose a writable path with --output",
            code="report",
        ) from None
    inv.ui.ok(f"wrote the {fmt} report of {dep.id} to {output}")
    return Outcome(data={"report": {**summary, "path": str(output)}}, text=str(output))
