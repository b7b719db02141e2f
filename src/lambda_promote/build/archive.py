"""The deterministic zip: the same entries give the same bytes on any machine.

Every varying field of the zip format is pinned: entries in sorted order, the DOS epoch as
every timestamp, mode 0644 (0755 for executables) as a Unix regular file, one compression
level, no directory entries (Lambda and Python's import system need none), no extra fields,
no comment. Only the files' bytes and names reach the archive.

One caveat: the deflate output is that of the zlib Python links against. Stock zlib has been
stable for years; a build against zlib-ng (some distributions) gives other bytes.
"""

from __future__ import annotations

import itertools
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lambda_promote.artifacts import sha256_file
from lambda_promote.build.sources import ZipEntry
from lambda_promote.errors import BuildError

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 6
_UNIX = 3


@dataclass(frozen=True)
class ZipResult:
    digest: str
    size: int
    files: tuple[str, ...]


def zip_info(entry: ZipEntry) -> zipfile.ZipInfo:
    """The header of one entry, with nothing taken from the build machine."""
    info = zipfile.ZipInfo(entry.name, date_time=FIXED_DATE_TIME)
    info.create_system = _UNIX
    mode = 0o755 if entry.executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def write_zip(entries: Sequence[ZipEntry], destination: Path) -> ZipResult:
    """Write ``entries`` (sorted here, whatever order they come in) to ``destination``."""
    ordered = sorted(entries, key=lambda e: e.name)
    _refuse_duplicates(ordered)
    with zipfile.ZipFile(
        destination, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
    ) as archive:
        for entry in ordered:
            _add(archive, entry)
    return ZipResult(
        digest=sha256_file(destination),
        size=destination.stat().st_size,
        files=tuple(e.name for e in ordered),
    )


def _add(archive: zipfile.ZipFile, entry: ZipEntry) -> None:
    # Whole files in memory (Lambda caps a function at 250 MB unzipped): writestr knows the
    # size up front, so it writes every header the same way, without data descriptors.
    archive.writestr(zip_info(entry), entry.path.read_bytes(), compresslevel=COMPRESS_LEVEL)


def _refuse_duplicates(ordered: Sequence[ZipEntry]) -> None:
    for before, after in itertools.pairwise(ordered):
        if before.name == after.name:
            raise BuildError(
                f"two files would have the same path {before.name} in the zip "
                f"({before.path} and {after.path})",
                hint="rename one of them",
            )
