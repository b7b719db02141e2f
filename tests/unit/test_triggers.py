"""The seed's triggers: which event deploys where."""

from __future__ import annotations

import pytest

from lambda_promote.config.schema import Trigger
from lambda_promote.triggers import Event, event_from_github, plan, promotion_order

SEED = [
    Trigger(event="push", branches=["develop"], deploy=["staging"]),
    Trigger(event="pull_request", branches=["main"], deploy=["staging"]),
    Trigger(event="push", branches=["main"], deploy=["production", "staging"]),
]
ORDER = ["staging", "production"]


@pytest.mark.parametrize(
    ("event", "envs"),
    [
        (Event("push", "develop"), ("staging",)),
        (Event("pull_request", "main"), ("staging",)),
        (Event("push", "main"), ("staging", "production")),
        (Event("push", "feature/x"), ()),
        (Event("pull_request", "develop"), ()),
        (Event("workflow_dispatch", "main", env="production"), ("production",)),
        (Event("workflow_dispatch", "main"), ()),
    ],
)
def test_seed_trigger_mapping(event: Event, envs: tuple[str, ...]) -> None:
    assert plan(SEED, event, known_envs=ORDER).environments == envs


def test_no_match_says_so() -> None:
    assert "nothing to do" in plan(SEED, Event("push", "feature/x")).why


def test_github_variables() -> None:
    assert event_from_github({}) is None
    assert event_from_github({"GITHUB_EVENT_NAME": "push", "GITHUB_REF_NAME": "main"}) == Event(
        "push", "main"
    )
    assert event_from_github(
        {
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_REF_NAME": "7/merge",
            "GITHUB_BASE_REF": "main",
        }
    ) == Event("pull_request", "main")


def test_promotion_order_puts_sources_first() -> None:
    assert promotion_order({"production": "staging", "staging": None, "dr": "production"}) == [
        "staging",
        "production",
        "dr",
    ]
