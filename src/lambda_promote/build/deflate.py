"""Deflating the zip's entries: in parallel, and each distinct file only once.

Compression is most of a build once the dependencies are installed (≈ 0.3 s of 9 MB for the
benchmark's sample), and almost all of it is the same dependency files every time. So each
entry's raw deflate stream is kept in ``cache/deflate/``, addressed by the sha256 of the
uncompressed bytes: deflating is a pure function of those bytes (fixed level and window), so a
file seen before — a dependency after a source-only change, or in a layer with one more
requirement — costs a hash and a read. What is new is deflated in threads (zlib and sha256
release the GIL).

A cached stream carries the sha256 of itself and is refused when that does not match: a
damaged cache entry is deflated again, never zipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

COMPRESS_LEVEL = 6
_RAW_DEFLATE = -15  # no zlib header or trailer: what a zip entry holds
_DIGEST_BYTES = 32


@dataclass(frozen=True)
class Deflated:
    crc: int  # CRC-32 of the uncompressed bytes, as the zip headers want it
    size: int  # uncompressed
    stream: bytes  # raw deflate


def deflate(data: bytes) -> Deflated:
    """The entry for ``data``, as ``zipfile`` writes it at ``COMPRESS_LEVEL``."""
    compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, _RAW_DEFLATE)
    return Deflated(zlib.crc32(data), len(data), compressor.compress(data) + compressor.flush())


def deflate_file(path: Path) -> Deflated:
    """The file at ``path``, deflated (no cache)."""
    return deflate(path.read_bytes())


class DeflateCache:
    """``<folder>/zlib-<version>-<level>/<sha256 of the data: 2 hex>/<62 hex>`` holds the
    sha256 of the stream, then the stream. Another zlib may deflate differently, so each
    version has its own entries and a build never mixes the output of two."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / f"zlib-{zlib.ZLIB_RUNTIME_VERSION}-{COMPRESS_LEVEL}"

    def deflated(self, path: Path) -> Deflated:
        """The file at ``path``, deflated now or found deflated before."""
        data = path.read_bytes()
        key = hashlib.sha256(data).hexdigest()
        stream = self._read(key)
        if stream is not None:
            return Deflated(zlib.crc32(data), len(data), stream)
        made = deflate(data)
        self._write(key, made.stream)
        return made

    def _entry(self, key: str) -> Path:
        return self.folder / key[:2] / key[2:]

    def _read(self, key: str) -> bytes | None:
        try:
            stored = self._entry(key).read_bytes()
        except OSError:
            return None
        checksum, stream = stored[:_DIGEST_BYTES], stored[_DIGEST_BYTES:]
        if len(checksum) != _DIGEST_BYTES or hashlib.sha256(stream).digest() != checksum:
            return None
        return stream

    def _write(self, key: str, stream: bytes) -> None:
        # Not atomic and not synced, on purpose: a torn or half-written entry fails its
        # checksum and is deflated again, and a cache that cannot be written at all only
        # makes the next build slower. (An fsync per file cost a cold build 0.1 s.)
        entry = self._entry(key)
        with contextlib.suppress(OSError):
            entry.parent.mkdir(parents=True, exist_ok=True)
            entry.write_bytes(hashlib.sha256(stream).digest() + stream)
