"""Drift (DESIGN §11.3) as a pure judgement: which version the ledger left live, and what a
person sees when the alias points elsewhere — expected and live version, and what differs."""

from __future__ import annotations

from lambda_promote.drift import drift_of, ledger_live
from lambda_promote.function_config import FunctionConfiguration
from lambda_promote.model import AliasState, Deployment, DeploymentState

S = DeploymentState
OLD, NEW, HAND = "a" * 64, "b" * 64, "c" * 64
SMALL = FunctionConfiguration(memory_mb=256)


def dep(
    dep_id: str, state: S, version: str | None, digest: str = NEW, **more: object
) -> Deployment:
    return Deployment(id=dep_id, env="staging", digest=digest, state=state, version=version, **more)  # type: ignore[arg-type]


HISTORY = [  # newest first
    dep("d-3", S.FAILED, None),
    dep("d-2", S.SUCCEEDED, "5", configuration=SMALL.to_json(), configuration_digest=SMALL.digest),
    dep("d-1", S.SUCCEEDED, "4", digest=OLD),
]


def test_the_ledger_left_live_what_its_last_finished_deployment_left():
    live = ledger_live(HISTORY)
    assert live is not None
    assert (live.version, live.digest, live.deployment.id) == ("5", NEW, "d-2")


def test_a_rolled_back_deployment_left_the_previous_version_with_its_recorded_configuration():
    history = [
        dep("d-4", S.ROLLED_BACK, "6", previous_version="5", previous_digest=NEW),
        *HISTORY,
    ]
    live = ledger_live(history)
    assert live is not None
    assert (live.version, live.configuration) == ("5", {"memory_mb": 256})


def test_nothing_is_judged_in_flight_after_a_failed_rollback_or_without_history():
    assert ledger_live([dep("d-9", S.SHIFTING, "6"), *HISTORY]) is None
    assert ledger_live([dep("d-9", S.ROLLBACK_FAILED, "6"), *HISTORY]) is None
    assert ledger_live([]) is None
    assert drift_of(None, AliasState("9", digest=HAND)) is None


def test_the_alias_where_the_ledger_left_it_is_no_drift():
    assert drift_of(ledger_live(HISTORY), AliasState("5", digest=NEW)) is None


def test_a_hand_moved_alias_names_both_versions_and_what_differs():
    live_config = FunctionConfiguration(memory_mb=1024, timeout_seconds=3, ephemeral_storage_mb=512)

    drift = drift_of(
        ledger_live(HISTORY), AliasState("7", digest=HAND), live_configuration=live_config
    )

    assert drift is not None
    assert (drift.expected_version, drift.live_version) == ("5", "7")
    assert drift.differs == ("code", "configuration")
    assert "version 7, which no deployment in the ledger put there" in drift.detail
    assert "left version 5" in drift.detail
    assert f"code {NEW[:12]} → {HAND[:12]}" in drift.detail
    assert "memory_mb: 256 → 1024" in drift.detail
    assert "timeout" not in drift.detail  # not managed by the release: not a difference
    assert drift.to_json()["expected_version"] == "5"


def test_a_console_published_version_with_the_same_code_differs_in_configuration_only():
    drift = drift_of(
        ledger_live(HISTORY),
        AliasState("6", digest=NEW),
        live_configuration=FunctionConfiguration(memory_mb=512),
    )
    assert drift is not None
    assert drift.differs == ("configuration",)
    assert "same code" in drift.detail


def test_an_alias_moved_back_to_an_older_ledger_version_is_still_drift():
    drift = drift_of(ledger_live(HISTORY), AliasState("4", digest=OLD))
    assert drift is not None
    assert (drift.expected_version, drift.live_version, drift.differs) == ("5", "4", ("code",))
