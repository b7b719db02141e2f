"""The evidence reviewers read before they decide, as the Markdown of a run's job summary.

The generated workflow's ``request-<env>-approval`` job opens the request and appends this
to ``$GITHUB_STEP_SUMMARY``; the reviewers of ``<env>`` are asked only afterwards, at
``deploy-<env>``, so the run's page shows them what they approve: the release, its commits,
the source environment's checks, the configuration it carries, and what a rollback would
restore. Pure: a saved ``request-approval --json`` answer in, Markdown out.
"""

from __future__ import annotations

import json
from typing import Any

_SHOWN = {"commits", "source", "rollback_restores", "built_by", "branch", "commit", "functions"}


def approval_summary(answer: dict[str, Any]) -> str:
    """Markdown for one ``request-approval --json`` answer (a failed answer says so)."""
    request = answer.get("approval_request")
    if not isinstance(request, dict):
        error = answer.get("error") or {}
        return f"### No approval request\n\n{_text(error.get('message'))}\n"
    ev = request.get("evidence") or {}
    lines = [
        f"### Approval request `{_text(request.get('id'))}` for {_text(request.get('env'))}",
        "",
        f"- release `{_text(request.get('digest'))[:12]}`, built by {_text(ev.get('built_by'))} "
        f"from {_text(ev.get('branch'))} @ `{_text(ev.get('commit'))[:12]}`",
        f"- requested by {_text(request.get('requested_by'))}; "
        f"expires {_text(request.get('expires_at'))}",
        f"- a rollback would restore version {_text(ev.get('rollback_restores') or '(none)')}",
    ]
    lines += _source_lines(ev.get("source"))
    lines += _function_lines(ev.get("functions"))
    commits = [c for c in ev.get("commits") or [] if isinstance(c, str)]
    if commits:
        lines += ["", "#### Commits", "", *(f"- {_text(c)}" for c in commits[:30])]
    more = {k: v for k, v in ev.items() if k not in _SHOWN}
    if more:
        # The configuration it carries and anything else the request records, as recorded.
        body = json.dumps(more, indent=2, sort_keys=True)
        lines += ["", "#### More evidence", "", "```json", body.replace("```", "'''"), "```"]
    lines += ["", f"Approve by reviewing the deploy job of {_text(request.get('env'))}.", ""]
    return "\n".join(lines)


def _source_lines(source: Any) -> list[str]:
    if not isinstance(source, dict):
        return []
    checks = [c for c in source.get("checks") or [] if isinstance(c, dict)]
    passed = sum(1 for c in checks if c.get("ok"))
    lines = [
        f"- {_text(source.get('env'))}: {passed}/{len(checks)} checks passed "
        f"(deployment {_text(source.get('deployment'))})"
    ]
    lines += [
        f"  - {'✅' if c.get('ok') else '❌'} {_text(c.get('name'))}: {_text(c.get('detail'))}"
        for c in checks
    ]
    return lines


def _function_lines(functions: Any) -> list[str]:
    """A release of many functions (DESIGN §11.4): each function's digest, commit, the
    version live now and its configuration changes."""
    if not isinstance(functions, dict) or not functions:
        return []
    lines = ["", "#### Functions", "", "| function | digest | commit | live now | configuration |"]
    lines.append("|---|---|---|---|---|")
    for name, value in sorted(functions.items()):
        entry = value if isinstance(value, dict) else {}
        configuration = entry.get("configuration") or {}
        changes = configuration.get("changes") if isinstance(configuration, dict) else None
        changed = "; ".join(str(c) for c in changes) if changes else "unchanged"
        if not isinstance(changes, list):
            changed = "not compared"
        lines.append(
            f"| {_text(name)} | `{_text(entry.get('digest'))[:12]}` | "
            f"`{_text(entry.get('commit'))[:12]}` | "
            f"{_text(entry.get('live_version') or '(none)')} | {_text(changed)} |"
        )
    return lines


def _text(value: Any) -> str:
    """One line of plain text: no Markdown or HTML from the ledger reaches the page as such."""
    text = "?" if value is None else str(value)
    for char in "<>`|*_[]":
        text = text.replace(char, f"\\{char}")
    return " ".join(text.split())
