"""The S3 artifact store (``artifacts: s3://bucket/prefix``): ``artifacts.ArtifactStore`` on a
bucket, content-addressed like ``DirectoryStore``, so staging and production share one object.

    s3://<bucket>/<prefix>/<digest>.zip     the artifact's bytes (S3 checks their SHA-256)
    s3://<bucket>/<prefix>/<digest>.json    its manifest (artifacts.manifest_dict)
    <cache_dir>/<digest>.zip, .etag         the last verified download and the ETag it had

``put`` never uploads a digest twice: it asks S3 first (HEAD), so a promotion or a re-run
reuses the staging object. ``verified_path`` serves a local copy whose bytes it has just hashed
to the digest: a cached copy is used only while the object keeps the ETag it had when
downloaded (a conditional GET), anything else is downloaded again, and bytes that do not hash
to their name are refused (DESIGN §5.1). The S3 calls come from targets/aws_s3.py; boto3
stays in targets/aws.py (STYLE 1).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

from lambda_promote.artifacts_format import (
    artifact_from_manifest,
    manifest_dict,
    resolve_prefix,
    sha256_file,
    write_atomically,
)
from lambda_promote.errors import ArtifactError, UsageError
from lambda_promote.model import DIGEST_PREFIX_LEN, Artifact
from lambda_promote.targets.aws_s3 import S3Api

_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
_HEX_RE = re.compile(r"^[0-9a-f]+$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def open_s3_store(spec: str, *, root: Path, cache_dir: Path) -> S3Store:
    """The store named by ``artifacts: s3://bucket/prefix``; a relative ``cache_dir`` is
    relative to ``root`` (the folder holding promote.yaml)."""
    from lambda_promote.targets.aws import s3_client

    bucket, prefix = parse_s3_spec(spec)
    cache = cache_dir if cache_dir.is_absolute() else root / cache_dir
    return S3Store(S3Api(s3_client(), bucket=bucket), prefix=prefix, cache_dir=cache)


def parse_s3_spec(spec: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` → ``("bucket", "some/prefix")``."""
    bucket, _, prefix = spec.removeprefix("s3://").partition("/")
    if not spec.startswith("s3://") or not _BUCKET_RE.match(bucket):
        raise UsageError(
            f"artifacts: {spec}: not an S3 bucket URL",
            hint="write it as s3://bucket/prefix (a bucket name of 3-63 lowercase letters, "
            "digits, dots and hyphens)",
        )
    return bucket, prefix.strip("/")


class S3Store:
    def __init__(self, api: S3Api, *, prefix: str, cache_dir: Path) -> None:
        self.api = api
        self.prefix = prefix.strip("/")
        self.cache_dir = cache_dir

    def __repr__(self) -> str:
        return f"S3Store({self.api.url(self.prefix)!r})"

    def zip_key(self, digest: str) -> str:
        return self._key(f"{digest}.zip")

    def manifest_key(self, digest: str) -> str:
        return self._key(f"{digest}.json")

    def put(self, zip_path: Path, artifact: Artifact) -> Artifact:
        digest = _require_digest(artifact.digest)
        actual = sha256_file(zip_path)
        if actual != digest:
            raise ArtifactError(
                f"refusing to store {zip_path}: its bytes hash to {actual}, "
                f"not to the digest {digest} it was given",
                hint="the file changed while it was being stored; build again",
            )
        existing = self.api.head(self.zip_key(digest))
        if existing is None or existing.sha256 != digest:
            # Absent, or an object that does not say it holds these bytes: (re)upload.
            etag = self.api.put_file(self.zip_key(digest), zip_path, digest=digest)
            self._cache_copy(zip_path, digest, etag)
        if self.api.get_bytes(self.manifest_key(digest)) is None:
            manifest = json.dumps(manifest_dict(artifact), indent=2, sort_keys=True) + "\n"
            self.api.put_bytes(
                self.manifest_key(digest), manifest.encode(), content_type="application/json"
            )
        return self.get(digest)

    def get(self, digest: str) -> Artifact:
        _require_digest(digest)
        key = self.manifest_key(digest)
        raw = self.api.get_bytes(key)
        if raw is None:
            raise ArtifactError(
                f"artifact {digest[:DIGEST_PREFIX_LEN]} is not in {self.api.url(self.prefix)}",
                hint="build it with 'lambda-promote build', or point 'artifacts' at the "
                "store that holds it",
            )
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ArtifactError(
                f"the manifest of artifact {digest[:DIGEST_PREFIX_LEN]} "
                f"({self.api.url(key)}) is unreadable: {exc}",
                hint="delete it and build again with 'lambda-promote build'",
            ) from None
        artifact = artifact_from_manifest(data, digest=digest, path=Path(digest))
        return replace(artifact, path=self.api.url(self.zip_key(digest)))

    def resolve(self, digest_or_prefix: str) -> Artifact:
        # S3 lists by key prefix, so only the candidates are ever listed.
        return resolve_prefix(
            digest_or_prefix, self._digests, get=self.get, where=self.api.url(self.prefix)
        )

    def verified_path(self, digest: str) -> Path:
        _require_digest(digest)
        cached = self.cache_dir / f"{digest}.zip"
        etag_file = self.cache_dir / f"{digest}.etag"
        known = _read_text(etag_file) if cached.is_file() else None
        fetched = self._fetch(digest, if_none_match=known)
        if fetched == "unchanged":
            if sha256_file(cached) == digest:
                return cached
            fetched = self._fetch(digest, if_none_match=None)  # the local copy went bad
        assert fetched != "unchanged"
        return cached

    # --- pieces ------------------------------------------------------------------------------

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def _digests(self, start: str) -> list[str]:
        names = (key.rpartition("/")[2] for key in self.api.keys(self._key(start)))
        return [n[:-5] for n in names if n.endswith(".json") and _DIGEST_RE.match(n[:-5])]

    def _fetch(self, digest: str, *, if_none_match: str | None) -> str:
        """Download the object into the cache unless it still has the ETag ``if_none_match``;
        the bytes replace the cached copy only once they hash to ``digest``."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        url = self.api.url(self.zip_key(digest))
        partial = self.cache_dir / f".{digest}.{os.getpid()}.part"
        try:
            with partial.open("wb") as out:
                fetched = self.api.download(self.zip_key(digest), out, if_none_match=if_none_match)
            if fetched.outcome == "missing":
                raise ArtifactError(
                    f"artifact {digest[:DIGEST_PREFIX_LEN]} has no zip at {url}",
                    hint="build it again with 'lambda-promote build'",
                )
            if fetched.outcome == "unchanged":
                return fetched.outcome
            actual = sha256_file(partial)
            if actual != digest:
                raise ArtifactError(
                    f"artifact {digest[:DIGEST_PREFIX_LEN]} was modified in the bucket: "
                    f"{url} hashes to {actual}, not {digest}",
                    hint="nothing was deployed; rebuild with 'lambda-promote build' (which "
                    "uploads the right bytes again) and find out who wrote to the bucket",
                )
            os.replace(partial, self.cache_dir / f"{digest}.zip")
        finally:
            partial.unlink(missing_ok=True)
        write_atomically(self.cache_dir / f"{digest}.etag", fetched.etag.encode())
        return fetched.outcome

    def _cache_copy(self, zip_path: Path, digest: str, etag: str) -> None:
        """Keep the uploaded bytes as the verified copy, so this machine need not download."""
        write_atomically(self.cache_dir / f"{digest}.zip", zip_path.read_bytes())
        write_atomically(self.cache_dir / f"{digest}.etag", etag.encode())

    # Last: inside the class body the name ``list`` means this method from here on.
    def list(self) -> list[Artifact]:
        found: list[Artifact] = []
        for digest in sorted(set(self._digests(""))):
            try:
                found.append(self.get(digest))
            except ArtifactError:
                continue  # a half-written entry is not an artifact; get() names it when asked
        stamp = {a.digest: a.built_at.timestamp() if a.built_at else 0.0 for a in found}
        return sorted(found, key=lambda a: (-stamp[a.digest], a.digest))


def _require_digest(digest: str) -> str:
    if not _DIGEST_RE.match(digest):
        raise ArtifactError(
            f"{digest!r} is not a full sha256 digest",
            hint="resolve a prefix to the full digest first (ArtifactStore.resolve)",
        )
    return digest


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
