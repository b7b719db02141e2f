"""What a finished deployment means to the person who started it: the error (and so the exit
code of DESIGN §4) for each way it can end. The state machine (``deploy.py``) decides how it
ends; the CLI alone turns these errors into exit codes.

    succeeded        → returned as it is (exit 0)
    rolled_back      → ``DeploymentRolledBack`` (exit 3); ``interrupted`` after Ctrl-C/SIGTERM
    rollback_failed  → ``RollbackFailed`` (exit 4): the environment needs a person
    failed           → ``PromoteError`` ``deploy_failed`` (exit 1): nothing was changed
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from lambda_promote.errors import DeploymentRolledBack, PromoteError, RollbackFailed
from lambda_promote.model import CheckResult, Deployment, DeploymentState

if TYPE_CHECKING:
    from lambda_promote.ledger.base import Ledger

S = DeploymentState


def describe_failures(failed: Sequence[CheckResult]) -> str:
    return "; ".join(f"check {r.name} failed: {r.detail}" for r in failed)


def outcome_of_interruption(undone: Deployment, error: BaseException) -> PromoteError:
    """The error of a deployment rolled back because ``error`` interrupted it after traffic
    moved: Ctrl-C or a cancelled job is ``interrupted`` (DESIGN §11.5), a bug ``rolled_back``."""
    try:
        raise_for_outcome(undone)
    except PromoteError as outcome:
        if not isinstance(error, Exception) and outcome.code == DeploymentRolledBack.code:
            outcome.code = "interrupted"
        return outcome
    return PromoteError(f"deployment {undone.id} was interrupted: {error!r}")  # never reached


@contextmanager
def undone_if_interrupted(
    ledger: Ledger, dep_id: str, undo: Callable[[Deployment, str], Deployment]
) -> Iterator[None]:
    """Interrupted (Ctrl-C, SIGTERM, a bug) after traffic moved: put the old version back
    first (``undo(deployment, why)``), then say what happened to the environment (exit 3 or
    4), never "nothing changed". A deployment already finished is left as it is."""
    try:
        yield
    except BaseException as error:
        current = ledger.get_deployment(dep_id)
        if current is None or current.state.terminal:
            raise
        undone = undo(current, f"interrupted: {error!r}")
        raise outcome_of_interruption(undone, error) from error


def raise_for_outcome(deployment: Deployment) -> Deployment:
    """Turn a finished deployment into its exit code (DESIGN §4) via the errors of errors.py."""
    payload = {"deployment": deployment}
    if deployment.state is S.SUCCEEDED:
        return deployment
    if deployment.state is S.ROLLED_BACK:
        raise DeploymentRolledBack(
            f"deployment {deployment.id} to {deployment.env} failed and was rolled back: "
            f"{deployment.error}",
            hint=f"see `lambda-promote show {deployment.id}` for the checks and their logs",
            payload=payload,
        )
    if deployment.state is S.ROLLBACK_FAILED:
        rollback = deployment.rollback_record
        raise RollbackFailed(
            f"{deployment.env} NEEDS A PERSON: deployment {deployment.id} failed and its "
            f"rollback did not complete: {(rollback and rollback.error) or deployment.error}",
            hint=f"inspect the function, then `lambda-promote rollback {deployment.env} --to "
            "VERSION`; `lambda-promote status` shows what is live",
            payload=payload,
        )
    raise PromoteError(
        f"deployment {deployment.id} to {deployment.env} failed; nothing was changed: "
        f"{deployment.error}",
        hint=f"see `lambda-promote show {deployment.id}`",
        code="deploy_failed",
        payload=payload,
    )
