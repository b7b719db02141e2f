"""The DynamoDB ledger's generic record codec (ledger/dynamo_codec.py): a model dataclass
becomes plain JSON and comes back equal — times in UTC, enums, tuples, nested dataclasses,
optional fields — so a field added to the model travels without a change here; unknown
fields are ignored and missing ones take their defaults (items written by another version)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from lambda_promote.ledger import dynamo_codec as codec
from lambda_promote.model import (
    ApprovalDecision,
    ApprovalRequest,
    Artifact,
    CheckResult,
    Deployment,
    DeploymentKind,
    DeploymentState,
    Transition,
)

AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=5)))


def roundtrip(record: object) -> object:
    text = codec.dumps(record, what="a record")
    return codec.loads(type(record), json.loads(json.dumps(text)))


def test_model_records_come_back_equal_with_times_in_utc():
    artifact = Artifact(digest="ab" * 32, size=3, path="p", files=("a.py", "b/c.py"), built_at=AT)
    back = roundtrip(artifact)
    assert back == artifact
    assert back.built_at.tzinfo == UTC  # type: ignore[attr-defined]
    deployment = Deployment(
        id="d-1",
        env="staging",
        digest="ab" * 32,
        state=DeploymentState.ROLLED_BACK,
        kind=DeploymentKind.ROLLBACK,
        created_at=AT,
        rollback={"to_version": "3", "checks": [{"ok": True}]},
        configuration={"memory_mb": 512},
    )
    assert roundtrip(deployment) == deployment
    check = CheckResult("ping", True, 12, "ok", response={"a": [1, 2]})
    back_check = roundtrip(check)
    assert back_check == check
    assert isinstance(back_check.latency_ms, float)  # type: ignore[attr-defined]
    assert roundtrip(Transition(DeploymentState.SHIFTING, AT, "note")) == Transition(
        DeploymentState.SHIFTING, AT, "note"
    )


def test_nested_records_and_unknown_or_missing_fields():
    request = ApprovalRequest(
        id="r-1",
        env="production",
        digest="cd" * 32,
        requested_by="ana",
        requested_at=AT,
        expires_at=AT + timedelta(days=1),
        decisions=[ApprovalDecision("bo", True, AT, "fine")],
        evidence={"checks": ["ping"]},
    )
    assert roundtrip(request) == request
    data = codec.to_json(Artifact(digest="ef" * 32, size=1, path="p"))
    data["a_field_of_a_newer_version"] = {"x": 1}
    del data["runtime"]
    assert codec.from_json(Artifact, data) == Artifact(digest="ef" * 32, size=1, path="p")


@dataclass(frozen=True)
class _Step:
    function: str
    percent: int
    at: datetime | None = None


@dataclass
class _Release:
    steps: list[_Step] = field(default_factory=list)
    by_name: dict[str, _Step] = field(default_factory=dict)
    kept: tuple[str, ...] = ()


def test_a_new_record_shape_travels_without_a_change_here():
    release = _Release(
        steps=[_Step("api", 10, AT), _Step("worker", 100)],
        by_name={"api": _Step("api", 10)},
        kept=("a",),
    )
    assert roundtrip(release) == release


def test_order_keys_sort_as_newest_first_does():
    early, late = AT, AT + timedelta(microseconds=1)
    keys = [
        codec.order_key(late, 1, "a"),
        codec.order_key(early, 9, "b"),
        codec.order_key(late, 2, "c"),
    ]
    assert sorted(keys) == [keys[1], keys[0], keys[2]]
    assert codec.prefix_partition("artifact", "ABCDEF") == "artifact#ABCD"
