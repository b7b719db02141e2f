"""A release of many functions on the aws target (DESIGN §11.4), through the release state
machine against moto in-process and moto's server on 127.0.0.1 (``AWS_ENDPOINT_URL``): every
function published, shifted and verified; one function's failing check takes every moved
function back, verified, and leaves a never-moved one alone; a crash between two functions'
alias moves is rolled back by the next command; production gets exactly the staging bytes; a
manual rollback moves every function back to the release before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from aws_fixtures import MODES, MotoWorld, Release, moto_world, release
from fake_target import QuietProgress
from fakes import MemoryLedger
from lambda_promote.config.schema import Check, Environment
from lambda_promote.deploy_release import Part, ReleaseDeployer
from lambda_promote.journal import Journal
from lambda_promote.model import Artifact, Deployment, DeploymentState, FunctionRef
from lambda_promote.targets.aws_lambda import code_sha256
from lambda_promote.targets.aws_target import AwsTarget

S = DeploymentState
NAMES = ("api", "worker", "jobs")
PING = Check(name="ping", payload={"ok": True}, expect={"body": {"ok": True}})


class Crash(BaseException):
    """The process dies here: nothing after it runs (not even ``except Exception``)."""


def fns(env: str, names: tuple[str, ...] = NAMES) -> dict[str, FunctionRef]:
    return {n: FunctionRef(env=env, function_name=f"shop-{n}-{env}", alias="live") for n in names}


def spec(env: str, names: tuple[str, ...] = NAMES) -> Environment:
    return Environment(
        function_names={n: f"shop-{n}-{env}" for n in names}, checks=[PING], bake_seconds=0
    )


@pytest.fixture(params=MODES)
def world(request: pytest.FixtureRequest, monkeypatch, tmp_path) -> Iterator[MotoWorld]:
    with moto_world(request.param, monkeypatch, tmp_path) as made:
        for env in ("staging", "production"):
            for fn in fns(env).values():
                made.create_function(fn.function_name)
        yield made


def deployer(ledger: MemoryLedger, target: AwsTarget) -> ReleaseDeployer:
    return ReleaseDeployer(
        ledger=ledger, target=target, journal=Journal(ledger), actor="alice",
        holder="alice@ci:1", progress=QuietProgress(), fns_for=fns,
    )  # fmt: skip


def parts(env: str, releases: dict[str, Release]) -> dict[str, Part]:
    refs = fns(env, tuple(releases))
    return {n: Part(n, refs[n], r.artifact, r.path) for n, r in releases.items()}


def deploy(d: ReleaseDeployer, env: str, releases: dict[str, Release], digest: str) -> Deployment:
    names = tuple(releases)
    manifest = Artifact(digest=digest, size=0, path="")
    return d.deploy_release(fns(env, names), spec(env, names), manifest, parts(env, releases))


def live(world: MotoWorld, fn: FunctionRef) -> tuple[str, str]:
    client = world.session().client("lambda")
    version = client.get_alias(FunctionName=fn.function_name, Name=fn.alias)["FunctionVersion"]
    code = client.get_function_configuration(FunctionName=fn.function_name, Qualifier=version)
    return version, code["CodeSha256"]


def test_a_failing_check_of_one_function_takes_every_moved_function_back(
    world: MotoWorld, tmp_path: Path
):
    target = AwsTarget(session_factory=world.sessions)
    ledger = MemoryLedger()
    d = deployer(ledger, target)
    r1 = {n: release(tmp_path, f"{n}-1") for n in NAMES}
    first = deploy(d, "staging", r1, "1" * 64)
    assert first.state is S.SUCCEEDED
    assert first.functions is not None
    assert {n: f["version"] for n, f in first.functions.items()} == dict.fromkeys(NAMES, "1")

    # Production receives the same bytes: each function's code is the staging code.
    promoted = deploy(d, "production", r1, "1" * 64)
    assert promoted.state is S.SUCCEEDED
    for name in NAMES:
        assert live(world, fns("production")[name])[1] == code_sha256(r1[name].digest)
        assert live(world, fns("production")[name])[1] == live(world, fns("staging")[name])[1]

    # api and worker change, jobs does not; the worker answers wrongly (api's check first).
    r2 = {**r1, "api": release(tmp_path, "api-2"), "worker": release(tmp_path, "worker-2")}
    world.queue_invoke_results({"ok": True}, {"ok": False})
    bad = deploy(d, "staging", r2, "2" * 64)
    assert bad.state is S.ROLLED_BACK
    assert bad.rollback is not None
    assert bad.rollback["verified"] is True
    assert bad.functions is not None
    assert {n: f["moved"] for n, f in bad.functions.items()} == {
        "api": True,
        "worker": True,
        "jobs": False,
    }
    assert "worker: ping" in bad.error
    for name in NAMES:  # every function serves release 1 again
        assert live(world, fns("staging")[name]) == ("1", code_sha256(r1[name].digest))
    jobs_updates = [c for c in world.log.of("UpdateAlias") if "jobs" in c["FunctionName"]]
    assert jobs_updates == []  # never moved, so never touched


def test_a_crash_between_two_alias_moves_is_rolled_back_by_the_next_command(
    world: MotoWorld, tmp_path: Path
):
    target = AwsTarget(session_factory=world.sessions)
    ledger = MemoryLedger()
    r1 = {n: release(tmp_path, f"{n}-1") for n in NAMES}
    assert deploy(deployer(ledger, target), "staging", r1, "1" * 64).state is S.SUCCEEDED
    armed: list[bool] = []

    def crash_before_the_worker_moves(session: boto3.Session) -> None:
        def before(params: dict[str, Any], **_: Any) -> None:
            if armed and "shop-worker-" in params["url_path"]:
                raise Crash("power cut")

        session.events.register_first("before-call.lambda.UpdateAlias", before)

    world.hooks.append(crash_before_the_worker_moves)
    crashing = AwsTarget(session_factory=world.sessions)
    r2 = {n: release(tmp_path, f"{n}-2") for n in NAMES}
    armed.append(True)
    with pytest.raises(Crash):
        deploy(deployer(ledger, crashing), "staging", r2, "2" * 64)
    armed.clear()
    assert live(world, fns("staging")["api"])[0] == "2"  # moved before the crash
    assert live(world, fns("staging")["worker"])[0] == "1"
    (left,) = ledger.unfinished("staging")
    assert left.state is S.SHIFTING

    # The next command on the environment, from a new process (a new target).
    fresh = AwsTarget(session_factory=world.sessions)
    (resolved,) = deployer(ledger, fresh).recover(fns("staging")["api"], spec("staging"))
    assert resolved.state is S.ROLLED_BACK
    assert resolved.rollback is not None
    assert resolved.rollback["verified"] is True
    assert "moved back: api" in resolved.rollback["note"]
    for name in NAMES:
        assert live(world, fns("staging")[name]) == ("1", code_sha256(r1[name].digest))
    assert ledger.unfinished("staging") == []


def test_manual_rollback_moves_both_functions_back_verified(world: MotoWorld, tmp_path: Path):
    two = ("api", "worker")
    target = AwsTarget(session_factory=world.sessions)
    ledger = MemoryLedger()
    d = deployer(ledger, target)
    r1 = {n: release(tmp_path, f"{n}-1") for n in two}
    r2 = {n: release(tmp_path, f"{n}-2") for n in two}
    first = deploy(d, "staging", r1, "1" * 64)
    assert deploy(d, "staging", r2, "2" * 64).state is S.SUCCEEDED

    back = d.rollback_release(fns("staging", two), spec("staging", two), to=first, reason="slow")
    assert (back.state, back.digest, back.reason) == (S.SUCCEEDED, "1" * 64, "slow")
    assert back.rollback is not None
    assert back.rollback["verified"] is True
    assert back.functions is not None
    assert {n: (f["version"], f["previous_version"]) for n, f in back.functions.items()} == {
        "api": ("1", "2"),
        "worker": ("1", "2"),
    }
    for name in two:
        assert live(world, fns("staging")[name]) == ("1", code_sha256(r1[name].digest))
