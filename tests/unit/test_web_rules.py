"""The pure rules of ``serve`` (DESIGN §11.7): PKCE's S256 challenge (RFC 7636's own example),
where a sign-in may send the browser back to, the session secret a server with OIDC demands,
and a content security policy without inline scripts that no page can be framed under."""

from __future__ import annotations

import pytest

from lambda_promote.config.schema import Oidc, Server
from lambda_promote.errors import ConfigError, exit_code_for
from lambda_promote.web.auth import local_path
from lambda_promote.web.context import check_server, session_secret
from lambda_promote.web.oidc import s256_challenge
from lambda_promote.web.security import content_security_policy


def test_the_pkce_challenge_is_rfc_7636s_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize(
    ("asked", "goes"),
    [
        ("/approvals/r-1", "/approvals/r-1"),
        ("/history?page=2", "/history?page=2"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_after_signing_in_the_browser_stays_on_this_site(asked: str | None, goes: str) -> None:
    assert local_path(asked) == goes


OIDC = Oidc(issuer="https://id.example.com", client_id="lp")


def test_with_oidc_a_missing_or_short_session_secret_is_a_configuration_error() -> None:
    server = Server(oidc=OIDC, session_secret_env="SECRET")
    for environ in ({}, {"SECRET": "short"}):
        with pytest.raises(ConfigError) as refused:
            session_secret(server, environ)
        assert "SECRET" in refused.value.message
        assert "token_urlsafe" in refused.value.hint
        assert exit_code_for(refused.value) == 2
    assert session_secret(server, {"SECRET": "x" * 40}) == "x" * 40


def test_without_oidc_nobody_signs_in_so_any_secret_serves() -> None:
    server = Server(session_secret_env="SECRET")
    assert len(session_secret(server, {})) >= 32
    assert session_secret(server, {}) != session_secret(server, {})


def test_require_login_without_an_issuer_is_refused() -> None:
    with pytest.raises(ConfigError, match="nobody could sign in"):
        check_server(Server(require_login=True))
    check_server(Server(require_login=True, oidc=OIDC))


def test_the_csp_allows_no_inline_script_and_no_framing() -> None:
    policy = content_security_policy("https://id.example.com/realms/x")
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self' https://id.example.com"
    assert directives["object-src"] == "'none'"
