"""The content-addressed artifact store: names are digests, bytes are checked on the way out."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lambda_promote.artifacts import DirectoryStore, open_store
from lambda_promote.errors import ArtifactError, UsageError
from lambda_promote.model import Artifact

BUILT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _zip(tmp_path: Path, content: bytes) -> tuple[Path, str]:
    path = tmp_path / f"in-{hashlib.sha256(content).hexdigest()[:8]}.zip"
    path.write_bytes(content)
    return path, hashlib.sha256(content).hexdigest()


def _artifact(
    digest: str, *, size: int = 0, built_at: datetime = BUILT, builder: str = "alice"
) -> Artifact:
    return Artifact(
        digest=digest,
        size=size,
        path="",
        files=("app.py", "lib/x.py"),
        inputs_hash="i" * 64,
        commit="c0ffee",
        branch="main",
        builder=builder,
        built_at=built_at,
        runtime="python3.12",
        architecture="arm64",
    )


def _put(
    store: DirectoryStore,
    tmp_path: Path,
    content: bytes,
    *,
    built_at: datetime = BUILT,
    builder: str = "alice",
) -> Artifact:
    path, digest = _zip(tmp_path, content)
    return store.put(path, _artifact(digest, size=len(content), built_at=built_at, builder=builder))


def test_stored_artifact_keeps_its_manifest_and_points_at_the_stored_zip(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    stored = _put(store, tmp_path, b"zip bytes")

    again = store.get(stored.digest)
    assert again == stored
    assert Path(again.path) == store.root / f"{stored.digest}.zip"
    assert Path(again.path).read_bytes() == b"zip bytes"
    assert (again.commit, again.branch, again.builder) == ("c0ffee", "main", "alice")
    assert (again.runtime, again.architecture, again.size) == ("python3.12", "arm64", 9)
    assert again.files == ("app.py", "lib/x.py")
    assert again.built_at == BUILT


def test_store_leaves_no_temporary_files_behind(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    stored = _put(store, tmp_path, b"zip bytes")
    assert sorted(p.name for p in store.root.iterdir()) == [
        f"{stored.digest}.json",
        f"{stored.digest}.zip",
    ]


def test_store_refuses_bytes_that_do_not_hash_to_the_digest(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    path, _ = _zip(tmp_path, b"real bytes")
    wrong = hashlib.sha256(b"other bytes").hexdigest()
    with pytest.raises(ArtifactError, match="hash to"):
        store.put(path, _artifact(wrong))
    assert not (store.root / f"{wrong}.zip").exists()
    assert not (store.root / f"{wrong}.json").exists()


def test_storing_the_same_bytes_again_keeps_the_first_provenance(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    first = _put(store, tmp_path, b"same", builder="alice")
    second = _put(store, tmp_path, b"same", builder="bob")
    assert second.builder == "alice"
    assert store.get(first.digest).builder == "alice"


def test_a_tampered_zip_is_replaced_when_the_same_bytes_are_stored_again(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    stored = _put(store, tmp_path, b"original")
    Path(stored.path).write_bytes(b"evil")
    _put(store, tmp_path, b"original")
    assert store.verified_path(stored.digest).read_bytes() == b"original"


def test_verified_path_refuses_bytes_modified_on_disk(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    stored = _put(store, tmp_path, b"original")
    assert store.verified_path(stored.digest).read_bytes() == b"original"

    Path(stored.path).write_bytes(b"evil")
    with pytest.raises(ArtifactError, match="modified on disk") as caught:
        store.verified_path(stored.digest)
    assert hashlib.sha256(b"evil").hexdigest() in caught.value.message
    assert caught.value.hint


def test_verified_path_of_a_missing_zip_is_an_artifact_error(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    stored = _put(store, tmp_path, b"original")
    Path(stored.path).unlink()
    with pytest.raises(ArtifactError, match="no zip"):
        store.verified_path(stored.digest)


def test_get_of_an_unknown_digest_says_how_to_get_one(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    with pytest.raises(ArtifactError) as caught:
        store.get("a" * 64)
    assert "lambda-promote build" in caught.value.hint


def test_an_unreadable_manifest_is_an_artifact_error_not_a_traceback(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    stored = _put(store, tmp_path, b"original")
    (store.root / f"{stored.digest}.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="unreadable"):
        store.get(stored.digest)


def test_resolve_accepts_a_full_digest_and_a_unique_prefix(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    stored = _put(store, tmp_path, b"one")
    _put(store, tmp_path, b"two")
    assert store.resolve(stored.digest) == stored
    assert store.resolve(stored.digest[:12]) == stored
    assert store.resolve(stored.digest[:12].upper()) == stored


def test_resolve_refuses_an_ambiguous_prefix(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    # Two contents whose digests share the first four hex characters.
    found: dict[str, bytes] = {}
    counter = 0
    while True:
        content = str(counter).encode()
        prefix = hashlib.sha256(content).hexdigest()[:4]
        if prefix in found:
            break
        found[prefix] = content
        counter += 1
    _put(store, tmp_path, found[prefix])
    _put(store, tmp_path, content)
    with pytest.raises(UsageError, match="ambiguous"):
        store.resolve(prefix)


def test_resolve_of_an_unknown_digest_lists_recent_ones(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    stored = _put(store, tmp_path, b"one")
    unknown = "0000" if not stored.digest.startswith("0000") else "ffff"
    with pytest.raises(UsageError) as caught:
        store.resolve(unknown)
    assert stored.short in caught.value.hint


def test_resolve_in_an_empty_store_says_to_build(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        DirectoryStore(tmp_path / "nothing-here").resolve("abcd")
    assert "lambda-promote build" in caught.value.hint


@pytest.mark.parametrize("bad", ["abc", "not-hex-at-all", "", "g" * 64])
def test_resolve_refuses_what_is_not_a_digest(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UsageError, match="not an artifact digest"):
        DirectoryStore(tmp_path).resolve(bad)


def test_list_shows_newest_first(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    old = _put(store, tmp_path, b"old", built_at=BUILT)
    new = _put(store, tmp_path, b"new", built_at=BUILT + timedelta(hours=1))
    assert [a.digest for a in store.list()] == [new.digest, old.digest]


def test_a_moved_store_folder_still_finds_its_zips(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "here")
    stored = _put(store, tmp_path, b"travels")
    shutil.move(tmp_path / "here", tmp_path / "there")
    moved = DirectoryStore(tmp_path / "there")
    assert moved.verified_path(stored.digest).read_bytes() == b"travels"
    assert Path(moved.get(stored.digest).path).parent == tmp_path / "there"


def test_open_store_resolves_a_relative_folder_against_the_config_folder(tmp_path: Path) -> None:
    store = open_store(".lambda-promote/artifacts", root=tmp_path)
    assert isinstance(store, DirectoryStore)
    assert store.root == tmp_path / ".lambda-promote" / "artifacts"
    absolute = open_store(str(tmp_path / "abs"), root=Path("/elsewhere"))
    assert isinstance(absolute, DirectoryStore)
    assert absolute.root == tmp_path / "abs"


def test_open_store_routes_s3_urls_to_the_s3_store(tmp_path: Path, monkeypatch) -> None:
    from lambda_promote.artifacts_s3 import S3Store

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = open_store("s3://bucket/prefix", root=tmp_path)  # makes a client, sends nothing
    assert isinstance(store, S3Store)


def test_open_store_refuses_an_unknown_scheme(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown store"):
        open_store("ftp://host/x", root=tmp_path)


def test_s3_without_boto3_says_which_extra_to_install(tmp_path: Path, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "boto3" else real(name, *a)
    )
    with pytest.raises(UsageError, match="needs boto3") as raised:
        open_store("s3://bucket/prefix", root=tmp_path)
    assert "lambda-promote[aws]" in raised.value.hint
