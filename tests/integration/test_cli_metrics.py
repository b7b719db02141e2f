"""``lambda-promote metrics`` end to end (DESIGN §11.8): a short story on the local target —
a good release, a broken one rolled back, a dry run, a good one taken back by hand — then the
four figures as ``--json`` and as charts a browser or an image viewer can open."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli_project import Project, make_project


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = make_project(tmp_path_factory.mktemp("metrics") / "tiny")
    project.run("build", check=0)
    project.run("deploy", "staging", check=0)  # v1: succeeded
    project.release("r2", broken=True)
    project.run("deploy", "staging", check=3)  # v2: rolled back (a change failure)
    project.release("r3")
    project.run("deploy", "staging", "--dry-run", check=0)  # records nothing
    project.run("deploy", "staging", check=0)  # v3: succeeded…
    project.run("rollback", "staging", "--reason", "users complain", check=0)  # …taken back
    return project


def test_metrics_json_gives_the_four_figures_of_the_story(story: Project) -> None:
    _, body = story.run("metrics", "staging", "--since", "7d", check=0)
    figures = body["metrics"]

    assert figures["env"] == "staging"
    assert figures["deployments"] == 3  # not the rollback, not the dry run
    assert figures["succeeded"] == 2
    assert figures["change_failure_rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert [f["cause"] for f in figures["failures"]] == ["rolled_back", "manual_rollback"]
    restore = figures["time_to_restore_minutes"]
    assert (restore["restored"], restore["unrestored"]) == (2, 0)
    assert restore["median"] is not None
    assert restore["median"] >= 0
    lead = figures["lead_time_hours"]
    assert lead["samples"] == 2
    assert 0 <= lead["median"] <= lead["p90"] < 1  # built minutes ago
    assert sum(w["deployments"] for w in figures["per_week"]) == 3
    assert re.fullmatch(r"\d{4}-W\d{2}", figures["per_week"][-1]["week"])


def test_the_default_environment_is_the_last_in_promotion_order(story: Project) -> None:
    _, body = story.run("metrics", check=0)

    assert body["metrics"]["env"] == "eu-production"
    assert body["metrics"]["deployments"] == 0
    assert body["metrics"]["change_failure_rate"] is None


@pytest.mark.parametrize("since", ["yesterday", "0d", "7y", "2999-01-01"])
def test_a_bad_window_is_a_usage_error_with_a_hint(story: Project, since: str) -> None:
    _, body = story.run("metrics", "staging", "--since", since, check=2)

    assert "12h, 7d, 4w, 90d" in body["error"]["hint"]


def test_an_unknown_environment_is_a_usage_error(story: Project) -> None:
    _, body = story.run("metrics", "qa", check=2)

    assert "qa" in body["error"]["message"]


def test_png_charts_are_a_real_image(story: Project, tmp_path: Path) -> None:
    out = tmp_path / "charts" / "metrics.png"
    _, body = story.run("metrics", "staging", "--format", "png", "--output", str(out), check=0)

    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # four charts, not an empty canvas
    assert body["output"] == {"format": "png", "path": str(out)}


def test_html_charts_are_one_self_contained_page(story: Project, tmp_path: Path) -> None:
    out = tmp_path / "metrics.html"
    story.run("metrics", "staging", "--format", "html", "--output", str(out), check=0)

    page = out.read_text()
    assert page.count("<svg") == 4
    assert "deployment_frequency" in page
    assert "Change failure rate" in page or "change failure rate" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "<script" not in page


def test_charts_need_an_output_file(story: Project) -> None:
    _, body = story.run("metrics", "staging", "--format", "png", check=2)

    assert "--output" in body["error"]["hint"]


def test_human_output_is_a_table_of_weeks(story: Project) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lambda_promote", "metrics", "staging"],
        cwd=story.root,
        capture_output=True,
        text=True,
        check=True,
    )

    assert "change failure rate" in done.stdout
    assert re.search(r"^\d{4}-W\d{2}\s+3\s+2", done.stdout, re.MULTILINE), done.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_lead_time_starts_at_the_commit_time_of_what_was_built(tmp_path: Path) -> None:
    """DESIGN §11.8: "release commit time → succeeded there". The commit is ten days old (its
    committer date set so), the build and the deployment are now: the lead time is ten days,
    not the minutes since the build."""
    project = make_project(tmp_path / "tiny")
    committed = "2026-01-10T08:00:00+00:00"
    git = ["git", "-C", str(project.root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    env = {"GIT_COMMITTER_DATE": committed, "GIT_AUTHOR_DATE": "2025-06-01T00:00:00+00:00"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "r1"]):
        subprocess.run([*git, *args], check=True, capture_output=True, env={**_path(), **env})
    _, built = project.run("build", check=0)
    assert built["artifact"]["committed_at"] == "2026-01-10T08:00:00Z"
    project.run("deploy", "staging", check=0)

    _, body = project.run("metrics", "staging", "--since", "2026-01-01", check=0)

    lead = body["metrics"]["lead_time_hours"]
    assert lead["samples"] == 1
    expected = (datetime.now(UTC) - datetime.fromisoformat(committed)).total_seconds() / 3600
    assert lead["median"] == pytest.approx(expected, abs=1.0)  # the committer, not author, date


def _path() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
