"""Provenance from a real git repository: the commit, its committer time and the branch a
build came from."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
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


COMMIT = ("commit", "-q", "-m", "rebased")


def test_the_committer_time_is_read_in_utc_not_the_author_time(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "app.py").write_text("x = 1\n")
    _git(repo, "add", "app.py")
    dates = {
        "GIT_AUTHOR_DATE": "2020-01-01T00:00:00+00:00",
        "GIT_COMMITTER_DATE": "2026-03-04T10:20:30+02:00",
    }
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *COMMIT],
        check=True,
        capture_output=True,
        env={**os.environ, **dates},
    )

    provenance = read_provenance(repo, env={})

    assert provenance.committed_at == datetime(2026, 3, 4, 8, 20, 30, tzinfo=UTC)
    assert provenance.committed_at is not None
    assert provenance.committed_at.utcoffset() == timedelta(0)


def test_a_commit_only_github_names_has_no_commit_time(tmp_path: Path) -> None:
    """A CI job without the checkout (only ``GITHUB_SHA``): the sha, no time, no error."""
    provenance = read_provenance(tmp_path, env={"GITHUB_SHA": "f" * 40})
    assert (provenance.commit, provenance.committed_at) == ("f" * 40, None)


def test_without_git_on_the_path_the_build_still_has_no_provenance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    provenance = read_provenance(repo, env={})
    assert (provenance.commit, provenance.committed_at) == (None, None)
