"""Provenance from a real git repository: the commit and branch a build came from."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lambda_promote.build.provenance import read_provenance

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "develop")
    (repo / "app.py").write_text("x = 1\n")
    _git(repo, "add", "app.py")
    _git(repo, "commit", "-q", "-m", "first")
    return repo


def test_a_build_in_a_repository_records_its_commit_and_branch(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    provenance = read_provenance(repo, env={})
    assert provenance.commit == _git(repo, "rev-parse", "HEAD")
    assert provenance.branch == "develop"


def test_a_detached_ci_checkout_takes_the_branch_from_github_variables(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _git(repo, "checkout", "-q", "--detach")
    assert read_provenance(repo, env={}).branch is None
    pull_request = {"GITHUB_HEAD_REF": "feature/login", "GITHUB_REF_NAME": "12/merge"}
    assert read_provenance(repo, env=pull_request).branch == "feature/login"
    assert read_provenance(repo, env={"GITHUB_REF_NAME": "v1.2"}).branch == "v1.2"


def test_outside_a_repository_there_is_no_provenance_and_no_error(tmp_path: Path) -> None:
    provenance = read_provenance(tmp_path, env={})
    assert provenance.commit is None
    assert provenance.branch is None
