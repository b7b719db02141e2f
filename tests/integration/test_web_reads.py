"""What ``serve`` shows (DESIGN §11.7), read from the ledger a real CLI wrote: the audit chain's
state as ``audit --verify`` says it (and an edit of the trail shown as a break), history pages,
a deployment with its report, the live fragment — all the same JSON the CLI prints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lambda_promote.web import reads
from web_fixtures import Served, serving


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("reads") / "p", issuer=None) as served:
        yield served


def test_the_audit_state_is_what_audit_verify_says(served: Served) -> None:
    _, verified = served.project.run("audit", "--verify", check=0)
    with served.client() as client:
        audit = client.get("/api/audit").json()["audit"]
        page = client.get("/audit").text
    assert audit["ok"] is True
    assert audit["fresh"] is True
    assert (audit["count"], audit["head"]) == (
        verified["audit"]["count"],
        verified["audit"]["head"],
    )
    assert "intact" in page


def test_an_edited_trail_shows_as_broken_at_the_first_bad_event(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reads, "AUDIT_REVERIFY_SECONDS", 0.001)
    with serving(tmp_path_factory.mktemp("edited") / "p", issuer=None) as served:
        served.project.sql("update audit_events set reason = 'edited' where seq = 2")
        with served.client() as client:
            audit = client.get("/api/audit").json()["audit"]
            page = client.get("/audit").text
    assert audit["ok"] is False
    assert audit["first_bad"] == 2
    assert "BROKEN" in page


def test_history_pages_mirror_history_json(served: Served) -> None:
    _, cli = served.project.run("history", check=0)
    with served.client() as client:
        first = client.get("/api/history").json()
        second = client.get("/api/history?page=2").json()
        staging = client.get("/api/history?env=staging").json()
        page = client.get("/history").text
    assert [d["id"] for d in first["deployments"]] == [d["id"] for d in cli["deployments"]]
    assert first["next_page"] is None
    assert second["deployments"] == []
    assert staging["deployments"] == first["deployments"]
    assert cli["deployments"][0]["id"] in page


def test_a_deployment_shows_with_its_report_and_json(served: Served) -> None:
    _, cli = served.project.run("history", check=0)
    deployment_id = cli["deployments"][0]["id"]
    _, shown = served.project.run("show", deployment_id, check=0)
    with served.client() as client:
        api = client.get(f"/api/deployments/{deployment_id}").json()
        page = client.get(f"/deployments/{deployment_id}").text
        report = client.get(f"/deployments/{deployment_id}/report").text
        live = client.get(f"/fragments/deployments/{deployment_id}").text
    assert api["deployment"] == shown["deployment"]
    assert 'data-state="succeeded"' in page
    assert deployment_id in report
    assert "succeeded" in live


def test_the_environments_page_and_its_live_fragment(served: Served) -> None:
    with served.client() as client:
        page = client.get("/").text
        fragment = client.get("/fragments/environments").text
        approvals = client.get("/api/approvals").json()["approval_requests"]
    assert 'data-live="/fragments/environments"' in page
    assert "tiny-staging:live" in fragment
    assert "<html" not in fragment
    assert [a["id"] for a in approvals] == [served.request_id]
    assert approvals[0]["state"] == "open"


def test_metrics_are_the_metrics_commands_figures_with_their_charts(served: Served) -> None:
    _, cli = served.project.run("metrics", "staging", "--since", "7d", check=0)
    with served.client() as client:
        api = client.get("/api/metrics?env=staging&since=7d").json()
        drawn = client.get("/api/metrics?env=staging&since=7d&charts=svg").json()
        page = client.get("/metrics?env=staging&since=7d").text
        bad_since = client.get("/api/metrics?since=tomorrow")
        no_env = client.get("/metrics?env=nowhere")

    def comparable(figures: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in figures.items() if k not in ("since", "until")}

    assert api["metrics"]["env"] == "staging"
    assert api["metrics"]["deployments"] == 1
    assert comparable(api["metrics"]) == comparable(cli["metrics"])
    assert sorted(drawn["charts"]) == sorted(
        ["deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore"]
    )
    assert all(svg.startswith("<svg") for svg in drawn["charts"].values())
    assert page.count("<svg") == 4
    assert 'id="chart-deployment_frequency"' in page
    assert bad_since.status_code == 400
    assert no_env.status_code == 404
