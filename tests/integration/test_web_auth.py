"""``serve``'s authenticated approvals over HTTP (DESIGN §11.7), against a real uvicorn and a
real OIDC issuer on 127.0.0.1: no session → 401, no CSRF token → 403, every bad ID token or
state refused, the gate's own rules (self-review, reviewer list) refused with 403 — and none of
these changes the ledger. A decision that passes is recorded via web with issuer and subject,
in the ledger and the audit trail, and admits the next `deploy production`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from web_fixtures import Served, running_issuer, serving


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A request for production opened by ops (a reviewer), waiting for a decision."""
    with (
        running_issuer() as issuer,
        serving(tmp_path_factory.mktemp("auth") / "p", issuer=issuer, requester="ops") as served,
    ):
        yield served


def unchanged(served: Served) -> dict[str, int]:
    return served.project.counts()


def test_a_decision_without_a_session_is_401_and_changes_nothing(served: Served) -> None:
    before = unchanged(served)
    with served.client() as client:
        answer = client.post(
            f"/api/approvals/{served.request_id}/decision", json={"decision": "approve"}
        )
        form = client.post(f"/approvals/{served.request_id}/decision", data={"decision": "approve"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthenticated"
    assert form.status_code == 401
    assert unchanged(served) == before


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-CSRF-Token": "not-the-token"}],
    ids=["no-token", "wrong-token"],
)
def test_a_decision_without_the_csrf_token_is_403_and_changes_nothing(
    served: Served, headers: dict[str, str]
) -> None:
    before = unchanged(served)
    with served.client() as client:
        served.login(client, "lead")
        answer = client.post(
            f"/api/approvals/{served.request_id}/decision",
            json={"decision": "approve"},
            headers=headers,
        )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "csrf"
    assert unchanged(served) == before


def test_a_cross_site_form_post_is_refused_even_with_the_session_cookie(served: Served) -> None:
    before = unchanged(served)
    with served.client() as client:
        served.login(client, "lead")
        token = served.session(client)["csrf_token"]
        answer = client.post(
            f"/approvals/{served.request_id}/decision",
            data={"decision": "approve", "csrf_token": token},
            headers={"Origin": "https://evil.example"},
        )
    assert answer.status_code == 403
    assert "cross-site" in answer.text
    assert unchanged(served) == before


def test_the_session_cookie_is_httponly_and_samesite_lax(served: Served) -> None:
    with served.client() as client:
        answer = client.get("/login")
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # http base_url: a Secure cookie would never come back


def test_signing_in_gives_a_session_with_a_csrf_token(served: Served) -> None:
    with served.client() as client:
        assert served.session(client) == {
            "user": None,
            "csrf_token": None,
            "issuer": None,
            "can_decide": True,
        }
        landed = served.login(client, "lead")
        assert landed.status_code == 303
        session = served.session(client)
    assert session["user"] == "lead"
    assert session["issuer"] == served.issuer.url  # type: ignore[union-attr]
    assert len(session["csrf_token"]) >= 32


BAD_TOKENS = {
    "forged-signature": {"forge": True},
    "expired": {"next_claims": {"exp": 1_000_000_000, "iat": 999_999_000}},
    "wrong-audience": {"next_claims": {"aud": "someone-else"}},
    "wrong-issuer": {"next_claims": {"iss": "https://evil.example"}},
    "bad-nonce": {"next_claims": {"nonce": "replayed"}},
    "no-subject": {"next_claims": {"sub": None}},
}


@pytest.mark.parametrize("shape", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_an_id_token_that_does_not_check_out_is_refused(
    served: Served, shape: dict[str, object]
) -> None:
    issuer = served.issuer
    assert issuer is not None
    for name, value in shape.items():
        setattr(issuer, name, value)
    with served.client() as client:
        answer = served.login(client, "lead")
        assert answer.status_code == 401, answer.text
        assert "refused" in answer.text
        assert "Traceback" not in answer.text
        assert served.session(client)["user"] is None


def test_a_callback_whose_state_does_not_match_is_refused(served: Served) -> None:
    issuer = served.issuer
    assert issuer is not None
    issuer.user = "lead"
    with served.client() as client:
        to_issuer = client.get("/login").headers["location"]
        back = httpx.get(to_issuer).headers["location"]
        forged = back.replace("state=", "state=x")
        answer = client.get(forged)
        assert answer.status_code == 401
        assert "state does not match" in answer.text
        replay = client.get(back)  # the sign-in was spent by the refusal
        assert replay.status_code == 401
        assert served.session(client)["user"] is None


def test_a_rotated_signing_key_is_fetched_again_and_accepted(served: Served) -> None:
    issuer = served.issuer
    assert issuer is not None
    with served.client() as client:
        served.login(client, "lead")
    fetched = issuer.requests.count("/jwks")
    issuer.rotate()
    with served.client() as client:
        answer = served.login(client, "lead")
        assert answer.status_code == 303
        assert served.session(client)["user"] == "lead"
    assert issuer.requests.count("/jwks") == fetched + 1


@pytest.mark.parametrize(
    ("user", "code"),
    [("ops", "self_review"), ("mallory", "not_a_reviewer")],
)
def test_the_gate_rules_of_the_cli_refuse_with_403(served: Served, user: str, code: str) -> None:
    before = unchanged(served)
    with served.client() as client:
        served.login(client, user)
        answer = served.decide(client, "approve")
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert unchanged(served) == before


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/deployments/d-nope", 404),
        ("GET", "/api/deployments/d-nope", 404),
        ("GET", "/approvals/r-nope", 404),
        ("GET", "/api/approvals/nope", 404),
        ("GET", "/no/such/page", 404),
        ("GET", "/api/history?page=abc", 400),
        ("GET", "/api/history?page=99999", 400),
        ("GET", "/history?env=nowhere", 404),
        ("DELETE", "/api/status", 405),
        ("GET", "/logout", 405),
    ],
)
def test_bad_input_gets_a_clean_4xx(served: Served, method: str, path: str, status: int) -> None:
    with served.client() as client:
        answer = client.request(method, path)
    assert answer.status_code == status
    assert "Traceback" not in answer.text
    if path.startswith("/api/"):
        assert answer.json()["ok"] is False
        assert answer.json()["error"]["message"]


def test_bad_bodies_get_a_clean_4xx_and_change_nothing(served: Served) -> None:
    before = unchanged(served)
    path = f"/api/approvals/{served.request_id}/decision"
    with served.client() as client:
        served.login(client, "lead")
        token = {"X-CSRF-Token": served.session(client)["csrf_token"]}
        big = client.post(
            path, content=b"x" * 100_000, headers={**token, "Content-Type": "application/json"}
        )
        not_json = client.post(
            path, content=b"{oops", headers={**token, "Content-Type": "application/json"}
        )
        not_object = client.post(path, json=["approve"], headers=token)
        wrong_word = client.post(path, json={"decision": "maybe"}, headers=token)
        form_type = client.post(path, data={"decision": "approve"}, headers=token)
    assert [a.status_code for a in (big, not_json, not_object, wrong_word, form_type)] == [
        413,
        400,
        400,
        400,
        415,
    ]
    assert unchanged(served) == before


def test_every_answer_carries_the_security_headers(served: Served) -> None:
    with served.client() as client:
        for path in ("/", "/api/status", "/no/such/page"):
            headers = client.get(path).headers
            csp = headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp
            assert "script-src 'self'" in csp
            assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "same-origin"


def test_api_status_is_status_json(served: Served) -> None:
    _, cli = served.project.run("status", check=0)
    with served.client() as client:
        web = client.get("/api/status").json()
    assert web["ok"] is True
    assert web["command"] == "status"
    assert web["environments"] == cli["environments"]


def test_an_approval_by_click_admits_the_next_deploy_recorded_as_proven(tmp_path: Path) -> None:
    with running_issuer() as issuer, serving(tmp_path / "p", issuer=issuer) as served:
        with served.client() as client:
            served.login(client, "lead")
            answer = served.decide(client, "approve")
        assert answer.status_code == 200, answer.text
        request = answer.json()["approval_request"]
        assert request["state"] == "granted"
        assert request["decisions"] == [
            {
                "reviewer": "lead",
                "approve": True,
                "comment": "looks good",
                "at": request["decisions"][0]["at"],
                "via": "web",
                "issuer": issuer.url,
                "subject": "sub-lead",
            }
        ]
        row = served.project.sql("select reviewer, source, issuer, subject from approval_decisions")
        assert row == [("lead", "web", issuer.url, "sub-lead")]
        _, trail = served.project.run("audit", check=0)
        granted = [e for e in trail["events"] if e["action"] == "approval.granted"]
        assert granted[-1]["actor"] == "lead"
        assert granted[-1]["details"] == {
            "request": served.request_id,
            "via": "web",
            "issuer": issuer.url,
            "subject": "sub-lead",
        }
        served.project.run("audit", "--verify", check=0)
        _, deployed = served.project.run("deploy", "production", user="lead", check=0)
        assert deployed["deployment"]["digest"] == served.digest


def test_require_login_closes_every_read_until_signed_in(tmp_path: Path) -> None:
    with (
        running_issuer() as issuer,
        serving(tmp_path / "p", issuer=issuer, require_login=True) as served,
        served.client() as client,
    ):
        assert client.get("/api/status").status_code == 401
        assert client.get("/").status_code == 401
        assert client.get("/api/session").status_code == 200  # says who: nobody
        served.login(client, "lead")
        assert client.get("/api/status").status_code == 200
        assert client.get("/").status_code == 200


def test_without_oidc_the_dashboard_is_read_only(tmp_path: Path) -> None:
    with serving(tmp_path / "p", issuer=None) as served, served.client() as client:
        page = client.get(f"/approvals/{served.request_id}")
        assert page.status_code == 200
        assert '<form method="post" action="/approvals' not in page.text
        assert client.get("/login").status_code == 404
        assert client.get("/api/session").json()["can_decide"] is False


@pytest.mark.postgres
def test_on_postgresql_a_web_decision_is_read_and_recorded_the_same(tmp_path: Path) -> None:
    from ledger_fixtures import postgres_schema

    with (
        postgres_schema() as url,
        running_issuer() as issuer,
        serving(tmp_path / "p", issuer=issuer, state=url) as served,
        served.client() as client,
    ):
        _, cli = served.project.run("status", check=0)
        assert client.get("/api/status").json()["environments"] == cli["environments"]
        history = client.get("/api/history").json()["deployments"]
        assert [d["env"] for d in history] == ["staging"]
        served.login(client, "lead")
        assert served.decide(client, "approve").status_code == 200
        _, shown = served.project.run("approve", served.request_id, user="ops", check=0)
        decisions = shown["approval_request"]["decisions"]
        assert [(d["reviewer"], d["via"], d.get("subject")) for d in decisions] == [
            ("lead", "web", "sub-lead"),
            ("ops", "builtin", None),
        ]
        served.project.run("deploy", "production", user="ops", check=0)


def test_an_unreachable_issuer_is_a_clean_503(tmp_path: Path) -> None:
    with (
        running_issuer() as issuer,
        serving(tmp_path / "p", issuer=issuer) as served,
        served.client() as client,
    ):
        issuer.stop()
        answer = client.get("/login")
        assert answer.status_code == 503
        assert "could not be used" in answer.text
        assert "Traceback" not in answer.text


def test_with_the_audit_key_a_web_decision_is_attested_and_admits_the_deploy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keyed gate admits only what the keyed trail attests: a decision made in serve
    (which holds the key, as the deploy jobs do) is signed like any other."""
    monkeypatch.setenv("LAMBDA_PROMOTE_AUDIT_KEY", "k" * 40)
    with (
        running_issuer() as issuer,
        serving(tmp_path / "p", issuer=issuer) as served,
        served.client() as client,
    ):
        served.login(client, "ops")
        assert served.decide(client, "approve").status_code == 200
        _, verified = served.project.run("audit", "--verify", check=0)
        assert verified["audit"]["key_id"] is not None
        assert verified["audit"]["unauthenticated"] == []
        served.project.run("deploy", "production", user="ops", check=0)


def test_under_an_https_base_url_the_cookie_is_secure_and_hsts_is_sent(tmp_path: Path) -> None:
    """Behind a TLS proxy (base_url https): the cookie never travels over plain http."""
    with (
        running_issuer() as issuer,
        serving(tmp_path / "p", issuer=issuer, base_url="https://deploys.example.com") as served,
        served.client() as client,
    ):
        answer = client.get("/login")
    assert answer.status_code == 302
    redirect = "redirect_uri=https%3A%2F%2Fdeploys.example.com%2Fauth%2Fcallback"
    assert redirect in answer.headers["location"]
    cookie = answer.headers["set-cookie"].lower()
    assert "secure" in cookie
    assert "httponly" in cookie
    assert answer.headers["strict-transport-security"].startswith("max-age=")
