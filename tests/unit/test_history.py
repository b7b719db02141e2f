"""Which version a manual rollback goes to (DESIGN §5.4): the last *good* one before the
current, never a failed one, never one a person already rolled back away from."""

from __future__ import annotations

from lambda_promote.model import Deployment, DeploymentKind, DeploymentState
from lambda_promote.release.rollback import good_versions, rollback_candidate, was_ever_good

S = DeploymentState


def dep(
    version: str,
    state: S,
    *,
    kind: DeploymentKind = DeploymentKind.DEPLOY,
    previous: str | None = None,
) -> Deployment:
    return Deployment(
        id=f"d-{version}-{state.value}",
        env="staging",
        digest=f"{version:0>64}",
        state=state,
        kind=kind,
        version=version,
        previous_version=previous,
    )


def test_goes_to_the_good_version_before_the_live_one() -> None:
    history = [dep("1", S.SUCCEEDED), dep("2", S.SUCCEEDED), dep("3", S.SUCCEEDED)]
    assert rollback_candidate(history, "3") == ("2", "2".rjust(64, "0"))


def test_skips_versions_that_failed_or_were_rolled_back() -> None:
    history = [
        dep("1", S.SUCCEEDED),
        dep("2", S.ROLLED_BACK),
        dep("3", S.FAILED),
        dep("4", S.SUCCEEDED),
    ]
    assert rollback_candidate(history, "4") == ("1", "1".rjust(64, "0"))


def test_refuses_when_nothing_good_came_before() -> None:
    assert rollback_candidate([dep("1", S.SUCCEEDED)], "1") is None
    assert rollback_candidate([], None) is None


def test_after_a_manual_rollback_the_next_goes_further_back() -> None:
    history = [
        dep("1", S.SUCCEEDED),
        dep("2", S.SUCCEEDED),
        dep("3", S.SUCCEEDED),
        dep("2", S.SUCCEEDED, kind=DeploymentKind.ROLLBACK, previous="3"),
    ]
    assert rollback_candidate(history, "2") == ("1", "1".rjust(64, "0"))


def test_a_version_rolled_back_away_from_by_hand_is_no_longer_good() -> None:
    history = [
        dep("1", S.SUCCEEDED),
        dep("2", S.SUCCEEDED),
        dep("1", S.SUCCEEDED, kind=DeploymentKind.ROLLBACK, previous="2"),
        dep("3", S.SUCCEEDED),
    ]
    assert [v for v, _ in good_versions(history)] == ["1", "3"]
    assert rollback_candidate(history, "3") == ("1", "1".rjust(64, "0"))


def test_unknown_live_version_goes_to_the_newest_good_one() -> None:
    history = [dep("1", S.SUCCEEDED), dep("2", S.SUCCEEDED)]
    assert rollback_candidate(history, "7") == ("2", "2".rjust(64, "0"))


def test_was_ever_good() -> None:
    history = [dep("1", S.SUCCEEDED), dep("2", S.ROLLED_BACK)]
    assert was_ever_good(history, "1")
    assert not was_ever_good(history, "2")
