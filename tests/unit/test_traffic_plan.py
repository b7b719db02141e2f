"""release/traffic_plan.py: what a dry run lists for hooks and a progressive shift."""

from __future__ import annotations

from release_facts import env_facts

from lambda_promote.config.schema import Check, Environment, Hooks
from lambda_promote.release.models import StepAction
from lambda_promote.release.traffic_plan import after_full_shift, before_full_shift

CANARY = Environment(
    function_name="fn-staging",
    checks=[Check(name="ping")],
    alarms=["errors"],
    traffic="canary 10% 5m",
    hooks=Hooks(before_traffic="pre", after_traffic="post"),
)


def test_a_canary_lists_the_hook_then_weight_checks_and_bake_per_partial_step() -> None:
    steps = before_full_shift(env_facts(CANARY), "fn-staging")
    assert [(s.action, s.percent) for s in steps] == [
        (StepAction.CHECK, None),
        (StepAction.SHIFT, 10.0),
        (StepAction.CHECK, None),
        (StepAction.BAKE, None),
    ]
    assert steps[0].detail == "before_traffic hook: invoke pre"
    assert "sends 10% to the new version, the rest to version 1" in steps[1].detail
    assert steps[2].detail == "ping (traffic): invoke the new version by number"
    assert steps[3].detail == "5m at 10%: every second, errors and abort/finish requests"
    assert [s.detail for s in after_full_shift(env_facts(CANARY), "fn-staging")] == [
        "after_traffic hook: invoke post"
    ]


def test_linear_lists_every_partial_step() -> None:
    spec = CANARY.model_copy(update={"traffic": "linear 25% every 1m"})
    shares = [s.percent for s in before_full_shift(env_facts(spec), "f") if s.percent]
    assert shares == [25.0, 50.0, 75.0]


def test_a_first_deployment_moves_all_at_once() -> None:
    steps = before_full_shift(env_facts(CANARY, live=None), "fn-staging")
    assert [s.action for s in steps] == [StepAction.CHECK, StepAction.SHIFT]
    assert "nothing is live yet" in steps[1].detail


def test_all_at_once_adds_nothing_but_hooks() -> None:
    plain = Environment(function_name="f")
    assert before_full_shift(env_facts(plain), "f") == []
    assert after_full_shift(env_facts(plain), "f") == []
