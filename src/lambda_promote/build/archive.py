"""The deterministic zip: the same entries give the same bytes on any machine.

Every varying field of the zip format is pinned: entries in sorted order, the DOS epoch as
every timestamp, mode 0644 (0755 for executables) as a Unix regular file, one compression
level, no directory entries (Lambda and Python's import system need none), no extra fields,
no comment. Only the files' bytes and names reach the archive.

The headers are written here rather than by ``zipfile``, so that entries can be deflated ahead
in threads and taken from the deflate cache (``deflate.py``); the bytes are exactly those
``zipfile.ZipFile.writestr`` writes for the same entries (a test compares them), so digests did
not change with this. One caveat: the deflate output is that of the zlib Python links against.
Stock zlib has been stable for years; a build against zlib-ng (some distributions) gives other
bytes.
"""

from __future__ import annotations

import itertools
import os
import stat
import struct
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lambda_promote.artifacts import sha256_file
from lambda_promote.build.deflate import DeflateCache, Deflated, deflate_file
from lambda_promote.build.sources import ZipEntry
from lambda_promote.errors import BuildError

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)

# The records of the zip format (APPNOTE.TXT 4.3), as zipfile packs them.
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_END64_LOCATOR = struct.Struct("<4sLQL")
_VERSION = 20  # 2.0, deflate: "made by" and "needed to extract"
_VERSION64 = 45  # 4.5: the ZIP64 end record, for more than 65,535 entries
_UNIX = 3
_DEFLATED = 8
_UTF8_NAME = 0x800
_DOS_TIME, _DOS_DATE = 0, (1 << 5) | 1  # 1980-01-01 00:00:00
_MAX_ENTRIES = 0xFFFF
_MAX_SIZE = (1 << 31) - 1  # beyond it zipfile switches to ZIP64; Lambda's 250 MB never gets near
_AHEAD = 32  # entries deflated ahead of the one being written: bounds the memory held


@dataclass(frozen=True)
class ZipResult:
    digest: str
    size: int
    files: tuple[str, ...]


def write_zip(
    entries: Sequence[ZipEntry], destination: Path, *, cache: DeflateCache | None = None
) -> ZipResult:
    """Write ``entries`` (sorted here, whatever order they come in) to ``destination``;
    ``cache`` keeps each file's deflated form for the next build."""
    ordered = sorted(entries, key=lambda e: e.name)
    _refuse_duplicates(ordered)
    prepare = cache.deflated if cache is not None else deflate_file
    with destination.open("wb") as out, ThreadPoolExecutor(_threads()) as pool:
        deflated = _in_order(pool, prepare, [e.path for e in ordered])
        _write(out, ordered, deflated)
    return ZipResult(
        digest=sha256_file(destination),
        size=destination.stat().st_size,
        files=tuple(e.name for e in ordered),
    )


def _write(out: BinaryIO, ordered: Sequence[ZipEntry], deflated: Iterator[Deflated]) -> None:
    central = bytearray()
    offset = 0
    for entry, item in zip(ordered, deflated, strict=True):
        name, flags = _encoded(entry.name)
        _refuse_oversized(item.size * 1.05, offset)  # zipfile allows deflate 5 % growth
        sizes = (item.crc, len(item.stream), item.size, len(name))
        out.write(
            _LOCAL.pack(b"PK\3\4", _VERSION, 0, flags, _DEFLATED, _DOS_TIME, _DOS_DATE, *sizes, 0)
        )
        out.write(name)
        out.write(item.stream)
        mode = stat.S_IFREG | (0o755 if entry.executable else 0o644)
        central += _CENTRAL.pack(
            b"PK\1\2", _VERSION, _UNIX, _VERSION, 0, flags, _DEFLATED, _DOS_TIME, _DOS_DATE,
            *sizes, 0, 0, 0, 0, mode << 16, offset,
        )  # fmt: skip
        central += name
        offset += _LOCAL.size + len(name) + len(item.stream)
    _refuse_oversized(offset, len(central))
    out.write(central)
    count = len(ordered)
    if count > _MAX_ENTRIES:
        end = offset + len(central)
        out.write(
            _END64.pack(
                b"PK\6\6", 44, _VERSION64, _VERSION64, 0, 0, count, count, len(central), offset
            )
        )
        out.write(_END64_LOCATOR.pack(b"PK\6\7", 0, end, 1))
        count = _MAX_ENTRIES
    out.write(_END.pack(b"PK\5\6", 0, 0, count, count, len(central), offset, 0))


def _in_order(
    pool: ThreadPoolExecutor, prepare: Callable[[Path], Deflated], paths: Sequence[Path]
) -> Iterator[Deflated]:
    """``prepare(path)`` for each path, in order, computed up to ``_AHEAD`` entries early."""
    upcoming = iter(paths)
    pending: deque[Future[Deflated]] = deque(
        pool.submit(prepare, path) for path in itertools.islice(upcoming, _AHEAD)
    )
    while pending:
        done = pending.popleft().result()
        following = next(upcoming, None)
        if following is not None:
            pending.append(pool.submit(prepare, following))
        yield done


def _threads() -> int:
    return min(8, os.cpu_count() or 1)


def _encoded(name: str) -> tuple[bytes, int]:
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), _UTF8_NAME


def _refuse_oversized(*sizes: float) -> None:
    # Past 2 GiB zipfile would write ZIP64 records; Lambda takes 250 MB unzipped anyway.
    if max(sizes) > _MAX_SIZE:
        raise BuildError(
            "the zip would be larger than 2 GiB",
            hint="Lambda takes at most 250 MB unzipped: exclude what the function does not "
            "need ('function.exclude'), or ship large data in a layer or S3",
        )


def _refuse_duplicates(ordered: Sequence[ZipEntry]) -> None:
    for before, after in itertools.pairwise(ordered):
        if before.name == after.name:
            raise BuildError(
                f"two files would have the same path {before.name} in the zip "
                f"({before.path} and {after.path})",
                hint="rename one of them",
            )
