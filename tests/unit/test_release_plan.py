"""The plan stage of a deploy and a run (release/plan.py), over hand-made facts: the gate's
every verdict, the steps in order, where a failure goes back to, and each trigger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from release_facts import (
    NOW,
    PRODUCTION,
    RULE,
    STAGING,
    builtin,
    deployment,
    digest,
    env_facts,
    release,
    request,
)

from lambda_promote.config.schema import Trigger
from lambda_promote.errors import GateBlocked
from lambda_promote.ledger.base import LockInfo
from lambda_promote.model import ApprovalDecision, DeploymentState, RequestState
from lambda_promote.release.display import plan_json, plan_lines
from lambda_promote.release.models import ApprovalFacts, GateDecision, StepAction
from lambda_promote.release.plan import plan_deploy, plan_run
from lambda_promote.triggers import Event
from lambda_promote.triggers import plan as trigger_plan

A = StepAction


def prod(**kw):
    return env_facts(PRODUCTION, name="production", **kw)


def promoted(n: int = 2, **kw):
    kw.setdefault("succeeded", (digest(n),))
    return release(n, source="staging", **kw)


# --- the gate --------------------------------------------------------------------------------
def test_staging_without_rules_is_admitted_and_consumes_nothing() -> None:
    plan = plan_deploy(env_facts(), release(2))
    assert plan.gate.ok
    assert plan.approval is None
    assert plan.proceeds
    assert plan.stopping_error() is None


@pytest.mark.parametrize(
    ("facts", "code"),
    [
        (release(None, source="staging"), "source_not_verified"),  # nothing succeeded there
        (release(2, source="staging", succeeded=(digest(3),)), "source_not_verified"),
        (promoted(branch=None), "branch_not_allowed"),  # built outside a branch
        (promoted(branch="feature/x"), "branch_not_allowed"),
        (promoted(bytes_problem="artifact 2 was modified on disk"), "artifact_tampered"),
        (promoted(approval=builtin()), "approval_missing"),
        (promoted(approval=builtin(request(approvers=()))), "approval_open"),
        (promoted(approval=builtin(request(rejected_by="ops"))), "approval_rejected"),
        (
            promoted(approval=builtin(request(expires_in=timedelta(minutes=30)))),
            "approval_expired",
        ),
        (
            promoted(approval=builtin(request(state=RequestState.CONSUMED))),
            "approval_consumed",
        ),
        # a granted request for another digest never transfers
        (promoted(approval=builtin(newest_in_env=request(9))), "approval_mismatch"),
    ],
)
def test_every_gate_refusal_blocks_with_its_code_and_exit_5(facts, code: str) -> None:
    plan = plan_deploy(prod(), facts)
    assert not plan.gate.ok
    assert plan.gate.code == code
    assert plan.approval is None
    error = plan.stopping_error()
    assert isinstance(error, GateBlocked)
    assert error.code == code


def test_refusals_are_reported_in_the_order_of_the_real_run() -> None:
    """Upstream verification first, then the branch, then the bytes, then approval."""
    everything_wrong = release(
        2, source="staging", succeeded=(), branch="feature/x", bytes_problem="tampered"
    )
    assert plan_deploy(prod(), everything_wrong).gate.code == "source_not_verified"
    assert plan_deploy(prod(), promoted(branch="dev", bytes_problem="x")).gate.code == (
        "branch_not_allowed"
    )


def test_the_wait_timer_holds_even_with_every_approval_in() -> None:
    rule = RULE.model_copy(update={"wait_timer_minutes": 120})
    facts = ApprovalFacts("builtin", rule, NOW, requests=(request(approvers=("lead", "ops")),))
    plan = plan_deploy(prod(), promoted(approval=facts))
    assert plan.gate.code == "approval_open"
    assert "wait timer" in plan.gate.message


def test_a_granted_request_is_the_approval_the_deploy_consumes() -> None:
    granted = request(rid="r-good")
    plan = plan_deploy(
        prod(), promoted(approval=builtin(request(rid="r-new", approvers=()), granted))
    )
    assert plan.gate.ok
    assert plan.approval is not None
    assert plan.approval.request is granted
    assert plan.approval.approvers == ("lead",)
    consume = [s for s in plan.steps if s.action is A.CONSUME_APPROVAL]
    assert len(consume) == 1
    assert "r-good" in consume[0].detail


def test_github_approvals_admit_and_are_recorded_when_consumed() -> None:
    decision = ApprovalDecision(reviewer="lead", approve=True, at=NOW, source="github")
    facts = ApprovalFacts("github", RULE, NOW, decisions=(decision,), run_id="77")
    plan = plan_deploy(prod(), promoted(approval=facts))
    assert plan.gate.ok
    assert plan.approval is not None
    assert plan.approval.decisions == (decision,)
    assert plan.approval.run_id == "77"


def test_outside_a_github_run_the_github_provider_refuses() -> None:
    refused = GateDecision.blocked(GateBlocked("not a GitHub Actions run", code="approval_missing"))
    facts = ApprovalFacts("github", RULE, NOW, refused=refused)
    assert plan_deploy(prod(), promoted(approval=facts)).gate.code == "approval_missing"


def test_an_unbuilt_release_is_checked_against_the_branch_of_the_checkout() -> None:
    spec = STAGING.model_copy(update={"branches": ["main"]})
    assert plan_deploy(env_facts(spec), release(None, branch="main")).gate.ok
    blocked = plan_deploy(env_facts(spec), release(None, branch="feature/x"))
    assert blocked.gate.code == "branch_not_allowed"


# --- steps, lock and rollback target ---------------------------------------------------------
def test_a_promotion_lists_its_steps_in_the_order_they_run() -> None:
    plan = plan_deploy(prod(), promoted(approval=builtin(request())))
    assert [s.action for s in plan.steps] == [
        A.CONSUME_APPROVAL,
        A.PUBLISH,
        A.SHIFT,
        A.CHECK,
        A.CHECK,
        A.ALARM_WATCH,
        A.BAKE,
    ]
    shift = plan.steps[2]
    assert shift.percent == 100
    assert shift.function == "fn-production"
    body = plan_json(plan)
    assert body["steps"][2] == {
        "action": "shift",
        "detail": shift.detail,
        "function": "fn-production",
        "percent": 100,
    }
    assert set(body) >= {"env", "release", "from_version", "to", "gate", "steps", "rollback_target"}


def test_a_failure_would_go_back_to_the_live_version() -> None:
    plan = plan_deploy(env_facts(live="4"), release(5))
    assert plan.rollback_target is not None
    assert (plan.rollback_target.version, plan.rollback_target.digest) == ("4", digest(4))
    assert any("back to version 4" in line for line in plan_lines(plan))


def test_a_first_deployment_would_remove_the_alias_on_failure() -> None:
    plan = plan_deploy(env_facts(live=None), release(1))
    assert plan.rollback_target is not None
    assert plan.rollback_target.version is None
    assert "removed" in plan.rollback_target.why


def test_the_live_release_is_verified_not_shifted_again() -> None:
    plan = plan_deploy(env_facts(live="2"), release(2))
    assert A.SHIFT not in [s.action for s in plan.steps]
    assert A.CHECK in [s.action for s in plan.steps]


def test_an_unbuilt_release_plans_a_build_first() -> None:
    plan = plan_deploy(env_facts(), release(None))
    assert plan.steps[0].action is A.BUILD
    assert plan_json(plan)["release"] is None


def test_a_lock_held_by_a_live_process_stops_with_exit_6_but_a_stale_one_does_not() -> None:
    lock = LockInfo("staging", "bob@ci:12", "d-other", NOW)
    held = plan_deploy(env_facts(lock=lock), release(2))
    assert held.gate.ok
    assert not held.proceeds
    assert held.stopping_error().code == "locked"
    stale = plan_deploy(env_facts(lock=lock, lock_stale=True), release(2))
    assert stale.proceeds


def test_interrupted_work_is_resolved_before_anything_else() -> None:
    dead = deployment("3", DeploymentState.VERIFYING, previous="2", dep_id="d-dead")
    plan = plan_deploy(env_facts(live="3", unfinished=(dead,)), release(4))
    assert plan.steps[0].action is A.RECOVER
    assert "d-dead" in plan.steps[0].detail


def test_no_checks_is_said_before_the_deploy() -> None:
    bare = STAGING.model_copy(update={"checks": []})
    plan = plan_deploy(env_facts(bare), release(2))
    assert any("no checks configured" in note for note in plan.notes)


# --- run: each trigger -----------------------------------------------------------------------
TRIGGERS = [
    Trigger(event="push", branches=["develop"], deploy=["staging"]),
    Trigger(event="pull_request", branches=["main"], deploy=["staging"]),
    Trigger(event="push", branches=["main"], deploy=["production", "staging"]),
]
SOURCES = {"staging": None, "production": "staging"}


@pytest.mark.parametrize(
    ("event", "envs"),
    [
        (Event("push", "develop"), ("staging",)),
        (Event("pull_request", "main"), ("staging",)),
        (Event("push", "main"), ("staging", "production")),  # promotion order, not listed order
        (Event("workflow_dispatch", None, "production"), ("production",)),
        (Event("push", "feature/x"), ()),
    ],
)
def test_each_trigger_plans_its_environments_in_promotion_order(event, envs) -> None:
    trigger = trigger_plan(TRIGGERS, event, known_envs=["staging", "production"])
    first = plan_deploy(env_facts(), release(2)) if envs else None
    run = plan_run(trigger, first, sources=SOURCES)
    assert run.trigger.environments == envs
    assert len(run.then) == max(len(envs) - 1, 0)
    if envs == ("staging", "production"):
        assert run.then == ("production: promote what staging verified, through production's gate",)
