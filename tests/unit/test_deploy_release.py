"""The release state machine's refusals without I/O (DESIGN §11.4): a function that cannot be
moved back makes the rollback fail naming it (exit 4); a publish failure changes nothing
(exit 1); the plan-free helpers pick checks per function."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fake_target import FakeTarget, QuietProgress, target_error
from fakes import MemoryLedger
from lambda_promote.config.schema import Check, Environment
from lambda_promote.deploy_release import Part, ReleaseDeployer, checks_for
from lambda_promote.errors import RollbackFailed, exit_code_for
from lambda_promote.journal import Journal
from lambda_promote.model import Artifact, DeploymentState, FunctionRef
from lambda_promote.outcome import raise_for_outcome

S = DeploymentState
NAMES = ("api", "worker")
ENV = Environment(
    function_names={n: f"shop-{n}" for n in NAMES},
    checks=[Check(name="ping"), Check(name="drain", function="worker")],
)


class Targets:
    """One FakeTarget per Lambda function, behind the one Target the deployer talks to."""

    def __init__(self) -> None:
        self.by_name = {f"shop-{n}": FakeTarget() for n in NAMES}

    def __getattr__(self, method: str) -> Any:
        def call(fn: FunctionRef, *args: Any, **kwargs: Any) -> Any:
            return getattr(self.by_name[fn.function_name], method)(fn, *args, **kwargs)

        return call


def fns() -> dict[str, FunctionRef]:
    return {n: FunctionRef(env="staging", function_name=f"shop-{n}", alias="live") for n in NAMES}


def deploy(targets: Targets, ledger: MemoryLedger, release: str) -> Any:
    deployer = ReleaseDeployer(
        ledger=ledger, target=targets, journal=Journal(ledger), actor="alice",  # type: ignore[arg-type]
        holder="alice@h:1", progress=QuietProgress(), fns_for=lambda _env: fns(),
    )  # fmt: skip
    parts = {
        n: Part(n, fn, Artifact(digest=f"{release}-{n}".ljust(64, "0"), size=1, path=""), Path())
        for n, fn in fns().items()
    }
    manifest = Artifact(digest=release.ljust(64, "f"), size=1, path="")
    return deployer.deploy_release(fns(), ENV, manifest, parts)


def test_checks_run_against_their_function_or_every_function() -> None:
    assert [c.name for c in checks_for(ENV, "api")] == ["ping"]
    assert [c.name for c in checks_for(ENV, "worker")] == ["ping", "drain"]


def test_a_function_that_cannot_be_moved_back_is_named_and_needs_a_person() -> None:
    targets, ledger = Targets(), MemoryLedger()
    assert deploy(targets, ledger, "a").state is S.SUCCEEDED
    api, worker = targets.by_name["shop-api"], targets.by_name["shop-worker"]
    worker.unhealthy_versions.add("2")
    moves: list[str] = []
    original = api.point_alias

    def api_point_alias(fn: FunctionRef, version: str, **kwargs: Any) -> Any:
        moves.append(version)
        if len(moves) == 2:  # moving back to version 1
            raise target_error("throttled for good")
        return original(fn, version, **kwargs)

    api.point_alias = api_point_alias  # type: ignore[method-assign]
    dep = deploy(targets, ledger, "b")
    assert dep.state is S.ROLLBACK_FAILED
    assert (api.live(), worker.live()) == ("2", "1")  # the worker went back; the api could not
    with pytest.raises(RollbackFailed) as caught:
        raise_for_outcome(dep)
    assert exit_code_for(caught.value) == 4
    assert "could not restore api" in caught.value.message


def test_a_publish_failure_changes_nothing() -> None:
    targets, ledger = Targets(), MemoryLedger()
    assert deploy(targets, ledger, "a").state is S.SUCCEEDED
    targets.by_name["shop-worker"].fail_next["publish"] = target_error("no space")
    dep = deploy(targets, ledger, "b")
    assert dep.state is S.FAILED
    assert "worker" in dep.error
    assert [t.live() for t in targets.by_name.values()] == ["1", "1"]
    assert ledger.unfinished("staging") == []


def test_an_alias_someone_moved_after_the_deploy_read_it_is_never_overwritten() -> None:
    """DESIGN §5.6 for a release: each alias move is guarded by the revision the deploy read
    before publishing, not one read again just before the move."""
    targets, ledger = Targets(), MemoryLedger()
    assert deploy(targets, ledger, "a").state is S.SUCCEEDED
    worker = targets.by_name["shop-worker"]
    worker_fn = fns()["worker"]
    original = worker.publish

    def publish_while_someone_moves_the_alias(fn: FunctionRef, *args: Any) -> Any:
        published = original(fn, *args)
        other = original(worker_fn, Artifact(digest="c" * 64, size=1, path=""), Path())
        revision = worker.alias_state(worker_fn).revision_id
        worker.point_alias(worker_fn, other.version, expected_revision=revision)  # the console
        return published

    worker.publish = publish_while_someone_moves_the_alias  # type: ignore[method-assign]
    dep = deploy(targets, ledger, "b")
    assert dep.state is not S.SUCCEEDED
    assert worker.live() == "3"  # the other writer's version stands
    assert targets.by_name["shop-api"].live() == "1"  # the api went back
