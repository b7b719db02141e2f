"""Attack: a pull request ships a symbolic link (or a path) out of the project, so that `build`
in CI zips what it points to — the runner's credentials, its environment — into an artifact
the attacker can then read from the staging function.

``ln -s ~/.aws/credentials src/creds.txt`` is the classic; a linked folder, a chain of links,
a link to ``/dev/zero`` or a FIFO, a linked requirements file and a ``function.source`` written
outside the project are its variants. Each is refused with exit 2 naming the link, before any
byte of the target is read; nothing is stored. Links that stay inside the source folder keep
working (tests/unit/test_build_sources.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cli_project import Project, make_project

SECRET = "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "repo")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The runner's home, outside the checkout, with something worth stealing."""
    aws = tmp_path / "home" / ".aws"
    aws.mkdir(parents=True)
    (aws / "credentials").write_text(f"[default]\n{SECRET}\n")
    return tmp_path / "home"


def stored_zips(project: Project) -> list[Path]:
    return sorted((project.root / ".lambda-promote" / "artifacts").glob("*.zip"))


def refused(project: Project) -> dict:
    """`build` exits 2, leaks nothing, stores nothing; the error of its JSON answer."""
    before = stored_zips(project)
    proc = project.popen("build")
    out, err = proc.communicate(timeout=120)
    assert "Traceback" not in out + err
    assert SECRET not in out + err
    assert proc.returncode == 2, (out, err)
    assert stored_zips(project) == before
    return json.loads(out)["error"]


def test_a_file_link_to_the_runners_credentials_is_refused(project: Project, home: Path) -> None:
    os.symlink(home / ".aws" / "credentials", project.root / "src" / "creds.txt")
    error = refused(project)
    assert error["code"] == "config"
    assert "creds.txt" in error["message"]
    assert "outside" in error["message"]
    assert "function.exclude" in error["hint"]


def test_a_folder_link_leaving_the_source_is_refused(project: Project, home: Path) -> None:
    os.symlink(home / ".aws", project.root / "src" / "aws")
    error = refused(project)
    assert f"src{os.sep}aws" in error["message"]


def test_a_chain_of_links_ending_outside_is_refused(project: Project, home: Path) -> None:
    src = project.root / "src"
    os.symlink(home / ".aws" / "credentials", src / "last")
    os.symlink(src / "last", src / "middle")
    os.symlink("middle", src / "first.txt")
    error = refused(project)
    assert "first.txt" in error["message"] or "last" in error["message"]


def test_a_relative_link_climbing_out_of_the_source_is_refused(project: Project) -> None:
    (project.root / "notes.txt").write_text("inside the project, outside the source\n")
    os.symlink("../notes.txt", project.root / "src" / "notes.txt")
    assert "notes.txt" in refused(project)["message"]


def test_a_link_to_dev_zero_is_refused_without_reading_it(project: Project) -> None:
    os.symlink("/dev/zero", project.root / "src" / "zero.bin")
    assert "zero.bin" in refused(project)["message"]


def test_a_link_to_a_fifo_outside_is_refused_without_blocking(
    project: Project, tmp_path: Path
) -> None:
    os.mkfifo(tmp_path / "pipe")
    os.symlink(tmp_path / "pipe", project.root / "src" / "pipe")
    assert "pipe" in refused(project)["message"]


def test_a_link_to_the_processes_environment_is_refused(project: Project) -> None:
    os.symlink("/proc/self/environ", project.root / "src" / "env.txt")
    assert "env.txt" in refused(project)["message"]


def test_a_requirements_file_linking_outside_the_project_is_refused(
    project: Project, home: Path
) -> None:
    os.symlink(home / ".aws" / "credentials", project.root / "requirements.txt")
    config = project.root / "promote.yaml"
    text = config.read_text().replace("  handler:", "  requirements: requirements.txt\n  handler:")
    config.write_text(text)
    error = refused(project)
    assert "requirements.txt" in error["message"]
    assert error["message"].startswith("promote.yaml:")


@pytest.mark.parametrize("written", ["../outside", "{abs}"])
def test_a_function_source_written_outside_the_project_is_refused(
    project: Project, tmp_path: Path, written: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "app.py").write_text("def handler(event, context):\n    return {}\n")
    config = project.root / "promote.yaml"
    source = written.format(abs=outside)
    config.write_text(config.read_text().replace("source: src", f"source: {source}"))
    error = refused(project)
    assert error["message"].startswith("promote.yaml:6: function.source")
    assert "outside" in error["message"]


def test_a_source_folder_that_is_itself_a_link_out_of_the_project_is_refused(
    project: Project, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    (project.root / "src").rename(outside)
    os.symlink(outside, project.root / "src")
    error = refused(project)
    assert "function.source" in error["message"]


def test_a_cache_hit_does_not_let_a_retargeted_link_through(
    project: Project, tmp_path: Path
) -> None:
    """Same bytes inside and outside: the inputs hash is unchanged, so the unchanged-build
    shortcut would answer from the cache — the link rule must be checked there too."""
    src = project.root / "src"
    (src / "data").mkdir()
    (src / "data" / "table.csv").write_text("a,b\n")
    os.symlink(src / "data" / "table.csv", src / "table.csv")
    _, first = project.run("build", check=0)
    assert first["artifact"]["cached"] is False
    outside = tmp_path / "table.csv"
    outside.write_text("a,b\n")
    (src / "table.csv").unlink()
    os.symlink(outside, src / "table.csv")
    assert "table.csv" in refused(project)["message"]


def test_an_excluded_link_leaving_the_source_is_left_out_not_refused(
    project: Project, home: Path
) -> None:
    os.symlink(home / ".aws", project.root / "src" / "aws")
    config = project.root / "promote.yaml"
    config.write_text(config.read_text().replace("  handler:", '  exclude: ["aws"]\n  handler:'))
    _, body = project.run("build", check=0)
    assert body["ok"] is True
