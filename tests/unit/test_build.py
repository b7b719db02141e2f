"""``build``: same inputs → same digest and a cache hit; source-only changes reuse the
dependencies; the tool's own files, provenance and installer noise never reach the zip.

uv is replaced by a fake installer that writes a small "installed" layer and records calls.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lambda_promote.artifacts import DirectoryStore
from lambda_promote.build import BuildResult, build, platform_tag
from lambda_promote.config.schema import Config, Environment, Function
from lambda_promote.errors import BuildError

APP = "def handler(event, context):\n    return {'ok': True}\n"


@dataclass
class FakeInstaller:
    """Stands in for uv: installs a tiny package plus the bookkeeping real installers leave."""

    calls: list[tuple[str, str, str]] = field(default_factory=list)
    fail_with: str | None = None
    package: str = "tinydep"

    def __call__(
        self, requirements: Path, target: Path, *, platform: str, python_version: str
    ) -> None:
        self.calls.append((requirements.read_text(), platform, python_version))
        if self.fail_with is not None:
            raise BuildError(self.fail_with)
        files = {
            f"{self.package}/__init__.py": f"# for {platform}\n",
            f"{self.package}-1.0.dist-info/METADATA": "Name: tinydep\n",
            f"{self.package}-1.0.dist-info/RECORD": f"{target}/x,,\n",
            f"{self.package}-1.0.dist-info/INSTALLER": "uv\n",
            "bin/tinydep": f"#!{target}/python\n",
            ".lock": "",
            f"{self.package}/__pycache__/__init__.cpython-312.pyc": "",
        }
        for name, text in files.items():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_text(text)


def _project(
    root: Path,
    *,
    source: str = "src",
    requirements: str | None = "requirements.txt",
    architecture: str = "x86_64",
    exclude: tuple[str, ...] = ("tests/**",),
    handler: str = "app.handler",
) -> Config:
    src = root / source
    (src / "tests").mkdir(parents=True, exist_ok=True)
    (src / "app.py").write_text(APP)
    (src / "tests" / "test_app.py").write_text("def test(): pass\n")
    if requirements is not None:
        (root / requirements).write_text("tinydep==1.0\n")
    function = Function(
        source=source,
        handler=handler,
        requirements=requirements,
        architecture=architecture,  # type: ignore[arg-type]
        exclude=list(exclude),
    )
    config = Config(
        project="orders", environments={"staging": Environment(function_name="f")},
        function=function,
    )  # fmt: skip
    return config.located_at(root / "promote.yaml")


def _build(
    config: Config, installer: FakeInstaller, *, progress: Callable[[str], None] | None = None
) -> BuildResult:
    store = DirectoryStore(config.root / ".lambda-promote" / "artifacts")
    return build(
        config, store=store, builder="alice", installer=installer, environ={}, progress=progress
    )


def _zip_names(result: BuildResult) -> list[str]:
    with zipfile.ZipFile(result.artifact.path) as archive:
        return archive.namelist()


def test_identical_projects_on_two_machines_give_byte_identical_zips(tmp_path: Path) -> None:
    one = _build(_project(tmp_path / "laptop"), FakeInstaller())
    two = _build(_project(tmp_path / "ci"), FakeInstaller())
    assert one.artifact.digest == two.artifact.digest
    assert Path(one.artifact.path).read_bytes() == Path(two.artifact.path).read_bytes()
    assert not one.cached
    assert not two.cached


def test_the_zip_holds_source_and_dependencies_without_machine_noise(tmp_path: Path) -> None:
    result = _build(_project(tmp_path), FakeInstaller())
    assert _zip_names(result) == [
        "app.py",
        "tinydep-1.0.dist-info/METADATA",
        "tinydep/__init__.py",
    ]
    assert list(result.artifact.files) == _zip_names(result)


def test_an_unchanged_build_is_a_cache_hit_that_installs_nothing(tmp_path: Path) -> None:
    config = _project(tmp_path)
    installer = FakeInstaller()
    messages: list[str] = []
    first = _build(config, installer)
    second = _build(config, installer, progress=messages.append)
    assert second.cached
    assert second.artifact == first.artifact
    assert len(installer.calls) == 1
    assert any("cache hit" in m for m in messages)


def test_the_caller_hears_of_a_miss_before_the_slow_part_and_never_of_a_hit(
    tmp_path: Path,
) -> None:
    config = _project(tmp_path)
    installer = FakeInstaller()
    heard: list[int] = []
    store = DirectoryStore(config.root / ".lambda-promote" / "artifacts")

    def miss() -> None:
        heard.append(len(installer.calls))  # how many installs had run when told

    for _ in range(2):
        build(config, store=store, builder="a", installer=installer, environ={}, on_miss=miss)
    assert heard == [0]


def test_a_changed_source_file_changes_the_digest_and_reuses_the_dependencies(
    tmp_path: Path,
) -> None:
    config = _project(tmp_path)
    installer = FakeInstaller()
    messages: list[str] = []
    first = _build(config, installer)
    (tmp_path / "src" / "app.py").write_text(APP + "# v2\n")
    second = _build(config, installer, progress=messages.append)
    assert second.artifact.digest != first.artifact.digest
    assert not second.cached
    assert len(installer.calls) == 1
    assert any("reusing dependencies" in m for m in messages)


def test_a_changed_excluded_file_is_still_a_cache_hit(tmp_path: Path) -> None:
    config = _project(tmp_path)
    first = _build(config, FakeInstaller())
    (tmp_path / "src" / "tests" / "test_app.py").write_text("def test(): assert 0\n")
    second = _build(config, FakeInstaller())
    assert second.cached
    assert second.artifact.digest == first.artifact.digest


def test_changed_requirements_install_again(tmp_path: Path) -> None:
    config = _project(tmp_path)
    installer = FakeInstaller()
    _build(config, installer)
    (tmp_path / "requirements.txt").write_text("tinydep==1.1\n")
    _build(config, installer)
    assert [c[0] for c in installer.calls] == ["tinydep==1.0\n", "tinydep==1.1\n"]


def test_arm64_installs_for_aarch64_and_gives_another_artifact(tmp_path: Path) -> None:
    x86 = FakeInstaller()
    arm = FakeInstaller()
    intel = _build(_project(tmp_path / "x"), x86)
    graviton = _build(_project(tmp_path / "a", architecture="arm64"), arm)
    assert x86.calls[0][1:] == ("x86_64-manylinux_2_34", "3.12")
    assert arm.calls[0][1:] == ("aarch64-manylinux_2_34", "3.12")
    assert graviton.artifact.architecture == "arm64"
    assert graviton.artifact.digest != intel.artifact.digest


@pytest.mark.parametrize(
    ("runtime", "architecture", "platform"),
    [
        ("python3.13", "arm64", "aarch64-manylinux_2_34"),
        ("python3.12", "x86_64", "x86_64-manylinux_2_34"),
        ("python3.11", "arm64", "aarch64-manylinux2014"),
        ("python3.9", "x86_64", "x86_64-manylinux2014"),
    ],
)
def test_dependencies_target_the_os_lambda_runs_each_runtime_on(
    runtime: str, architecture: str, platform: str
) -> None:
    assert platform_tag(runtime, architecture) == platform


def test_a_tampered_artifact_is_rebuilt_instead_of_served_from_cache(tmp_path: Path) -> None:
    config = _project(tmp_path)
    first = _build(config, FakeInstaller())
    original = Path(first.artifact.path).read_bytes()
    Path(first.artifact.path).write_bytes(b"tampered")
    second = _build(config, FakeInstaller())
    assert not second.cached
    assert second.artifact.digest == first.artifact.digest
    assert Path(second.artifact.path).read_bytes() == original


def test_provenance_is_recorded_but_does_not_change_the_digest(tmp_path: Path) -> None:
    store_a = DirectoryStore(tmp_path / "a")
    store_b = DirectoryStore(tmp_path / "b")
    config = _project(tmp_path / "p")
    ci = {"GITHUB_SHA": "1" * 40, "GITHUB_REF_NAME": "main"}
    a = build(config, store=store_a, builder="ci", installer=FakeInstaller(), environ=ci)
    pr = {"GITHUB_SHA": "2" * 40, "GITHUB_HEAD_REF": "feature/x", "GITHUB_REF_NAME": "7/merge"}
    (tmp_path / "p" / ".lambda-promote" / "cache").rename(tmp_path / "old-cache")
    b = build(config, store=store_b, builder="bob", installer=FakeInstaller(), environ=pr)
    assert a.artifact.digest == b.artifact.digest
    assert (a.artifact.commit, a.artifact.branch, a.artifact.builder) == ("1" * 40, "main", "ci")
    assert (b.artifact.commit, b.artifact.branch) == ("2" * 40, "feature/x")
    assert a.artifact.built_at is not None
    assert a.artifact.built_at.tzinfo is not None


def test_a_project_built_from_its_own_folder_leaves_out_the_tools_files(tmp_path: Path) -> None:
    config = _project(tmp_path, source=".", requirements=None)
    (tmp_path / "promote.yaml").write_text("project: orders\n")
    first = _build(config, FakeInstaller())
    assert _zip_names(first) == ["app.py"]
    # A second build sees the store and cache inside the source folder, and ignores them.
    second = _build(config, FakeInstaller())
    assert second.cached
    assert second.artifact.digest == first.artifact.digest


def test_without_requirements_no_installer_runs(tmp_path: Path) -> None:
    installer = FakeInstaller()
    result = _build(_project(tmp_path, requirements=None), installer)
    assert installer.calls == []
    assert _zip_names(result) == ["app.py"]


def test_a_failed_install_fails_the_build_and_is_retried_next_time(tmp_path: Path) -> None:
    config = _project(tmp_path)
    broken = FakeInstaller(fail_with="no usable wheels")
    with pytest.raises(BuildError, match="no usable wheels"):
        _build(config, broken)
    assert list((tmp_path / ".lambda-promote" / "cache" / "deps").iterdir()) == []
    working = FakeInstaller()
    assert not _build(config, working).cached
    assert len(working.calls) == 1


def test_a_missing_requirements_file_points_at_the_setting(tmp_path: Path) -> None:
    config = _project(tmp_path)
    (tmp_path / "requirements.txt").unlink()
    with pytest.raises(BuildError) as caught:
        _build(config, FakeInstaller())
    assert "function.requirements" in caught.value.hint


def test_a_handler_module_missing_from_the_source_fails_even_with_a_cache(
    tmp_path: Path,
) -> None:
    _build(_project(tmp_path), FakeInstaller())
    renamed = _project(tmp_path, handler="main.handler")
    with pytest.raises(BuildError, match=r"main\.py"):
        _build(renamed, FakeInstaller())


def test_a_source_file_shadowing_a_dependency_fails_the_build(tmp_path: Path) -> None:
    config = _project(tmp_path)
    (tmp_path / "src" / "tinydep").mkdir()
    (tmp_path / "src" / "tinydep" / "__init__.py").write_text("# mine\n")
    with pytest.raises(BuildError, match="clashes"):
        _build(config, FakeInstaller())
