"""A dry run against the aws target makes read calls only (DESIGN §11.2: "no AWS write"):
the plans of a deploy and of both kinds of rollback, against moto in-process and moto's
server, with every API call recorded by a botocore event hook. The workspace is handed its
parts (an in-memory ledger, the moto-backed target, a store in a temporary folder)."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from aws_fixtures import MODES, MotoWorld, moto_world, release
from fakes import MemoryLedger
from lambda_promote.artifacts import DirectoryStore
from lambda_promote.config import load_config
from lambda_promote.release import flows
from lambda_promote.targets.aws_target import AwsTarget
from lambda_promote.ui import UI
from lambda_promote.workspace import Parts, Workspace

CONFIG = """\
project: orders
target: aws
function: {}
environments:
  staging:
    function_name: orders-staging
    checks:
      - name: ping
        payload: {ok: true}
        expect: {body: {ok: true}}
"""
READS = ("Get", "List")


@pytest.fixture(params=MODES)
def world(request: pytest.FixtureRequest, monkeypatch, tmp_path) -> Iterator[MotoWorld]:
    with moto_world(request.param, monkeypatch, tmp_path) as made:
        made.create_function("orders-staging")
        yield made


def workspace(tmp_path: Path, world: MotoWorld) -> Workspace:
    (tmp_path / "promote.yaml").write_text(textwrap.dedent(CONFIG))
    parts = Parts(
        ledger=MemoryLedger(),
        target=AwsTarget(session_factory=world.sessions),
        store=DirectoryStore(tmp_path / "artifacts"),
    )
    ui = UI(err=io.StringIO(), out=io.StringIO(), color=False)
    config = load_config(tmp_path / "promote.yaml", check_source=False)
    return Workspace(config=config, ui=ui, actor="alice", parts=parts)


def test_dry_runs_on_aws_only_read(world: MotoWorld, tmp_path: Path) -> None:
    ws = workspace(tmp_path, world)
    a, b, c = (release(tmp_path, name) for name in ("a", "b", "c"))
    for rel in (a, b, c):
        ws.store.put(rel.path, rel.artifact)
    flows.deploy(ws, "staging", artifact=a.digest)
    flows.deploy(ws, "staging", artifact=b.digest)
    world.log.calls.clear()

    deploy = flows.deploy_plan(ws, "staging", artifact=c.digest)
    back = flows.rollback_plan(ws, "staging", to=None, reason="")
    chosen = flows.rollback_plan(ws, "staging", to="1", reason="")

    assert deploy.proceeds
    assert (deploy.from_version, deploy.release.digest if deploy.release else None) == (
        "2",
        c.digest,
    )
    assert back.to == chosen.to == "1"
    called = [name for name, _ in world.log.calls]
    assert called, "the plans read where the alias points"
    assert [name for name in called if not name.startswith(READS)] == []
    # Nothing moved: the alias is where the last real deploy left it.
    assert flows.deploy_plan(ws, "staging", artifact=c.digest).from_version == "2"
