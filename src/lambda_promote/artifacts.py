"""The content-addressed artifact store: where ``build`` leaves a zip and ``deploy`` finds it.

An artifact is named by its digest (sha256 of the zip bytes), so a name can never point at
other bytes. The store keeps the zip and a JSON manifest (the ``Artifact`` fields: size, file
list, inputs hash, provenance). Production reads an artifact only through ``verified_path``,
which hashes the bytes again, so a file edited on disk is refused (DESIGN §5.1).

The protocol is kept small and S3-shaped: a directory store now, an S3 store later (its
``verified_path`` would download into a local cache and check the same way).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

from lambda_promote.artifacts_format import (
    CHUNK,
    MANIFEST_FORMAT,
    MIN_PREFIX_LEN,
    artifact_from_manifest,
    atomic_file,
    manifest_bytes,
    manifest_dict,
    resolve_prefix,
    sha256_file,
    write_atomically,
)
from lambda_promote.errors import ArtifactError, UsageError
from lambda_promote.model import DIGEST_PREFIX_LEN, Artifact

__all__ = [
    "MANIFEST_FORMAT",
    "MIN_PREFIX_LEN",
    "ArtifactStore",
    "DirectoryStore",
    "artifact_from_manifest",
    "manifest_dict",
    "open_store",
    "resolve_prefix",
    "sha256_file",
    "write_atomically",
]

_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")


class ArtifactStore(Protocol):
    def put(self, zip_path: Path, artifact: Artifact) -> Artifact:
        """Store the bytes at ``zip_path`` under ``artifact.digest`` with its manifest.
        The bytes must hash to the digest (else ``ArtifactError``). Storing a digest that is
        already present and intact keeps the first manifest: an artifact never changes."""
        ...

    def get(self, digest: str) -> Artifact:
        """The manifest of a full digest; ``ArtifactError`` when absent or unreadable."""
        ...

    def resolve(self, digest_or_prefix: str) -> Artifact:
        """A full digest or a unique prefix (≥ 4 hex chars); ``UsageError`` otherwise."""
        ...

    def verified_path(self, digest: str) -> Path:
        """A local file whose bytes were just checked to hash to ``digest``."""
        ...

    def list(self) -> list[Artifact]:
        """Every stored artifact, newest first."""
        ...


def open_store(spec: str, *, root: Path) -> ArtifactStore:
    """The store named by promote.yaml's ``artifacts`` value; a relative path is relative
    to ``root`` (the folder holding promote.yaml)."""
    if spec.startswith("s3://"):
        from lambda_promote.targets import require_boto3

        require_boto3(needed_for=f"artifacts: {spec}")
        from lambda_promote.artifacts_s3 import open_s3_store

        return open_s3_store(spec, root=root, cache_dir=root / ".lambda-promote" / "s3-cache")
    if "://" in spec and not spec.startswith("file://"):
        raise UsageError(
            f"artifacts: {spec}: unknown store",
            hint="give a folder (relative to promote.yaml) or an s3://bucket/prefix URL",
        )
    path = Path(spec.removeprefix("file://")).expanduser()
    return DirectoryStore(path if path.is_absolute() else root / path)


class DirectoryStore:
    """``<root>/<digest>.zip`` and ``<root>/<digest>.json``; every write is atomic."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"DirectoryStore({str(self.root)!r})"

    def zip_path(self, digest: str) -> Path:
        return self.root / f"{digest}.zip"

    def manifest_path(self, digest: str) -> Path:
        return self.root / f"{digest}.json"

    def put(self, zip_path: Path, artifact: Artifact) -> Artifact:
        _require_digest(artifact.digest)
        existing = self._intact(artifact.digest)
        if existing is not None:
            return existing
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic_file(self.zip_path(artifact.digest)) as out:
            actual = _copy_hashing(zip_path, out)
            if actual != artifact.digest:  # raised inside: the file is never put in place
                raise ArtifactError(
                    f"refusing to store {zip_path}: its bytes hash to {actual}, "
                    f"not to the digest {artifact.digest} it was given",
                    hint="the file changed while it was being stored; build again",
                )
        write_atomically(self.manifest_path(artifact.digest), manifest_bytes(artifact))
        return self.get(artifact.digest)

    def get(self, digest: str) -> Artifact:
        _require_digest(digest)
        path = self.manifest_path(digest)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return artifact_from_manifest(data, digest=digest, path=self.zip_path(digest))
        except FileNotFoundError:
            raise ArtifactError(
                f"artifact {digest[:DIGEST_PREFIX_LEN]} is not in {self.root}",
                hint="build it with 'lambda-promote build', or point 'artifacts' at the "
                "store that holds it",
            ) from None
        except (OSError, ValueError, TypeError) as exc:
            raise ArtifactError(
                f"the manifest of artifact {digest[:DIGEST_PREFIX_LEN]} ({path}) is "
                f"unreadable: {exc}",
                hint="delete it and build again with 'lambda-promote build'",
            ) from None

    def resolve(self, digest_or_prefix: str) -> Artifact:
        return resolve_prefix(
            digest_or_prefix,
            lambda wanted: [d for d in self._digests() if d.startswith(wanted)],
            get=self.get,
            where=str(self.root),
            hint=self._recent_hint(),
        )

    def verified_path(self, digest: str) -> Path:
        _require_digest(digest)
        path = self.zip_path(digest)
        try:
            actual = sha256_file(path)
        except FileNotFoundError:
            raise ArtifactError(
                f"artifact {digest[:DIGEST_PREFIX_LEN]} has no zip at {path}",
                hint="build it again with 'lambda-promote build'",
            ) from None
        if actual != digest:
            raise ArtifactError(
                f"artifact {digest[:DIGEST_PREFIX_LEN]} was modified on disk: its bytes hash "
                f"to {actual}, not {digest}",
                hint="nothing was deployed; rebuild with 'lambda-promote build' or restore the "
                "original zip",
            )
        return path

    def list(self) -> list[Artifact]:
        found: list[Artifact] = []
        for digest in self._digests():
            try:
                found.append(self.get(digest))
            except ArtifactError:
                continue  # a half-deleted entry is not an artifact; get() names it when asked
        return sorted(found, key=_newest_first)

    def _digests(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for manifest in self.root.glob("*.json"):
            if _DIGEST_RE.match(manifest.stem):
                yield manifest.stem

    def _intact(self, digest: str) -> Artifact | None:
        """The stored artifact when both files are present and the bytes still match."""
        try:
            artifact = self.get(digest)
            self.verified_path(digest)
        except ArtifactError:
            return None
        return artifact

    def _recent_hint(self) -> str:
        recent = self.list()[:5]
        if not recent:
            return ""
        listed = ", ".join(a.short for a in recent)
        return f"recent artifacts: {listed} (or build one with 'lambda-promote build')"


def _newest_first(artifact: Artifact) -> tuple[float, str]:
    stamp = artifact.built_at.timestamp() if artifact.built_at else 0.0
    return (-stamp, artifact.digest)


def _require_digest(digest: str) -> None:
    if not _DIGEST_RE.match(digest):
        raise ArtifactError(
            f"{digest!r} is not a full sha256 digest",
            hint="resolve a prefix to the full digest first (ArtifactStore.resolve)",
        )


def _copy_hashing(source: Path, out: IO[bytes]) -> str:
    digest = hashlib.sha256()
    with source.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()
