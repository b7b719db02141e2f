"""The environments page shows an in-flight shift's share, as ``status`` does (DESIGN §11.5,
§11.7): the same ``status --json`` body, drawn."""

from __future__ import annotations

from lambda_promote.web.render import templates


def row(in_flight: list[dict[str, object]]) -> dict[str, object]:
    return {
        "env": "staging", "function_name": "fn-staging", "alias": "live", "version": "1",
        "digest": "a" * 64, "deployed_by": "ana", "deployed_at": "2026-12-01T10:00:00Z",
        "drift": None, "in_flight": in_flight, "approvals": [], "lock": None, "weights": {},
    }  # fmt: skip


def test_a_shift_in_flight_shows_its_share_next_step_and_who_started_it() -> None:
    shift = {"percent": 10.0, "step": 1, "steps": 2, "next_step_at": "2026-12-01T10:05:00Z"}
    flight = {"id": "d-1", "state": "shifting", "started_by": "ana", "traffic": shift}
    html = templates().get_template("_environments.html").render(rows=[row([flight])], now="")
    assert "shifting: 10% of traffic (step 1 of 2), next step at 2026-12-01T10:05:00Z" in html
    assert "started by ana" in html


def test_an_all_at_once_deployment_in_flight_shows_no_share() -> None:
    flight = {"id": "d-1", "state": "verifying", "started_by": "ana", "traffic": None}
    html = templates().get_template("_environments.html").render(rows=[row([flight])], now="")
    assert "in flight" in html
    assert "shifting:" not in html
