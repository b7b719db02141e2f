"""Which files reach the zip: excludes, the tool's own folders, installer bookkeeping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambda_promote.build.sources import (
    DEFAULT_SOURCE_EXCLUDES,
    ExcludeRules,
    ZipEntry,
    check_no_clash,
    collect_dependencies,
    collect_source,
    require_handler,
)
from lambda_promote.errors import BuildError, ConfigError, exit_code_for


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _names(entries: list[ZipEntry]) -> list[str]:
    return [e.name for e in entries]


@pytest.mark.parametrize(
    ("pattern", "path", "excluded"),
    [
        ("tests/**", "tests/test_app.py", True),
        ("tests/**", "tests/deep/er/test_x.py", True),
        ("tests/**", "app/tests/test_x.py", False),
        ("tests/**", "tests_helper.py", False),
        ("**/tests/**", "app/tests/test_x.py", True),
        ("**/tests/**", "tests/test_x.py", True),
        ("docs/**/*.md", "docs/a.md", True),
        ("docs/**/*.md", "docs/x/y/a.md", True),
        ("docs/**/*.md", "docs/a.txt", False),
        ("*.md", "README.md", True),
        ("*.md", "pkg/deep/NOTES.md", True),
        ("*.md", "README.md.py", False),
        ("/local.py", "local.py", True),
        ("/local.py", "pkg/local.py", False),
        ("fixtures", "pkg/fixtures/data.json", True),
        ("fixtures/", "fixtures/data.json", True),
        ("pkg/*.txt", "pkg/a.txt", True),
        ("pkg/*.txt", "pkg/sub/a.txt", False),
        ("conf?.py", "conf1.py", True),
        ("conf?.py", "conf10.py", False),
        ("[ab].py", "a.py", True),
        ("[ab].py", "c.py", False),
        ("[!ab].py", "c.py", True),
        ("a+b(1).py", "a+b(1).py", True),
    ],
)
def test_exclude_patterns_follow_gitignore_like_glob_rules(
    pattern: str, path: str, excluded: bool
) -> None:
    assert ExcludeRules([pattern]).excludes(path) is excluded


def test_source_leaves_out_caches_vcs_and_the_tools_own_folder(tmp_path: Path) -> None:
    src = _tree(
        tmp_path / "src",
        {
            "app.py": "",
            "pkg/mod.py": "",
            "pkg/__pycache__/mod.cpython-312.pyc": "",
            "stray.pyc": "",
            ".git/config": "",
            ".lambda-promote/state.db": "",
            ".venv/lib/x.py": "",
            "tests/test_app.py": "",
        },
    )
    rules = ExcludeRules((*DEFAULT_SOURCE_EXCLUDES, "tests/**"))
    assert _names(collect_source(src, rules=rules)) == ["app.py", "pkg/mod.py"]


def test_source_never_includes_folders_it_is_told_to_skip(tmp_path: Path) -> None:
    src = _tree(tmp_path, {"app.py": "", "store/abc.zip": "", "state.db": "", "keep/x.py": ""})
    entries = collect_source(
        src, rules=ExcludeRules(()), never=[tmp_path / "store", tmp_path / "state.db"]
    )
    assert _names(entries) == ["app.py", "keep/x.py"]


def test_source_keeps_the_executable_bit_and_nothing_else_of_the_mode(tmp_path: Path) -> None:
    src = _tree(tmp_path, {"run.sh": "#!/bin/sh\n", "app.py": ""})
    (src / "run.sh").chmod(0o700)
    (src / "app.py").chmod(0o600)
    entries = {e.name: e.executable for e in collect_source(src, rules=ExcludeRules(()))}
    assert entries == {"app.py": False, "run.sh": True}


def test_symlinked_files_and_folders_are_zipped_as_their_contents(tmp_path: Path) -> None:
    src = _tree(tmp_path / "src", {"app.py": "", "vendor/shared/util.py": "x = 1\n"})
    shared = src / "vendor" / "shared"
    os.symlink(shared, src / "shared")  # absolute, to a folder inside the source
    os.symlink(shared / "util.py", src / "util_link.py")
    os.symlink("util_link.py", src / "chain.py")  # a chain of links, ending inside
    # vendor/ itself stays out (each folder is zipped once; see the loop test below)
    assert _names(collect_source(src, rules=ExcludeRules(["vendor"]))) == [
        "app.py",
        "chain.py",
        "shared/util.py",
        "util_link.py",
    ]


def test_a_link_leaving_the_source_is_refused_naming_it(tmp_path: Path) -> None:
    outside = _tree(tmp_path / "outside", {"secret.txt": "s3cr3t\n"})
    src = _tree(tmp_path / "src", {"app.py": ""})
    os.symlink(outside / "secret.txt", src / "creds.txt")
    with pytest.raises(ConfigError, match=r"creds\.txt is a symbolic link to .*outside") as caught:
        collect_source(src, rules=ExcludeRules(()))
    assert exit_code_for(caught.value) == 2
    assert "function.exclude" in caught.value.hint


def test_an_excluded_link_is_neither_followed_nor_refused(tmp_path: Path) -> None:
    outside = _tree(tmp_path / "outside", {"x.py": ""})
    src = _tree(tmp_path / "src", {"app.py": ""})
    os.symlink(outside, src / "env")
    os.symlink(outside / "x.py", src / "x.py")
    entries = collect_source(src, rules=ExcludeRules(("env", "/x.py")))
    assert _names(entries) == ["app.py"]


def test_a_broken_symlink_is_named_in_the_error(tmp_path: Path) -> None:
    src = _tree(tmp_path, {"app.py": ""})
    os.symlink(tmp_path / "gone.py", src / "dangling.py")
    with pytest.raises(BuildError, match=r"dangling\.py"):
        collect_source(src, rules=ExcludeRules(()))


def test_a_symlink_loop_is_refused(tmp_path: Path) -> None:
    src = _tree(tmp_path, {"app.py": ""})
    os.symlink(src, src / "again")
    with pytest.raises(BuildError, match="loop"):
        collect_source(src, rules=ExcludeRules(()))


def test_a_missing_source_folder_points_at_the_setting(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        collect_source(tmp_path / "nope", rules=ExcludeRules(()))
    assert "function.source" in caught.value.hint


def test_dependencies_lose_installer_bookkeeping_and_scripts(tmp_path: Path) -> None:
    deps = _tree(
        tmp_path,
        {
            ".lock": "",
            "bin/flask": "#!/home/alice/.venv/bin/python\n",
            "flask/__init__.py": "",
            "flask/__pycache__/__init__.cpython-312.pyc": "",
            "flask/bin/helper.py": "",
            "flask-3.0.dist-info/METADATA": "",
            "flask-3.0.dist-info/WHEEL": "",
            "flask-3.0.dist-info/RECORD": "",
            "flask-3.0.dist-info/INSTALLER": "uv",
            "flask-3.0.dist-info/REQUESTED": "",
            "flask-3.0.dist-info/direct_url.json": "{}",
        },
    )
    assert _names(collect_dependencies(deps)) == [
        "flask-3.0.dist-info/METADATA",
        "flask-3.0.dist-info/WHEEL",
        "flask/__init__.py",
        "flask/bin/helper.py",
    ]


@pytest.mark.parametrize(
    ("handler", "files"),
    [
        ("app.handler", ["app.py"]),
        ("api.main.handler", ["api/main.py"]),
        ("api.handler", ["api/__init__.py"]),
    ],
)
def test_a_handler_module_in_the_source_is_accepted(handler: str, files: list[str]) -> None:
    entries = [ZipEntry(name=f, path=Path(f), executable=False) for f in files]
    require_handler(entries, handler=handler, source=Path("src"))


def test_a_handler_without_its_module_fails_the_build(tmp_path: Path) -> None:
    entries = [ZipEntry(name="main.py", path=tmp_path / "main.py", executable=False)]
    with pytest.raises(BuildError, match=r"app\.py") as caught:
        require_handler(entries, handler="app.handler", source=tmp_path)
    assert "function.handler" in caught.value.hint


@pytest.mark.parametrize(
    ("source", "deps"),
    [
        ("six.py", "six.py"),  # the same file twice
        ("markupsafe", "markupsafe/__init__.py"),  # a file where a package folder goes
        ("six.py/x.py", "six.py"),  # a folder where a file goes
    ],
)
def test_a_source_file_clashing_with_a_dependency_is_refused(source: str, deps: str) -> None:
    with pytest.raises(BuildError, match="clashes"):
        check_no_clash(
            [ZipEntry(name=source, path=Path(source), executable=False)],
            [ZipEntry(name=deps, path=Path(deps), executable=False)],
        )


def test_source_files_beside_dependencies_are_fine() -> None:
    check_no_clash(
        [ZipEntry(name="app.py", path=Path("app.py"), executable=False)],
        [ZipEntry(name="six.py", path=Path("six.py"), executable=False)],
    )
