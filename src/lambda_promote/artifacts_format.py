"""The artifact stores' shared format: the manifest JSON beside each zip, hashing, atomic
writes and lookup by digest prefix. Used by the directory store (artifacts.py) and the S3
store (artifacts_s3.py) alike, so neither imports the other's module.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from lambda_promote.errors import ArtifactError, UsageError
from lambda_promote.model import DIGEST_PREFIX_LEN, Artifact

MANIFEST_FORMAT = 1
MIN_PREFIX_LEN = 4
_HEX_RE = re.compile(r"^[0-9a-f]+$")
CHUNK = 1 << 20


def resolve_prefix(
    digest_or_prefix: str,
    candidates: Callable[[str], Iterable[str]],
    *,
    get: Callable[[str], Artifact],
    where: str,
    hint: str = "",
) -> Artifact:
    """The one stored artifact whose digest starts with ``digest_or_prefix`` (≥ 4 hex
    characters); ``UsageError`` when it is malformed, unknown or ambiguous. ``candidates``
    lists the stored digests starting with a prefix."""
    wanted = digest_or_prefix.strip().lower()
    if len(wanted) < MIN_PREFIX_LEN or not _HEX_RE.match(wanted):
        raise UsageError(
            f"{digest_or_prefix!r} is not an artifact digest",
            hint=f"give the sha256 digest or a prefix of at least {MIN_PREFIX_LEN} hex "
            "characters, as printed by 'lambda-promote build'",
        )
    matches = sorted(set(candidates(wanted)))
    if len(matches) == 1:
        return get(matches[0])
    if not matches:
        raise UsageError(
            f"no artifact {wanted} in {where}",
            hint=hint or "build one with 'lambda-promote build'",
        )
    shown = ", ".join(d[:DIGEST_PREFIX_LEN] for d in matches[:5])
    raise UsageError(
        f"artifact prefix {wanted} is ambiguous: it matches {shown}",
        hint="give more characters of the digest",
    )


def sha256_file(path: Path) -> str:
    """Lowercase hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def atomic_file(final: Path) -> Iterator[IO[bytes]]:
    """Write to a temporary sibling and rename over ``final`` only when complete, so a
    reader sees either nothing or the whole file."""
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename (creating its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as out:
        out.write(data)


def manifest_dict(artifact: Artifact) -> dict[str, Any]:
    """The manifest as JSON data. The zip's location is not recorded: a store folder may
    move (e.g. travel between CI jobs), so the path is filled in when read."""
    return {
        "format": MANIFEST_FORMAT,
        "digest": artifact.digest,
        "size": artifact.size,
        "runtime": artifact.runtime,
        "architecture": artifact.architecture,
        "inputs_hash": artifact.inputs_hash,
        "commit": artifact.commit,
        "branch": artifact.branch,
        "builder": artifact.builder,
        "built_at": artifact.built_at.isoformat() if artifact.built_at else None,
        "committed_at": artifact.committed_at.isoformat() if artifact.committed_at else None,
        "files": list(artifact.files),
    }


def manifest_bytes(artifact: Artifact) -> bytes:
    return (json.dumps(manifest_dict(artifact), indent=2, sort_keys=True) + "\n").encode()


def artifact_from_manifest(data: Any, *, digest: str, path: Path) -> Artifact:
    if not isinstance(data, dict) or data.get("digest") != digest:
        raise ArtifactError(
            f"the manifest of artifact {digest[:DIGEST_PREFIX_LEN]} does not describe it",
            hint="delete it and build again with 'lambda-promote build'",
        )
    built_at, committed_at = data.get("built_at"), data.get("committed_at")
    return Artifact(
        digest=digest,
        size=int(data.get("size", 0)),
        path=str(path),
        files=tuple(str(f) for f in data.get("files", ())),
        inputs_hash=str(data.get("inputs_hash", "")),
        commit=data.get("commit"),
        branch=data.get("branch"),
        builder=str(data.get("builder", "")),
        built_at=datetime.fromisoformat(built_at) if built_at else None,
        runtime=str(data.get("runtime", "")),
        architecture=str(data.get("architecture", "")),
        committed_at=datetime.fromisoformat(committed_at) if committed_at else None,
    )
