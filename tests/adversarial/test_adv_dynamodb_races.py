"""Races decided by DynamoDB (DESIGN §5.2, §5.6, §5.7, §11.6), through the real CLI in child
processes against moto's server on 127.0.0.1:

- twenty deploy processes on one environment, round after round: exactly one wins each
  round, the nineteen others exit 6 at once naming the winner, and the audit chain — which
  all of them appended to concurrently — verifies;
- twenty approvers of one request as the same reviewer: one decision is recorded;
- twenty deployments consuming one approval: exactly one consumes it.

Each round's winner waits in its health check for a gate file, which the test opens only when
the nineteen others have exited: "one winner per round" is then a fact, not a timing hope.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_adv_concurrent_deployers import finish

from cli_project import Project, make_project
from lambda_promote.errors import GateBlocked
from lambda_promote.ledger.dynamo import open_ledger
from lambda_promote.model import ApprovalDecision, ApprovalRequest, RequestState
from ledger_fixtures import dynamodb_table

RACERS = 20
ROUNDS = 2

GATED_APP = """\
import os
import time

RELEASE = {release!r}


def handler(event, context):
    gate = os.environ["FLAG_FILE"] + ".open"
    deadline = time.time() + 100
    while not os.path.exists(gate) and time.time() < deadline:
        time.sleep(0.05)
    return {{"ok": True, "release": RELEASE}}
"""


@pytest.fixture
def team(tmp_path: Path) -> Iterator[tuple[Project, str]]:
    with dynamodb_table(server=True, root=tmp_path) as url:
        project = make_project(
            tmp_path / "team",
            state=url,
            timeout=150,
            edits={"max_latency_ms: 20000": "max_latency_ms: 140000"},
        )
        yield project, url


def gated(project: Project, release: str) -> Path:
    (project.root / "src" / "app.py").write_text(GATED_APP.format(release=release))
    return Path(f"{project.flag}.open")


def test_twenty_deployers_one_winner_per_round_the_rest_exit_6_the_chain_verifies(team):
    project, url = team
    gate = gated(project, "r0")
    gate.touch()
    project.run("deploy", "staging", check=0)
    winners = []
    for round_ in range(1, ROUNDS + 1):
        gate.unlink()
        gated(project, f"round-{round_}")
        project.run("build", check=0)
        racers = [project.popen("deploy", "staging", user=f"racer-{n}") for n in range(RACERS)]
        deadline = time.monotonic() + 240
        while sum(p.poll() is not None for p in racers) < RACERS - 1:
            assert time.monotonic() < deadline, [p.poll() for p in racers]
            time.sleep(0.1)
        gate.touch()
        results = [finish(p) for p in racers]

        codes = sorted(code for code, _ in results)
        assert codes == [0] + [6] * (RACERS - 1), codes
        (winner,) = [body["deployment"] for code, body in results if code == 0]
        for code, body in results:
            if code == 6:
                assert body["error"]["code"] == "locked"
                assert winner["id"] in body["error"]["message"]
        winners.append(winner["id"])

    ledger = open_ledger(url)
    history = ledger.deployments("staging", limit=None)
    # The losers left nothing behind: one deployment per round, besides the first.
    assert [d.id for d in history][:ROUNDS] == winners[::-1]
    assert len(history) == ROUNDS + 1
    assert {d.state.value for d in history} == {"succeeded"}
    assert ledger.lock_info("staging") is None
    _, verified = project.run("audit", "--verify", check=0)
    events = ledger.audit_events()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert (verified["audit"]["count"], verified["audit"]["head"]) == (len(events), events[-1].hash)


def test_twenty_approvals_by_one_reviewer_record_one_decision(team):
    project, url = team
    gated(project, "r0")
    Path(f"{project.flag}.open").touch()
    _, deployed = project.run("deploy", "staging", check=0)
    digest = deployed["deployment"]["digest"]
    _, opened = project.run("request-approval", "production", "--artifact", digest, check=0)
    request_id = opened["approval_request"]["id"]

    approvers = [
        project.popen("approve", request_id, "--env", "production", user="lead")
        for _ in range(RACERS)
    ]
    codes = [finish(p)[0] for p in approvers]
    assert codes.count(0) == 1, codes
    request = open_ledger(url).get_request(request_id)
    assert request is not None
    assert [d.reviewer for d in request.decisions] == ["lead"]


def test_twenty_deployments_racing_for_one_approval_one_consumes_it(team):
    _project, url = team
    ledger = open_ledger(url)
    now = ledger._clock()
    ledger.create_request(
        ApprovalRequest(
            id="r-1",
            env="production",
            digest="ab" * 32,
            requested_by="alice",
            requested_at=now,
            expires_at=now.replace(year=now.year + 1),
            decisions=[ApprovalDecision(reviewer="lead", approve=True, at=now)],
        )
    )

    def consume(number: int) -> str:
        mine = open_ledger(url)  # a client of its own, as a separate runner has
        try:
            mine.set_request_state("r-1", RequestState.CONSUMED, consumed_by=f"d-{number}")
        except GateBlocked:
            return "refused"
        return f"d-{number}"

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(consume, range(RACERS)))
    won = [a for a in answers if a != "refused"]
    assert len(won) == 1, answers
    request = ledger.get_request("r-1")
    assert request is not None
    assert (request.state, request.consumed_by) == (RequestState.CONSUMED, won[0])
