"""Red-team item 2: the branch gate read the branch from ``artifacts/<digest>.json``, which the
digest does not cover, so whoever can write the artifact store (a shared S3 bucket) could move
a release from ``feature/x`` to ``main``. Provenance now comes from the ledger's build record;
a manifest that disagrees is refused, and with an audit key the record itself must be backed
by an authenticated ``artifact.built`` event."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cli_project import Project, make_project

KEY = {"LAMBDA_PROMOTE_AUDIT_KEY": "team-audit-key-1"}
MAIN_ONLY = {"tiny-production\n": "tiny-production\n    branches: [main]\n"}


def store(project: Project) -> Path:
    return project.root / ".lambda-promote" / "artifacts"


def set_manifest_branch(project: Project, digest: str, branch: str) -> None:
    manifest = store(project) / f"{digest}.json"
    data = json.loads(manifest.read_text())
    data["branch"] = branch
    manifest.chmod(0o644)
    manifest.write_text(json.dumps(data))


def test_edited_manifest_branch_is_refused(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", edits=MAIN_ONLY)
    _, body = project.run("deploy", "staging", env={"GITHUB_REF_NAME": "feature/x"}, check=0)
    digest = body["deployment"]["digest"]
    set_manifest_branch(project, digest, "main")
    before = project.counts()
    code, body = project.run("request-approval", "production", user="alice")
    assert code == 5, body
    assert body["error"]["code"] == "provenance_mismatch"
    assert "'main' vs 'feature/x'" in body["error"]["message"]
    assert project.counts() == before


def test_manifest_edit_back_to_the_truth_passes_the_branch_rule_as_before(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", edits=MAIN_ONLY)
    project.run("deploy", "staging", env={"GITHUB_REF_NAME": "main"}, check=0)
    project.run("request-approval", "production", user="alice", check=0)


def test_artifact_planted_in_the_store_is_refused_with_key(tmp_path: Path) -> None:
    """Built elsewhere on feature/x, its manifest edited to main and copied into the shared
    store: the ledger never built it, so no authenticated build event vouches for 'main'."""
    elsewhere = make_project(tmp_path / "elsewhere")
    elsewhere.release("planted")
    _, body = elsewhere.run("build", env={"GITHUB_REF_NAME": "feature/x"}, check=0)
    digest = body["artifact"]["digest"]
    project = make_project(tmp_path / "p", edits=MAIN_ONLY)
    store(project).mkdir(parents=True)
    for suffix in (".zip", ".json"):
        shutil.copy(store(elsewhere) / f"{digest}{suffix}", store(project))
    set_manifest_branch(project, digest, "main")
    project.run("deploy", "staging", "--artifact", digest[:12], env=KEY, check=0)
    before = project.counts()
    code, body = project.run("request-approval", "production", user="alice", env=KEY)
    assert code == 5, body
    assert body["error"]["code"] == "ledger_not_attested"
    assert "no artifact.built event records it" in body["error"]["message"]
    assert project.counts() == before
