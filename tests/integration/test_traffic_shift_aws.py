"""A shift walked step by step against moto (in-process and server) with a SQLite ledger:
the alias weight is Lambda's RoutingConfig, the checks invoke the new version by number, and
an alarm set to ALARM with ``set_alarm_state`` during the bake stops the shift within a poll."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from aws_fixtures import MODES, MotoWorld, moto_world, release
from lambda_promote.config.schema import Check
from lambda_promote.journal import Journal
from lambda_promote.model import Deployment, DeploymentState, FunctionRef
from lambda_promote.shifting import Member, TargetShift, walk
from lambda_promote.targets.aws_target import AwsTarget
from lambda_promote.traffic import TrafficStrategy
from lambda_promote.traffic_control import AuditControl
from ledger_fixtures import ledger_opener

FN = FunctionRef(env="staging", function_name="orders-staging", alias="live")


@pytest.fixture(params=MODES)
def world(request: pytest.FixtureRequest, monkeypatch, tmp_path) -> Iterator[MotoWorld]:
    with moto_world(request.param, monkeypatch, tmp_path) as made:
        yield made


def prepared(world: MotoWorld, tmp_path, ledger):  # type: ignore[no-untyped-def]
    world.create_function(FN.function_name)
    cloudwatch = world.create_alarm("orders-errors")
    target = AwsTarget(session_factory=world.sessions)
    a, b = release(tmp_path, "a"), release(tmp_path, "b")
    live = target.point_alias(
        FN, target.publish(FN, a.artifact, a.path).version, expected_revision=None
    )
    new = target.publish(FN, b.artifact, b.path).version
    dep = ledger.create_deployment(
        Deployment(
            id="d-1", env="staging", digest=b.digest, state=DeploymentState.SHIFTING, version=new
        )
    )
    shift = TargetShift(
        target=target,
        journal=Journal(ledger),
        dep=dep,
        members=[Member(FN, new, live, checks=[Check(name="ping", payload={"ping": 1})])],
        alarms=["orders-errors"],
    )
    return target, shift, cloudwatch


def test_a_canary_step_weights_the_alias_and_checks_version_n(world, tmp_path):
    with ledger_opener("sqlite-stdlib", tmp_path) as (_url, open_ledger):
        ledger = open_ledger()
        target, shift, _ = prepared(world, tmp_path, ledger)
        strategy = TrafficStrategy("canary", 10.0, 1)
        outcome = walk(shift, strategy, AuditControl(ledger, "staging", "d-1", 0))

        assert outcome.ok
        alias = target.alias_state(FN)
        assert (alias.version, dict(alias.weights)) == ("1", {"2": 0.1})
        invokes = [c for c in world.log.of("Invoke") if c["FunctionName"] == FN.function_name]
        assert [c.get("Qualifier") for c in invokes] == ["2"]
        recorded = ledger.get_deployment("d-1")
        assert recorded is not None
        assert recorded.traffic is not None
        assert [s["percent"] for s in recorded.traffic] == [10.0]


def test_an_alarm_raised_mid_bake_stops_the_shift_within_a_poll(world, tmp_path):
    with ledger_opener("sqlite-stdlib", tmp_path) as (_url, open_ledger):
        ledger = open_ledger()
        _, shift, cloudwatch = prepared(world, tmp_path, ledger)
        strategy = TrafficStrategy("canary", 10.0, 60)
        raised_at: list[float] = []

        def raise_alarm() -> None:
            time.sleep(1.5)
            cloudwatch.set_alarm_state(
                AlarmName="orders-errors", StateValue="ALARM", StateReason="errors at 10%"
            )
            raised_at.append(time.monotonic())

        raiser = threading.Thread(target=raise_alarm)
        raiser.start()
        outcome = walk(shift, strategy, AuditControl(ledger, "staging", "d-1", 0))
        stopped_at = time.monotonic()
        raiser.join()

        assert outcome.end == "alarm"
        assert [r.name for r in outcome.failed] == ["alarm:orders-errors"]
        assert stopped_at - raised_at[0] < 2.0  # read about once a second, not at the end
        recorded = ledger.get_deployment("d-1")
        assert recorded is not None
        assert recorded.traffic is not None
        assert recorded.traffic[-1]["ok"] is False
