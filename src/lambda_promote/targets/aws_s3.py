"""The S3 calls of the artifact store (artifacts_s3.py), as small typed methods on a boto3
client for one bucket. Errors are translated by aws.py, the module that owns boto3; a missing
object is an answer (None), not an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from lambda_promote.targets.aws import translated
from lambda_promote.targets.aws_lambda import code_sha256, digest_of

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int
    etag: str
    sha256: str  # our hex digest, from the object's ChecksumSHA256 or metadata; "" unknown


@dataclass(frozen=True)
class Fetched:
    outcome: Literal["downloaded", "unchanged", "missing"]
    etag: str = ""


class S3Api:
    """The S3 calls of the artifact store, on one bucket."""

    def __init__(self, client: S3Client, *, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def head(self, key: str) -> S3Object | None:
        with translated("reading", where=self.url(key), absent=_MISSING) as call:
            found = self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        if call.missing:
            return None
        checksum = digest_of(found.get("ChecksumSHA256", "") or "")
        return S3Object(
            key=key,
            size=int(found.get("ContentLength", 0)),
            etag=str(found.get("ETag", "")),
            sha256=checksum or found.get("Metadata", {}).get("sha256", ""),
        )

    def put_file(self, key: str, path: Path, *, digest: str) -> str:
        """Upload with S3's own SHA-256 check of the bytes it receives; returns the ETag."""
        with translated("uploading", where=self.url(key)), path.open("rb") as body:
            answer = self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ChecksumSHA256=code_sha256(digest),
                Metadata={"sha256": digest},
                ContentType="application/zip",
            )
        return str(answer.get("ETag", ""))

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None:
        with translated("uploading", where=self.url(key)):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get_bytes(self, key: str) -> bytes | None:
        with translated("reading", where=self.url(key), absent=_MISSING) as call:
            data = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return None if call.missing else data

    def download(self, key: str, out: IO[bytes], *, if_none_match: str | None) -> Fetched:
        """Write the object to the binary stream ``out``, unless it still has the ETag
        ``if_none_match`` (then nothing is written) or does not exist."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if if_none_match:
            params["IfNoneMatch"] = if_none_match
        with translated("downloading", where=self.url(key), absent={"304", *_MISSING}) as call:
            answer = self.client.get_object(**params)
            for chunk in answer["Body"].iter_chunks(1 << 20):
                out.write(chunk)
        if call.missing:
            return Fetched("unchanged" if call.code == "304" else "missing")
        return Fetched("downloaded", etag=str(answer.get("ETag", "")))

    def keys(self, prefix: str) -> Iterator[str]:
        with translated("listing", where=self.url(prefix)):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield str(item["Key"])
