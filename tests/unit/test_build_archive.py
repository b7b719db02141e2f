"""The deterministic zip: the same files give the same bytes, whatever the machine did."""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lambda_promote.build.archive import FIXED_DATE_TIME, write_zip
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
