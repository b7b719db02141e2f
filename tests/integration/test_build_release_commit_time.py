"""The commit a release of many functions carries (DESIGN §11.4, §11.8): that of its most
recently committed function, so its lead time starts at its newest change — a function
unchanged since an older build keeps that build's commit — and the commit time survives the
store's manifest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from lambda_promote.artifacts import DirectoryStore
from lambda_promote.build import BuildResult
from lambda_promote.build.release import MANIFEST_RUNTIME, store_manifest
from lambda_promote.model import Artifact

OLD = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
NEW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _built(digest: str, commit: str | None, committed_at: datetime | None) -> BuildResult:
    artifact = Artifact(
        digest=digest, size=1, path="", commit=commit, branch="main", committed_at=committed_at
    )
    return BuildResult(artifact=artifact, cached=committed_at == OLD)


def test_a_release_carries_the_commit_and_time_of_its_newest_change(tmp_path: Path) -> None:
    results = {
        "api": _built("a" * 64, "c-old", OLD),  # cached: built at an older commit
        "worker": _built("b" * 64, "c-new", NEW),
    }
    store = DirectoryStore(tmp_path / "store")

    manifest, stored_now = store_manifest(results, store=store, builder="alice")

    assert stored_now
    assert manifest.runtime == MANIFEST_RUNTIME
    assert (manifest.commit, manifest.committed_at) == ("c-new", NEW)
    reread = store.get(manifest.digest)
    assert (reread.commit, reread.committed_at) == ("c-new", NEW)


def test_without_commit_times_a_release_carries_its_first_function_s_commit(
    tmp_path: Path,
) -> None:
    results = {"worker": _built("b" * 64, "c-2", None), "api": _built("a" * 64, "c-1", None)}

    manifest, _ = store_manifest(results, store=DirectoryStore(tmp_path / "s"), builder="bob")

    assert (manifest.commit, manifest.committed_at) == ("c-1", None)
