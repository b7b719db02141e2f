"""Builds that really run uv: the command it gets, how its failures read, and (with the
package index) real installs — repeatable digests and wheels for the right CPU.
"""

from __future__ import annotations

import itertools
import json
import stat
import sys
import zipfile
from pathlib import Path

import pytest

from lambda_promote.artifacts import DirectoryStore
from lambda_promote.build import BuildResult, UvInstaller, build
from lambda_promote.config.schema import Config, Environment, Function
from lambda_promote.errors import BuildError

EM_X86_64 = 62
EM_AARCH64 = 183


def _project(root: Path, requirements: str, *, architecture: str = "x86_64") -> Config:
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    (root / "requirements.txt").write_text(requirements)
    function = Function(
        source="src",
        requirements="requirements.txt",
        runtime="python3.12",
        architecture=architecture,  # type: ignore[arg-type]
    )
    config = Config(
        project="orders", environments={"staging": Environment(function_name="f")},
        function=function,
    )  # fmt: skip
    return config.located_at(root / "promote.yaml")


def _build(config: Config, *, uv: str | None = None) -> BuildResult:
    store = DirectoryStore(config.root / ".lambda-promote" / "artifacts")
    return build(config, store=store, builder="ci", uv=uv, environ={})


def _fake_uv(tmp_path: Path, *, exit_code: int = 0, stderr: str = "") -> tuple[str, Path]:
    """An executable standing in for uv: it records its arguments, prints, and exits."""
    log = tmp_path / "uv-args.json"
    script = tmp_path / "fake-uv"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"open({str(log)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
        f"sys.stderr.write({stderr!r})\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script), log


def _elf_machine(data: bytes) -> int:
    assert data[:4] == b"\x7fELF"
    return int.from_bytes(data[18:20], "little")


def _shared_objects(result: BuildResult) -> dict[str, bytes]:
    with zipfile.ZipFile(result.artifact.path) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n.endswith(".so")}


def test_uv_is_asked_for_wheels_of_the_lambda_platform(tmp_path: Path) -> None:
    uv, log = _fake_uv(tmp_path)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.16.0\n")
    UvInstaller(uv)(
        requirements, tmp_path / "out", platform="aarch64-manylinux_2_34", python_version="3.12"
    )
    args = json.loads(log.read_text())
    assert args[:2] == ["pip", "install"]
    pairs = dict(itertools.pairwise(args))
    assert pairs["--target"] == str(tmp_path / "out")
    assert pairs["--python-platform"] == "aarch64-manylinux_2_34"
    assert pairs["--python-version"] == "3.12"
    assert pairs["--only-binary"] == ":all:"
    assert pairs["-r"] == str(requirements)
    assert "--no-compile-bytecode" in args


def test_a_package_without_a_wheel_for_the_platform_explains_why(tmp_path: Path) -> None:
    uv, _ = _fake_uv(
        tmp_path,
        exit_code=1,
        stderr="error: No solution found\n  cause: Because psycopg2==2.9.9 has no usable "
        "wheels and you require psycopg2==2.9.9, we can conclude …\n",
    )
    config = _project(tmp_path / "p", "psycopg2==2.9.9\n", architecture="arm64")
    with pytest.raises(BuildError) as caught:
        _build(config, uv=uv)
    assert "psycopg2==2.9.9 has no usable wheels" in caught.value.message
    assert "aarch64" in caught.value.hint
    assert "wheel" in caught.value.hint


def test_a_missing_uv_binary_is_a_build_error(tmp_path: Path) -> None:
    config = _project(tmp_path / "p", "six==1.16.0\n")
    with pytest.raises(BuildError, match="could not run uv"):
        _build(config, uv=str(tmp_path / "no-such-uv"))


@pytest.mark.network
def test_a_real_build_twice_gives_the_same_digest_and_the_second_is_cached(
    tmp_path: Path,
) -> None:
    config = _project(tmp_path / "p", "six==1.16.0\n")
    first = _build(config)
    second = _build(config)
    assert not first.cached
    assert second.cached
    assert second.artifact.digest == first.artifact.digest
    assert "six.py" in first.artifact.files
    assert not [f for f in first.artifact.files if f.endswith(("RECORD", "INSTALLER", ".pyc"))]


@pytest.mark.network
def test_a_real_build_is_repeatable_from_a_clean_cache(tmp_path: Path) -> None:
    one = _build(_project(tmp_path / "one", "six==1.16.0\n"))
    two = _build(_project(tmp_path / "two", "six==1.16.0\n"))
    assert one.artifact.digest == two.artifact.digest


@pytest.mark.network
def test_an_arm64_build_fetches_aarch64_wheels_from_this_machine(tmp_path: Path) -> None:
    result = _build(_project(tmp_path / "arm", "markupsafe==3.0.2\n", architecture="arm64"))
    objects = _shared_objects(result)
    assert objects, "markupsafe ships a compiled speedups module"
    assert {_elf_machine(data) for data in objects.values()} == {EM_AARCH64}
    with zipfile.ZipFile(result.artifact.path) as archive:
        wheel = next(n for n in archive.namelist() if n.endswith(".dist-info/WHEEL"))
        assert "aarch64" in archive.read(wheel).decode()


@pytest.mark.network
def test_an_x86_64_build_fetches_x86_64_wheels(tmp_path: Path) -> None:
    result = _build(_project(tmp_path / "x86", "markupsafe==3.0.2\n"))
    objects = _shared_objects(result)
    assert objects
    assert {_elf_machine(data) for data in objects.values()} == {EM_X86_64}
    assert all("cpython-312" in name for name in objects)
