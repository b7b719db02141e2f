"""The plan of a deploy with a release's configuration and with drift (DESIGN §11.2, §11.3),
over hand-made facts: a ``configure`` step before ``publish`` when the settings change (then
even the live code is published again), none when nothing changes, and in a drifted
environment a note and a rollback target the ledger knows."""

from __future__ import annotations

from dataclasses import replace

from release_facts import digest, env_facts, release

from lambda_promote.configuring import Configured
from lambda_promote.drift import Drift
from lambda_promote.function_config import FunctionConfiguration
from lambda_promote.release.display import plan_json
from lambda_promote.release.models import StepAction
from lambda_promote.release.plan import plan_deploy

A = StepAction
BIG = FunctionConfiguration(memory_mb=1024)


def configured(changes: tuple[str, ...] | None, *, n: int = 2, notes: tuple[str, ...] = ()):
    return replace(
        release(n),
        configured=Configured(BIG, BIG, notes=notes),
        configuration_changes=changes,
    )


def test_a_configuration_change_is_a_configure_step_before_publish():
    plan = plan_deploy(env_facts(), configured(("memory_mb: 256 → 1024",)))

    actions = [s.action for s in plan.steps]
    assert actions[:3] == [A.CONFIGURE, A.PUBLISH, A.SHIFT]
    assert plan.steps[0].detail == "memory_mb: 256 → 1024"
    assert plan_json(plan)["steps"][0] == {
        "action": "configure",
        "detail": "memory_mb: 256 → 1024",
        "function": "fn-staging",
    }


def test_new_settings_for_the_live_code_publish_a_new_version_instead_of_already_live():
    live_code = env_facts(live="2", live_digest=digest(2))

    unchanged = plan_deploy(live_code, configured(()))
    changed = plan_deploy(live_code, configured(("memory_mb: 256 → 1024",)))

    assert [s.action for s in unchanged.steps][:1] == [A.PUBLISH]
    assert "already live" in unchanged.steps[0].detail
    assert [s.action for s in changed.steps][:3] == [A.CONFIGURE, A.PUBLISH, A.SHIFT]


def test_when_the_ledger_cannot_say_what_is_live_the_settings_are_applied():
    plan = plan_deploy(env_facts(), configured(None))
    assert plan.steps[0].action is A.CONFIGURE
    assert plan.steps[0].detail == "apply memory 1024 MB"


def test_nothing_managed_is_no_configure_step():
    facts = replace(
        release(2), configured=Configured(FunctionConfiguration(), FunctionConfiguration())
    )
    assert A.CONFIGURE not in [s.action for s in plan_deploy(env_facts(), facts).steps]


def test_a_promotion_that_differs_from_todays_file_says_so():
    plan = plan_deploy(env_facts(), configured((), notes=("function: in promote.yaml differs",)))
    assert "staging: function: in promote.yaml differs" in plan.notes


def test_a_drifted_environment_is_noted_and_a_failure_goes_back_to_the_ledgers_version():
    drift = Drift("1", "7", "the alias points at version 7, …", ("code",), digest(1))
    env = replace(env_facts(live="7", live_digest="e" * 64), drift=drift)

    plan = plan_deploy(env, release(2))

    assert any("drift" in note for note in plan.notes)
    assert plan.rollback_target is not None
    assert (plan.rollback_target.version, plan.rollback_target.digest) == ("1", digest(1))
