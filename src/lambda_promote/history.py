"""Reading an environment's history: which version a manual rollback goes to (DESIGN §5.4).

Pure. "Good" versions are those a deployment verified (state ``succeeded``), in the order they
first went live. A version somebody rolled back *away from* by hand is no longer good: a person
judged it bad even though its checks passed.
"""

from __future__ import annotations

from collections.abc import Sequence

from lambda_promote.model import Deployment, DeploymentKind, DeploymentState


def good_versions(history: Sequence[Deployment]) -> list[tuple[str, str]]:
    """``(version, digest)`` of verified deployments, oldest first, each version once;
    ``history`` is oldest first."""
    abandoned = {
        d.previous_version
        for d in history
        if d.kind is DeploymentKind.ROLLBACK and d.state is DeploymentState.SUCCEEDED
    }
    seen: dict[str, str] = {}
    for d in history:
        if (
            d.kind is DeploymentKind.DEPLOY
            and d.state is DeploymentState.SUCCEEDED
            and d.version is not None
            and d.version not in abandoned
        ):
            seen.setdefault(d.version, d.digest)
    return list(seen.items())


def rollback_candidate(
    history: Sequence[Deployment], current: str | None
) -> tuple[str, str] | None:
    """The last good version that went live before ``current``; with ``current`` unknown to
    the history, the newest good version. None when there is nothing to go to."""
    return candidate_from_good(list(reversed(good_versions(history))), current)


def was_ever_good(history: Sequence[Deployment], version: str) -> bool:
    return any(d.version == version and d.state is DeploymentState.SUCCEEDED for d in history)


def candidate_from_good(
    good: Sequence[tuple[str, str]], current: str | None
) -> tuple[str, str] | None:
    """The same rule over a target's own record of good versions (newest first), for a
    machine whose ledger has no history: the good version recorded before ``current``."""
    versions = [v for v, _ in good]
    if current in versions:
        index = versions.index(current)
        return good[index + 1] if index + 1 < len(good) else None
    return good[0] if good else None
