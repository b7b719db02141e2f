"""What approvers read about a release's configuration (DESIGN §11.3): the differences against
what is live in the environment, or the settings when the ledger cannot compare; the evidence
round-trips through its stored JSON and shows no secret-looking value."""

from __future__ import annotations

from datetime import UTC, datetime

from lambda_promote.configuring import Configured, changes_against_live
from lambda_promote.function_config import FunctionConfiguration
from lambda_promote.model import (
    ApprovalRequest,
    ConfigurationEvidence,
    Deployment,
    DeploymentState,
    Evidence,
)
from lambda_promote.notify.messages import evidence_lines

AT = datetime(2026, 12, 1, tzinfo=UTC)
LIVE = FunctionConfiguration(memory_mb=512, variables={"MODE": "fast", "DB_PASSWORD": "old"})
NEXT = FunctionConfiguration(memory_mb=2048, variables={"MODE": "fast", "DB_PASSWORD": "new"})


def request_with(configuration: ConfigurationEvidence | None) -> ApprovalRequest:
    evidence = Evidence(live_version="4", configuration=configuration).to_json()
    return ApprovalRequest(
        id="r-1",
        env="production",
        digest="a" * 64,
        requested_by="alice",
        requested_at=AT,
        expires_at=AT,
        evidence=evidence,
    )


def test_approvers_see_what_the_release_changes_against_what_is_live():
    history = [
        Deployment(
            id="d-1",
            env="production",
            digest="a" * 64,
            state=DeploymentState.SUCCEEDED,
            version="4",
            configuration=LIVE.to_json(),
            configuration_digest=LIVE.digest,
        )
    ]
    changes = changes_against_live(history, Configured(NEXT, NEXT))
    assert changes is not None
    evidence = ConfigurationEvidence(NEXT.digest, ("memory 2048 MB",), tuple(changes))

    lines = evidence_lines(request_with(evidence))

    assert "configuration changes:" in lines
    assert "  memory_mb: 512 → 2048" in lines
    assert "  variables.DB_PASSWORD: changed (value not shown)" in lines
    assert not any("new" in line or "old" in line for line in lines if "DB_PASSWORD" in line)


def test_without_a_recorded_live_configuration_the_settings_are_shown():
    evidence = ConfigurationEvidence(NEXT.digest, ("memory 2048 MB", "variables MODE=fast"), None)
    lines = evidence_lines(request_with(evidence))
    assert (
        "configuration: memory 2048 MB; variables MODE=fast (nothing recorded live to compare with)"
        in lines
    )


def test_unchanged_settings_say_so_and_old_requests_show_nothing():
    unchanged = ConfigurationEvidence(NEXT.digest, (), ())
    assert "configuration: unchanged" in evidence_lines(request_with(unchanged))
    assert not any("configuration" in line for line in evidence_lines(request_with(None)))


def test_the_configuration_evidence_round_trips_through_its_json():
    evidence = Evidence(configuration=ConfigurationEvidence("d" * 64, ("memory 1 MB",), None))
    assert Evidence.from_json(evidence.to_json()) == evidence
