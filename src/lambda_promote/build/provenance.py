"""Where a build came from: the git commit, its committer time and the branch, when there is
a repository.

Provenance goes into the artifact's manifest only, never into the zip or its digest: the same
source built from two commits is the same artifact. Git may be missing, the folder may not be
a repository, CI may check out a detached HEAD; each case yields ``None`` rather than an error.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_GIT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Provenance:
    commit: str | None
    branch: str | None
    # When ``commit`` was committed (UTC): where DORA lead time starts (DESIGN §11.8).
    committed_at: datetime | None = None


def read_provenance(folder: Path, *, env: Mapping[str, str] | None = None) -> Provenance:
    """Commit and branch of ``folder``'s repository, with GitHub Actions' variables filling
    what a CI checkout lacks (a pull request is checked out as a detached merge commit)."""
    env = os.environ if env is None else env
    commit = _git(folder, "rev-parse", "HEAD") or env.get("GITHUB_SHA") or None
    branch = _git(folder, "rev-parse", "--abbrev-ref", "HEAD")
    if branch == "HEAD":  # detached
        branch = None
    branch = env.get("GITHUB_HEAD_REF") or branch or env.get("GITHUB_REF_NAME") or None
    return Provenance(commit=commit, branch=branch, committed_at=_committed_at(folder, commit))


def _committed_at(folder: Path, commit: str | None) -> datetime | None:
    """The committer time of ``commit`` — not the author time, which a rebase or cherry-pick
    keeps from long before the change reached the branch. None when the repository does not
    have the commit (e.g. only ``GITHUB_SHA`` named it) or git prints something unexpected."""
    if commit is None:
        return None
    shown = _git(folder, "show", "-s", "--no-show-signature", "--format=%cI", commit)
    if shown is None:
        return None
    try:
        # The last line: a signature check some git configurations add comes before it.
        at = datetime.fromisoformat(shown.splitlines()[-1].strip())
    except ValueError:
        return None
    return at.astimezone(UTC) if at.tzinfo is not None else None


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = done.stdout.strip()
    return out if done.returncode == 0 and out else None
