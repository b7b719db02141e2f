"""The redactor that keeps secrets out of messages, reports and errors (DESIGN §5.8): it finds
a secret in the forms error messages repeat it in, and leaves ordinary text alone."""

from __future__ import annotations

import html
import json
import urllib.parse

from lambda_promote.notify.redact import Redactor

URL = "https://hooks.slack.com/services/T0AAAA/B0BBBB/xoxbSECRETtoken"


def test_a_named_secret_is_replaced_by_its_variable_name() -> None:
    scrub = Redactor.from_environ({"SLACK_URL": URL}, names=["SLACK_URL"])
    assert scrub(f"POST {URL} failed") == "POST $SLACK_URL failed"


def test_the_path_of_a_secret_url_is_caught_on_its_own() -> None:
    scrub = Redactor.from_environ({"SLACK_URL": URL}, names=["SLACK_URL"])
    out = scrub("URL can't contain control characters. '/services/T0AAAA/B0BBBB/xoxbSECRETtoken'")
    assert "xoxbSECRETtoken" not in out
    assert "$SLACK_URL" in out


def test_escaped_and_quoted_forms_are_caught() -> None:
    secret = 'pa"ss<wo>rd & more/+'
    scrub = Redactor.from_environ({"SMTP_PASSWORD": secret}, names=["SMTP_PASSWORD"])
    for form in (
        secret,
        json.dumps(secret)[1:-1],
        html.escape(secret),
        urllib.parse.quote(secret, safe=""),
    ):
        assert scrub(f"x {form} y") == "x $SMTP_PASSWORD y", form


def test_well_known_and_secret_looking_variables_are_covered_without_being_named() -> None:
    scrub = Redactor.from_environ(
        {
            "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "MY_API_TOKEN": "tok-1234567890",
            "HOME": "/home/alice-the-user",
        }
    )
    out = scrub("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY tok-1234567890 /home/alice-the-user")
    assert out == "$AWS_SECRET_ACCESS_KEY $MY_API_TOKEN /home/alice-the-user"


def test_the_password_of_a_database_url_is_caught_but_not_the_rest() -> None:
    scrub = Redactor.from_environ(
        {"LAMBDA_PROMOTE_STATE": "postgresql+psycopg://deploy:s3cretPass@db.internal/ledger"}
    )
    out = scrub("could not connect: deploy:s3cretPass@db.internal")
    assert "s3cretPass" not in out
    assert "db.internal" in out


def test_short_values_are_left_alone_so_reports_stay_readable() -> None:
    scrub = Redactor.from_environ({"FEATURE_TOKEN": "true", "X_KEY": "1"})
    assert scrub("true 1") == "true 1"


def test_deep_redaction_reaches_nested_data() -> None:
    scrub = Redactor.from_environ({"HOOK": URL}, names=["HOOK"])
    data = {"a": [URL, {"b": (f"see {URL}",)}], "n": 3}
    assert scrub.deep(data) == {"a": ["$HOOK", {"b": ["see $HOOK"]}], "n": 3}
    assert scrub.finds(URL)
    assert not scrub.finds("nothing here")


KEY_BLOCK = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----"
)


def test_credential_shapes_are_caught_whatever_variable_holds_them() -> None:
    scrub = Redactor.from_environ({})
    shaped = {
        "AKIAIOSFODNN7EXAMPLE": "[redacted:aws-access-key-id]",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": "[redacted:aws-secret-key]",
        "ghp_" + "a1B2" * 9: "[redacted:github-token]",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnop": "[redacted:github-token]",
        "xoxb-1234-5678-abcdefghij": "[redacted:slack-token]",
        "https://hooks.slack.com/services/T0/B0/abc": "https://hooks.slack.com/services/"
        "[redacted:slack-webhook]",
        "Authorization: Bearer abc.def-ghi": "Authorization: Bearer [redacted:bearer-token]",
        "https://bob:hunter22@db.internal/x": "https://bob:[redacted:password]@db.internal/x",
        KEY_BLOCK: "[redacted:private-key]",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQ (cut short)": "[redacted:private-key]",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl": "[redacted:jwt]",
        "DB_PASSWORD=hunter22": "DB_PASSWORD=[redacted:secret]",
        '{"api_key": "k-123456"}': '{"api_key": "[redacted:secret]"}',
    }
    for text, expected in shaped.items():
        assert scrub(text) == expected, text
        assert scrub.finds(text)


def test_ordinary_text_that_resembles_a_credential_is_left_alone() -> None:
    scrub = Redactor.from_environ({})
    for text in (
        "commit 0123456789abcdef0123456789abcdef01234567",  # a git commit: lowercase hex
        "digest " + "ab12" * 16,
        "CodeSha256 ABCdef0123456789ABCdef0123456789ABCdef0123=",  # 44 characters
        "max_tokens: 1000",
        "the token expired",
        "token=$GITHUB_TOKEN",  # already redacted by name
        "https://example.com:8443/path@ref",
        "eyJvayI6IHRydWV9",  # a base64 body, not a JWT
    ):
        assert scrub(text) == text
        assert not scrub.finds(text)


def test_the_no_redaction_default_changes_nothing() -> None:
    from lambda_promote.notify.redact import NO_REDACTION

    assert NO_REDACTION("AKIAIOSFODNN7EXAMPLE") == "AKIAIOSFODNN7EXAMPLE"


def test_each_previous_audit_key_is_a_secret_by_itself() -> None:
    """LAMBDA_PROMOTE_AUDIT_KEY_PREVIOUS lists old keys after a rotation: a message that shows
    one of them (not the whole list) must not give it away."""
    redactor = Redactor.from_environ(
        {"LAMBDA_PROMOTE_AUDIT_KEY_PREVIOUS": "old-key-number-one, old-key-number-two"}
    )
    shown = redactor("verified with old-key-number-two and old-key-number-one")
    assert "old-key-number-one" not in shown
    assert "old-key-number-two" not in shown
