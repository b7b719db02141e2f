"""The deterministic zip: the same files give the same bytes, whatever the machine did."""

from __future__ import annotations

import os
import random
import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lambda_promote.build import archive as archive_module
from lambda_promote.build import deflate as deflate_module
from lambda_promote.build.archive import FIXED_DATE_TIME, write_zip
from lambda_promote.build.deflate import DeflateCache
from lambda_promote.build.sources import ExcludeRules, ZipEntry, collect_source
from lambda_promote.errors import BuildError

FILES = {
    "app.py": "def handler(event, context):\n    return {'ok': True}\n",
    "pkg/__init__.py": "",
    "pkg/z_last.py": "Z = 26\n",
    "pkg/a_first.py": "A = 1\n",
    "data/big.txt": "lorem ipsum " * 5000,
    "bin/run.sh": "#!/bin/sh\necho hi\n",
}


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _write_tree(root: Path, names: list[str], *, mtime: int, umask: int) -> Path:
    with _umask(umask):
        for name in names:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(FILES[name])
            os.utime(path, (mtime, mtime))
        script = root / "bin" / "run.sh"
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return root


def _zip_of(root: Path, out: Path) -> bytes:
    write_zip(collect_source(root, rules=ExcludeRules(())), out)
    return out.read_bytes()


def test_the_same_tree_gives_identical_zip_bytes_whatever_mtime_umask_or_creation_order(
    tmp_path: Path,
) -> None:
    one = _write_tree(tmp_path / "one", list(FILES), mtime=1_000_000_000, umask=0o022)
    two = _write_tree(tmp_path / "two", list(reversed(FILES)), mtime=1_700_000_000, umask=0o077)
    assert _zip_of(one, tmp_path / "one.zip") == _zip_of(two, tmp_path / "two.zip")


def test_a_changed_byte_changes_the_digest(tmp_path: Path) -> None:
    tree = _write_tree(tmp_path / "t", list(FILES), mtime=1, umask=0o022)
    before = write_zip(collect_source(tree, rules=ExcludeRules(())), tmp_path / "a.zip")
    (tree / "pkg" / "a_first.py").write_text("A = 2\n")
    after = write_zip(collect_source(tree, rules=ExcludeRules(())), tmp_path / "b.zip")
    assert before.digest != after.digest


def test_entries_are_sorted_files_with_fixed_time_and_lambda_readable_modes(
    tmp_path: Path,
) -> None:
    tree = _write_tree(tmp_path / "t", list(FILES), mtime=1, umask=0o077)
    result = write_zip(collect_source(tree, rules=ExcludeRules(())), tmp_path / "f.zip")
    with zipfile.ZipFile(tmp_path / "f.zip") as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == sorted(FILES)
        assert list(result.files) == sorted(FILES)
        assert not any(i.is_dir() for i in infos)
        modes = {i.filename: (i.external_attr >> 16) for i in infos}
        assert all(i.date_time == FIXED_DATE_TIME for i in infos)
        assert all(i.create_system == 3 for i in infos)
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)
        assert archive.read("app.py").decode() == FILES["app.py"]
    assert modes["bin/run.sh"] == stat.S_IFREG | 0o755
    assert modes["app.py"] == stat.S_IFREG | 0o644


def test_two_files_with_one_zip_path_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("a")
    (tmp_path / "b.py").write_text("b")
    entries = [
        ZipEntry(name="app.py", path=tmp_path / "a.py", executable=False),
        ZipEntry(name="app.py", path=tmp_path / "b.py", executable=False),
    ]
    with pytest.raises(BuildError, match=r"same path app\.py"):
        write_zip(entries, tmp_path / "x.zip")


# --- the bytes are zipfile's -------------------------------------------------------------


def _zipfile_reference(entries: list[ZipEntry], out: Path) -> bytes:
    """What the archive was written with before it wrote its own headers: zipfile.writestr
    with pinned headers. Digests must not change, so ours must equal this byte for byte."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for entry in sorted(entries, key=lambda e: e.name):
            info = zipfile.ZipInfo(entry.name, date_time=FIXED_DATE_TIME)
            info.create_system = 3
            mode = 0o755 if entry.executable else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entry.path.read_bytes(), compresslevel=6)
    return out.read_bytes()


def _varied_entries(root: Path) -> list[ZipEntry]:
    noise = random.Random(8).randbytes(300_000)  # incompressible: deflate stores it
    files = {
        "app.py": (b"def handler(event, context):\n    return {}\n", False),
        "empty.txt": (b"", False),
        "données/café.txt": (b"non-ASCII names get the UTF-8 flag\n", False),
        "bin/tool": (b"#!/bin/sh\nexit 0\n", True),
        "data/big.txt": (b"lorem ipsum dolor " * 200_000, False),
        "data/noise.bin": (noise, False),
    }
    entries = []
    for name, (data, executable) in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        entries.append(ZipEntry(name=name, path=path, executable=executable))
    return entries


def test_the_bytes_are_those_zipfile_writes_with_or_without_the_deflate_cache(
    tmp_path: Path,
) -> None:
    entries = _varied_entries(tmp_path / "src")
    expected = _zipfile_reference(entries, tmp_path / "reference.zip")
    write_zip(entries, tmp_path / "plain.zip")
    assert (tmp_path / "plain.zip").read_bytes() == expected
    cache = DeflateCache(tmp_path / "deflate")
    for attempt in ("fills the cache", "reads it"):
        write_zip(entries, tmp_path / "cached.zip", cache=cache)
        assert (tmp_path / "cached.zip").read_bytes() == expected, attempt
    with zipfile.ZipFile(tmp_path / "cached.zip") as archive:
        assert archive.testzip() is None
        assert archive.getinfo("données/café.txt").flag_bits & 0x800


def test_more_than_65535_entries_end_with_zipfiles_zip64_record(tmp_path: Path) -> None:
    (tmp_path / "one.py").write_text("X = 1\n")
    entries = [
        ZipEntry(name=f"m/{i:05}.py", path=tmp_path / "one.py", executable=False)
        for i in range(65_537)
    ]
    expected = _zipfile_reference(entries, tmp_path / "reference.zip")
    write_zip(entries, tmp_path / "ours.zip")
    assert (tmp_path / "ours.zip").read_bytes() == expected
    with zipfile.ZipFile(tmp_path / "ours.zip") as archive:
        assert len(archive.infolist()) == 65_537


def test_a_file_deflated_before_is_not_deflated_again(tmp_path: Path, monkeypatch) -> None:
    entries = _varied_entries(tmp_path / "src")
    cache = DeflateCache(tmp_path / "deflate")
    first = write_zip(entries, tmp_path / "a.zip", cache=cache)
    (tmp_path / "src" / "app.py").write_text("# changed\n")  # a source-only change
    deflated: list[int] = []
    real = deflate_module.deflate
    monkeypatch.setattr(deflate_module, "deflate", lambda data: deflated.append(1) or real(data))
    second = write_zip(entries, tmp_path / "b.zip", cache=cache)
    assert len(deflated) == 1  # only app.py
    assert second.digest != first.digest
    assert second.digest == write_zip(entries, tmp_path / "c.zip").digest


def test_a_damaged_cache_entry_is_deflated_again_never_zipped(tmp_path: Path) -> None:
    entries = _varied_entries(tmp_path / "src")
    expected = _zipfile_reference(entries, tmp_path / "reference.zip")
    cache = DeflateCache(tmp_path / "deflate")
    write_zip(entries, tmp_path / "warm.zip", cache=cache)
    stored = sorted(p for p in cache.folder.rglob("*") if p.is_file())
    assert len(stored) == len(entries)
    stored[0].write_bytes(stored[0].read_bytes()[:-1])  # torn
    flipped = bytearray(stored[1].read_bytes())
    flipped[-1] ^= 0xFF
    stored[1].write_bytes(bytes(flipped))  # a flipped bit
    stored[2].write_bytes(b"")  # emptied
    write_zip(entries, tmp_path / "again.zip", cache=cache)
    assert (tmp_path / "again.zip").read_bytes() == expected
    write_zip(entries, tmp_path / "repaired.zip", cache=cache)  # rewritten the first time
    assert (tmp_path / "repaired.zip").read_bytes() == expected


def test_a_zip_past_zipfiles_zip64_limit_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(archive_module, "_MAX_SIZE", 1000)
    (tmp_path / "big.txt").write_bytes(b"x" * 2000)
    entries = [ZipEntry(name="big.txt", path=tmp_path / "big.txt", executable=False)]
    with pytest.raises(BuildError, match="larger than 2 GiB"):
        write_zip(entries, tmp_path / "x.zip")
