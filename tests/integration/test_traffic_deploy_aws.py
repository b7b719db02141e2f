"""A whole deployment with ``canary 10% 5m`` through the real state machine against moto
(in-process and server), with a fake clock so the five-minute bake takes no time: it walks
10 % → 100 % with the checks on the new version by number; an alarm set to ALARM with
``set_alarm_state`` during the bake puts the weight back to 0 and the previous version is
verified (rolled back, exit 3); a writer who moves the alias mid-shift is a conflict."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aws_fixtures import MODES, MotoWorld, moto_world, release
from fake_target import QuietProgress
from lambda_promote.config.schema import Check, Environment
from lambda_promote.deploy import Deployer
from lambda_promote.deploy_traffic import Pace
from lambda_promote.journal import Journal
from lambda_promote.model import DeploymentState, FunctionRef
from lambda_promote.targets.aws_target import AwsTarget
from ledger_fixtures import ledger_opener

S = DeploymentState
FN = FunctionRef(env="staging", function_name="orders-staging", alias="live")
ENV = Environment(
    function_name="orders-staging",
    checks=[Check(name="ping", payload={"ok": True}, expect={"body": {"ok": True}})],
    alarms=["orders-errors"],
    traffic="canary 10% 5m",
)


class FakeClock:
    def __init__(self, at_second: float | None = None, then=None) -> None:  # type: ignore[no-untyped-def]
        self.now, self.at_second, self.then = 0.0, at_second, then

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.at_second is not None and self.now >= self.at_second and self.then:
            self.then()
            self.then = None


@pytest.fixture(params=MODES)
def world(request: pytest.FixtureRequest, monkeypatch, tmp_path) -> Iterator[MotoWorld]:
    with moto_world(request.param, monkeypatch, tmp_path) as made:
        made.create_function(FN.function_name)
        made.create_alarm("orders-errors")
        yield made


def deployer(ledger, target: AwsTarget, clock: FakeClock) -> Deployer:  # type: ignore[no-untyped-def]
    return Deployer(
        ledger=ledger,
        target=target,
        journal=Journal(ledger),
        actor="alice",
        holder="alice@ci:1",
        progress=QuietProgress(),
        pace=Pace(clock=clock, sleep=clock.sleep),
    )


def test_a_canary_walks_10_then_100_with_checks_on_the_new_version(world, tmp_path: Path):
    with ledger_opener("sqlite-stdlib", tmp_path) as (_url, open_ledger):
        target = AwsTarget(session_factory=world.sessions)
        clock = FakeClock()
        d = deployer(open_ledger(), target, clock)
        a, b = release(tmp_path, "a"), release(tmp_path, "b")
        assert d.deploy(FN, ENV, a.artifact, a.path).state is S.SUCCEEDED
        dep = d.deploy(FN, ENV, b.artifact, b.path)

        assert dep.state is S.SUCCEEDED
        assert [(s["percent"], s["ok"]) for s in dep.traffic or []] == [(10.0, True), (100.0, True)]
        assert clock.now >= 300  # the whole bake, on the fake clock
        updates = list(world.log.of("UpdateAlias"))
        assert updates[-2]["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
        assert updates[-1]["RoutingConfig"] == {"AdditionalVersionWeights": {}}
        assert updates[-1]["FunctionVersion"] == "2"
        by_number = [c for c in world.log.of("Invoke") if c.get("Qualifier") == "2"]
        assert len(by_number) == 1  # the check at 10 %, on version 2 itself
        alias = target.alias_state(FN)
        assert (alias.version, dict(alias.weights)) == ("2", {})


def test_an_alarm_during_the_bake_puts_the_weight_back_to_0(world, tmp_path: Path):
    with ledger_opener("sqlite-stdlib", tmp_path) as (_url, open_ledger):
        cloudwatch = world.session().client("cloudwatch")

        def errors_stop_with_the_weight(session) -> None:  # type: ignore[no-untyped-def]
            def after(params, **_) -> None:  # type: ignore[no-untyped-def]
                if params.get("RoutingConfig") == {"AdditionalVersionWeights": {}}:
                    cloudwatch.set_alarm_state(
                        AlarmName="orders-errors", StateValue="OK", StateReason="no errors"
                    )

            session.events.register("provide-client-params.lambda.UpdateAlias", after)

        world.hooks.append(errors_stop_with_the_weight)
        target = AwsTarget(session_factory=world.sessions)
        raise_alarm = lambda: cloudwatch.set_alarm_state(  # noqa: E731
            AlarmName="orders-errors", StateValue="ALARM", StateReason="errors at 10%"
        )
        a, b = release(tmp_path, "a"), release(tmp_path, "b")
        ledger = open_ledger()
        assert deployer(ledger, target, FakeClock()).deploy(FN, ENV, a.artifact, a.path).version

        clock = FakeClock(at_second=90, then=raise_alarm)
        dep = deployer(ledger, target, clock).deploy(FN, ENV, b.artifact, b.path)

        assert dep.state is S.ROLLED_BACK, dep.error  # exit 3
        assert 90 <= clock.now <= 92  # noticed within a poll, not at the end of the bake
        assert "traffic stopped at 10%" in dep.error
        assert dep.rollback_record is not None
        assert dep.rollback_record.verified is True
        alias = target.alias_state(FN)
        assert (alias.version, dict(alias.weights)) == ("1", {})


def test_someone_moving_the_alias_mid_shift_is_a_conflict_never_overwritten(world, tmp_path):
    with ledger_opener("memory", tmp_path) as (_url, open_ledger):
        target = AwsTarget(session_factory=world.sessions)
        someone = world.session().client("lambda")
        a, b = release(tmp_path, "a"), release(tmp_path, "b")
        ledger = open_ledger()
        deployer(ledger, target, FakeClock()).deploy(FN, ENV, a.artifact, a.path)
        touch = lambda: someone.update_alias(FunctionName=FN.function_name, Name="live")  # noqa: E731
        dep = deployer(ledger, target, FakeClock(at_second=30, then=touch)).deploy(
            FN, ENV, b.artifact, b.path
        )
        # The 100 % step and the rollback both find another revision: a person must look.
        assert dep.state is S.ROLLBACK_FAILED
        assert "changed" in (dep.error or "") or "Revision" in (dep.error or "")
