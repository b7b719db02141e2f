"""Deciding what to do with a deployment a crashed process left unfinished (DESIGN §5.5).

Pure: given the recorded deployment and where the alias points now, say what restores a
consistent, explained state. ``deploy.Deployer`` carries the decision out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lambda_promote.model import AliasState, Deployment, DeploymentKind, DeploymentState


class Action(enum.Enum):
    MARK_FAILED = "mark_failed"  # traffic never moved: nothing to undo
    ROLL_BACK = "roll_back"  # the alias points at the interrupted version: move it back
    VERIFY_PREVIOUS = "verify_previous"  # a rollback moved the alias but was not verified
    VERIFY_TARGET = "verify_target"  # a manual rollback moved the alias but was not verified
    NEEDS_PERSON = "needs_person"  # the alias points somewhere we did not put it


@dataclass(frozen=True)
class Decision:
    action: Action
    why: str


def decide(deployment: Deployment, alias: AliasState) -> Decision:
    state, live = deployment.state, alias.version
    ours, previous = deployment.version, deployment.previous_version
    if state in (DeploymentState.PENDING, DeploymentState.PUBLISHING):
        return Decision(Action.MARK_FAILED, "interrupted before the alias moved; nothing to undo")
    if deployment.kind is DeploymentKind.ROLLBACK:
        return _decide_manual_rollback(live, ours, previous)
    if live == ours and ours != previous:
        return Decision(Action.ROLL_BACK, f"interrupted with the alias on version {ours}")
    if live == previous:
        if state is DeploymentState.SHIFTING:
            return Decision(Action.MARK_FAILED, "interrupted before the alias moved")
        return Decision(
            Action.VERIFY_PREVIOUS,
            f"interrupted after the alias was back on version {previous}; verifying it",
        )
    return Decision(
        Action.NEEDS_PERSON,
        f"the alias points at version {live}, which is neither the interrupted deployment's "
        f"version {ours} nor the previous version {previous}",
    )


def _decide_manual_rollback(live: str | None, ours: str | None, previous: str | None) -> Decision:
    if live == ours:
        return Decision(Action.VERIFY_TARGET, f"interrupted rollback reached version {ours}")
    if live == previous:
        return Decision(Action.MARK_FAILED, "interrupted rollback had not moved the alias")
    return Decision(
        Action.NEEDS_PERSON,
        f"the alias points at version {live}, neither the rollback's target {ours} "
        f"nor where it started ({previous})",
    )
