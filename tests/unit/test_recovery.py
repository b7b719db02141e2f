"""What the next command does with a deployment a killed process left behind (§5.5)."""

from __future__ import annotations

import pytest

from lambda_promote.model import AliasState, Deployment, DeploymentKind, DeploymentState
from lambda_promote.release.rollback import Action
from lambda_promote.release.rollback import recovery_for as decide

S = DeploymentState


def interrupted(
    state: S,
    *,
    version: str | None = "2",
    previous: str | None = "1",
    kind: DeploymentKind = DeploymentKind.DEPLOY,
) -> Deployment:
    return Deployment(
        id="d-1",
        env="staging",
        digest="a" * 64,
        state=state,
        kind=kind,
        version=version,
        previous_version=previous,
    )


@pytest.mark.parametrize(
    ("state", "live", "action"),
    [
        (S.PENDING, "1", Action.MARK_FAILED),
        (S.PUBLISHING, "1", Action.MARK_FAILED),
        (S.SHIFTING, "1", Action.MARK_FAILED),  # killed before the alias moved
        (S.SHIFTING, "2", Action.ROLL_BACK),  # killed right after the alias moved
        (S.VERIFYING, "2", Action.ROLL_BACK),
        (S.ROLLING_BACK, "2", Action.ROLL_BACK),  # the rollback itself was interrupted
        (S.ROLLING_BACK, "1", Action.VERIFY_PREVIOUS),  # moved back, not yet verified
        (S.VERIFYING, "5", Action.NEEDS_PERSON),  # somebody else moved the alias
    ],
)
def test_decision_follows_where_the_alias_points(state: S, live: str, action: Action) -> None:
    assert decide(interrupted(state), AliasState(version=live)).action is action


def test_first_deployment_interrupted_after_the_alias_was_created_is_undone() -> None:
    decision = decide(interrupted(S.VERIFYING, previous=None), AliasState(version="2"))
    assert decision.action is Action.ROLL_BACK


def test_interrupted_manual_rollback_is_verified_where_it_got_to() -> None:
    dep = interrupted(S.VERIFYING, version="1", previous="2", kind=DeploymentKind.ROLLBACK)
    assert decide(dep, AliasState(version="1")).action is Action.VERIFY_TARGET
    assert decide(dep, AliasState(version="2")).action is Action.MARK_FAILED
