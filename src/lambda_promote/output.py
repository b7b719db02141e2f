"""What commands print: the ``--json`` shapes of DESIGN §4 and the human lines of a
deployment. Pure functions over the model; the CLI prints what they return. (Reports are
rendered by ``reports``; notifications by ``notify.messages``.)
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from pathlib import Path
from typing import Any

from lambda_promote.function_config import described, shown
from lambda_promote.model import ApprovalDecision, ApprovalRequest, Artifact, Deployment

# The checks that judged the new version: through the alias, during a bake, at each step of a
# progressive shift (on the version by number), and the traffic hooks (DESIGN §11.5).
VERIFYING_PHASES = ("verify", "bake", "traffic", "before_traffic", "after_traffic")


def deployment_json(dep: Deployment) -> dict[str, Any]:
    verify = [c for c in dep.checks if c.phase in VERIFYING_PHASES]
    return {
        "id": dep.id,
        "env": dep.env,
        "kind": dep.kind.value,
        "digest": dep.digest,
        "state": dep.state.value,
        "version": dep.version,
        "previous_version": dep.previous_version,
        "previous_digest": dep.previous_digest,
        "functions": functions_json(dep),
        "actor": dep.actor,
        "reason": dep.reason or None,
        "error": dep.error or None,
        "created_at": iso(dep.created_at),
        "updated_at": iso(dep.updated_at),
        "checks": [c.to_json() for c in verify],
        "rollback": dep.rollback,
        # DESIGN §11.3; values of secret-looking variables masked. None: not recorded.
        "configuration": shown(dep.configuration) if dep.configuration is not None else None,
        "configuration_digest": dep.configuration_digest,
        # DESIGN §11.5: [{"percent", "at", "ok"}] of a progressive shift; None: all at once.
        "traffic": dep.traffic,
        "transitions": [
            {"state": t.state.value, "at": iso(t.at), "note": t.note} for t in dep.transitions
        ],
    }


def functions_json(dep: Deployment) -> dict[str, dict[str, Any]]:
    """``deployment.functions`` (DESIGN §11.4): each function's digest, version and the
    version before; a single-function deployment's one function is named ``function``."""
    if dep.functions is None:
        return {
            "function": {
                "digest": dep.digest,
                "version": dep.version,
                "previous_version": dep.previous_version,
            }
        }
    return {
        name: {
            "digest": entry.get("digest"),
            "version": entry.get("version"),
            "previous_version": entry.get("previous_version"),
            "function_name": entry.get("function_name"),
            "moved": entry.get("moved"),
        }
        for name, entry in sorted(dep.functions.items())
    }


def function_lines(dep: Deployment) -> list[str]:
    """Each function of a many-function release, one line each: its name, Lambda function,
    version move, digest and whether its alias moved (DESIGN §11.4). Empty for a single
    function, whose deployment's own version line says it all."""
    if dep.functions is None:
        return []
    width = max(len(name) for name in dep.functions)
    return [
        f"{name:<{width}}  {entry.get('function_name') or '?'}  "
        f"{entry.get('previous_version') or '(none)'} → {entry.get('version') or '(none)'}  "
        f"{(entry.get('digest') or '')[:12]}  {moved_word(entry)}"
        for name, entry in sorted(dep.functions.items())
    ]


def moved_word(entry: dict[str, Any]) -> str:
    """How one function of a release fared: its alias moved, or it was left alone."""
    if entry.get("moved"):
        return "moved"
    if entry.get("version") and entry.get("version") == entry.get("previous_version"):
        return "unchanged"
    return "not moved"


def artifact_json(artifact: Artifact, *, cached: bool) -> dict[str, Any]:
    return {
        "digest": artifact.digest,
        "size": artifact.size,
        "path": artifact.path,
        "cached": cached,
        "commit": artifact.commit,
        "committed_at": iso(artifact.committed_at),
        "branch": artifact.branch,
        "runtime": artifact.runtime,
        "architecture": artifact.architecture,
    }


def release_json(release: Artifact, functions: dict[str, tuple[Artifact, bool]]) -> dict[str, Any]:
    """``build --json``'s ``release`` (DESIGN §11.4): its digest and each function's artifact."""
    return {
        "digest": release.digest,
        "functions": {
            name: {"digest": a.digest, "size": a.size, "path": a.path, "cached": cached}
            for name, (a, cached) in sorted(functions.items())
        },
    }


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def jsonable(value: Any) -> Any:
    """Anything an error payload or result may carry, as plain JSON data."""
    if isinstance(value, Deployment):
        return deployment_json(value)
    if isinstance(value, ApprovalRequest):
        return request_json(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def deployment_lines(dep: Deployment) -> list[str]:
    """A human account of one deployment, for ``show`` and after ``deploy``/``rollback``."""
    lines = [
        f"deployment {dep.id} ({dep.kind.value}) to {dep.env}: {dep.state.value}",
        f"  artifact  {dep.digest}",
        f"  version   {dep.previous_version or '(none)'} → {dep.version or '(none)'}",
        f"  by        {dep.actor} at {iso(dep.created_at)}",
    ]
    if dep.configuration_digest is not None:
        settings = "; ".join(f"{k} {v}" for k, v in described(dep.configuration)) or "none managed"
        lines.append(f"  settings  {settings} (digest {dep.configuration_digest[:12]})")
    if dep.traffic:
        lines.append("  traffic   " + " → ".join(_step_text(step) for step in dep.traffic))
    lines += [f"  function  {line}" for line in function_lines(dep)]
    if dep.reason:
        lines.append(f"  reason    {dep.reason}")
    if dep.error:
        lines.append(f"  error     {dep.error}")
    for t in dep.transitions:
        note = f" — {t.note}" if t.note else ""
        lines.append(f"  {iso(t.at)}  {t.state.value}{note}")
    for c in dep.checks:
        mark = "pass" if c.ok else "FAIL"
        lines.append(f"  check {c.name} [{c.phase}] {mark} {c.latency_ms:.0f} ms: {c.detail}")
    rb = dep.rollback_record
    if rb is not None:
        lines.append(
            f"  rollback  to version {rb.to_version or '(none)'}; "
            f"verified: {rb.verified}" + (f"; {rb.note}" if rb.note else "")
        )
    return lines


def _step_text(step: dict[str, Any]) -> str:
    mark = {True: "ok", False: "FAILED", None: "…"}.get(step.get("ok"), "?")
    percent = step.get("percent")
    return f"{percent:g}% {mark}" if isinstance(percent, int | float) else f"? {mark}"


def request_json(request: ApprovalRequest, verdict: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": request.id,
        "env": request.env,
        "digest": request.digest,
        "state": verdict.state if verdict is not None else request.state.value,
        "expires_at": iso(request.expires_at),
        "requested_by": request.requested_by,
        "requested_at": iso(request.requested_at),
        "decisions": [_decision_json(d) for d in request.decisions],
        "evidence": request.evidence,
    }
    if verdict is not None:
        body["missing"] = list(verdict.missing)
    return body


def _decision_json(decision: ApprovalDecision) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reviewer": decision.reviewer,
        "approve": decision.approve,
        "comment": decision.comment,
        "at": iso(decision.at),
        "via": decision.source,
    }
    if decision.issuer is not None:  # DESIGN §11.7: proven by an OIDC issuer in ``serve``
        body["issuer"] = decision.issuer
        body["subject"] = decision.subject
    return body
