"""How the generated workflow installs lambda-promote: from a lock of hashes, for the tool
source promote.yaml names; `--check` tells a stale or hand-edited lock offline; the
approval job's summary shows the evidence; Dependabot's pin updates survive regeneration."""

from __future__ import annotations

from pathlib import Path

from lambda_promote.config import load_config
from lambda_promote.github import install, pins
from lambda_promote.github.files import check_files
from lambda_promote.github.summary import approval_summary

EXAMPLE = Path(__file__).parents[2] / "examples" / "orders-api"
SHA = "0123456789abcdef0123456789abcdef01234567"


def test_the_example_projects_lock_is_current_and_hashed() -> None:
    config = load_config(EXAMPLE / "promote.yaml", check_source=False)
    data = check_files(config, None)
    assert data["lock"]["current"] is True
    text = (EXAMPLE / ".github" / "lambda-promote.lock").read_text()
    assert "--hash=sha256:" in text
    assert f"tool: {install.tool_source(config).label}" in text


def test_a_lock_for_other_inputs_or_edited_by_hand_is_refused(tmp_path: Path) -> None:
    source = install.ToolSource(None, f"git+https://example.org/lp@{SHA}", ("aws",), "3.12")
    lock = tmp_path / "lambda-promote.lock"
    assert install.lock_state(lock, source) == "missing"
    lock.write_text(install.lock_header(source) + "click==8.1.7 \\\n    --hash=sha256:ab\n")
    assert install.lock_state(lock, source) == "current"
    other = install.ToolSource(None, source.git_url, ("aws",), "3.13")
    assert install.lock_state(lock, other) == "stale"
    lock.write_text(install.lock_header(source) + "click==8.1.7\n")
    assert install.lock_state(lock, source) == "unhashed"


def test_the_tool_source_follows_promote_yaml(tmp_path: Path) -> None:
    path = tmp_path / "promote.yaml"
    path.write_text(
        "project: p\nstate: postgresql+psycopg://db/p\n"
        "function: {}\nenvironments: {staging: {function_name: f}}\n"
        f"github: {{tool: 'git+https://example.org/lp@{SHA}'}}\n"
    )
    source = install.tool_source(load_config(path, check_source=False))
    assert source.extras == ("aws", "postgres")
    assert source.label.endswith(SHA)
    assert "hatchling" in source.lock_inputs()  # built without isolation, backend by hash


def test_a_tag_instead_of_a_commit_is_refused(tmp_path: Path) -> None:
    import pytest

    from lambda_promote.errors import PromoteError

    path = tmp_path / "promote.yaml"
    path.write_text(
        "project: p\nfunction: {}\nenvironments: {staging: {function_name: f}}\n"
        "github: {tool: 'git+https://example.org/lp@v1.0'}\n"
    )
    with pytest.raises(PromoteError, match=r"github\.tool"):
        load_config(path, check_source=False)


def test_the_summary_shows_the_evidence_without_letting_it_write_markdown() -> None:
    answer = {
        "approval_request": {
            "id": "r-1", "env": "production", "digest": "ab" * 32, "requested_by": "ana",
            "expires_at": "2030-01-01T00:00:00Z",
            "evidence": {
                "built_by": "ana", "branch": "main", "commit": "c0ffee" * 6,
                "rollback_restores": "7",
                "source": {"env": "staging", "deployment": "d-1",
                           "checks": [{"name": "ping", "ok": True, "detail": "<b>ok</b>"}]},
                "commits": ["c0ffee fix [link](http://x)"],
                "configuration_diff": {"memory_mb": [128, 256]},
            },
        }
    }  # fmt: skip
    text = approval_summary(answer)
    assert "Approval request `r-1` for production" in text
    assert "a rollback would restore version 7" in text
    assert "staging: 1/1 checks passed" in text
    assert "\\<b\\>ok\\</b\\>" in text
    assert "\\[link\\](http://x)" in text
    assert '"memory_mb"' in text


def test_the_approval_summary_of_a_release_has_a_row_per_function() -> None:
    functions = {
        "worker": {"digest": "2" * 64, "commit": "c0ffee" * 6, "live_version": "3",
                   "configuration": {"digest": "d" * 64, "settings": [], "changes": []}},
        "api": {"digest": "1" * 64, "commit": "c0ffee" * 6, "live_version": None,
                "configuration": {"digest": "e" * 64, "settings": [],
                                  "changes": ["memory 256 → 512 MB"]}},
    }  # fmt: skip
    answer = {"approval_request": {"id": "r-2", "env": "production", "digest": "9" * 64,
                                   "evidence": {"functions": functions}}}  # fmt: skip
    text = approval_summary(answer)
    assert "#### Functions" in text
    assert f"| api | `{'1' * 12}` | `{'c0ffee' * 2}` | (none) | memory 256 → 512 MB |" in text
    assert f"| worker | `{'2' * 12}` | `{'c0ffee' * 2}` | 3 | unchanged |" in text
    assert "More evidence" not in text  # the functions are shown, not dumped


def test_dependabots_pin_updates_survive_regeneration() -> None:
    generated = f"      - uses: actions/checkout@{pins.CHECKOUT.sha}  # {pins.CHECKOUT.version}\n"
    updated = f"      - uses: actions/checkout@{'f' * 40}  # v9.9.9\n"
    assert pins.carry_over(generated, updated) == updated
    assert pins.carry_over(generated, "") == generated
