"""The release flows over a workspace handed its parts (an in-memory ledger, the in-memory
target, a store in a temporary folder): the plan is gathered once and the executor reuses
what it read, so a deploy or a rollback asks the target where the alias points only once."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from fake_target import FakeTarget
from fakes import MemoryLedger
from lambda_promote.artifacts import DirectoryStore, sha256_file
from lambda_promote.config.schema import Approval, Check, Config, Environment
from lambda_promote.github.admission import GitHubApprovals
from lambda_promote.model import Artifact
from lambda_promote.release import flows
from lambda_promote.release.gather import now
from lambda_promote.ui import UI
from lambda_promote.workspace import Parts, Workspace

PING = Check(name="ping", expect={"body": {"ok": True}})


def workspace(tmp_path: Path) -> tuple[Workspace, FakeTarget, MemoryLedger]:
    config = Config(
        project="orders",
        target="local",
        environments={
            "staging": Environment(function_name="orders-staging", checks=[PING]),
            "production": Environment(
                function_name="orders-production",
                promote_from="staging",
                approval=Approval(provider="github", reviewers=["lead"]),
                checks=[PING],
            ),
        },
    ).located_at(tmp_path / "promote.yaml")
    target, ledger = FakeTarget(), MemoryLedger()
    parts = Parts(ledger=ledger, target=target, store=DirectoryStore(tmp_path / "artifacts"))
    ui = UI(err=io.StringIO(), out=io.StringIO(), color=False)
    return Workspace(config=config, ui=ui, actor="alice", parts=parts), target, ledger


def stored(ws: Workspace, tmp_path: Path, name: str) -> Artifact:
    path = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("app.py", f"# {name}\n")
    artifact = Artifact(digest=sha256_file(path), size=path.stat().st_size, path=str(path))
    return ws.store.put(path, artifact)


def test_a_deploy_and_a_rollback_each_read_the_alias_once(tmp_path: Path) -> None:
    ws, target, _ = workspace(tmp_path)
    first, second = stored(ws, tmp_path, "a"), stored(ws, tmp_path, "b")
    flows.deploy(ws, "staging", artifact=first.digest)
    target.calls.clear()

    dep = flows.deploy(ws, "staging", artifact=second.digest)

    assert dep.version == "2"
    assert target.calls.count("alias_state") == 1
    target.calls.clear()

    back = flows.rollback(ws, "staging", to=None, reason="drill")

    assert (back.previous_version, back.version) == ("2", "1")
    assert target.calls.count("alias_state") == 1
    assert target.live() == "1"


def test_a_dry_run_reads_and_leaves_the_ledger_and_the_target_as_they_were(tmp_path) -> None:
    ws, target, ledger = workspace(tmp_path)
    flows.deploy(ws, "staging", artifact=stored(ws, tmp_path, "a").digest)
    events = len(ledger.audit_events())
    target.calls.clear()

    plan = flows.deploy_plan(ws, "staging", artifact=stored(ws, tmp_path, "b").digest)

    assert plan.proceeds
    assert set(target.calls) == {"alias_state"}
    assert len(ledger.audit_events()) == events
    assert ledger.lock_info("staging") is None
    assert target.live() == "1"


def test_the_github_provider_refuses_outside_a_workflow_run(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    monkeypatch.delenv("GITHUB_RUN_ID", raising=False)
    ws, _, _ = workspace(tmp_path)
    staged = stored(ws, tmp_path, "a")
    flows.deploy(ws, "staging", artifact=staged.digest)

    plan = flows.deploy_plan(ws, "production", artifact=None)

    assert plan.gate.code == "approval_missing"
    assert "not a GitHub Actions run" in plan.gate.message
    facts = GitHubApprovals(ws).read(
        "production", staged, ws.config.environments["production"].approval, now=now()
    )
    assert facts.refused is not None


@pytest.fixture(autouse=True)
def _no_github_run(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITHUB_ACTOR"):
        monkeypatch.delenv(name, raising=False)
