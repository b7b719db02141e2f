"""Keeping secrets out of everything people read and everything stored (DESIGN §5.8):
notification bodies, reports, error messages, ``Delivery.error`` and the ledger.

A ``Redactor`` knows the *values* of the secrets around it — the variables promote.yaml names
for its notifiers, the well-known ones (AWS keys, tokens, the audit key) and any variable whose
name says it is secret — and replaces every occurrence, including the forms in which error
messages tend to repeat them (the path of a webhook URL, its password, escaped or quoted), by
``$NAME`` of the variable. It then replaces what *looks* like a credential whatever variable
holds it, or none (``SHAPES``: AWS keys, GitHub and Slack tokens, Slack webhook URLs, bearer
tokens, passwords in URLs, private key blocks, JWTs), by ``[redacted:KIND]``. It is applied
last, to what is about to be sent, printed or stored, so a secret that slipped into a check's
logs or an exception is still caught. The ledger applies it before writing (ledger/scrub.py),
so what it stores holds no secret of the machine that wrote it; a reader never needs the
writer's variables to stay safe.
"""

from __future__ import annotations

import html
import json
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_promote.config.schema import Notifications

# Secrets that may be in a CI environment whatever promote.yaml says.
WELL_KNOWN = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "LAMBDA_PROMOTE_AUDIT_KEY",
    "LAMBDA_PROMOTE_AUDIT_KEY_PREVIOUS",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "PGPASSWORD",
    "SLACK_WEBHOOK_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
)
# Variables holding several secrets, comma-separated: each one is a secret by itself.
_LISTS_OF_SECRETS = frozenset({"LAMBDA_PROMOTE_AUDIT_KEY_PREVIOUS"})
_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSW|PASSPHRASE|HOOK|DSN|API_?KEY|PRIVATE|CREDENTIAL|(?:^|_)KEY(?:_|$)",
    re.IGNORECASE,
)
# Short values are left alone: replacing "true" or "1234" everywhere would garble reports.
# Variables promote.yaml names are trusted to be secret from 4 characters; others from 8.
_MIN_NAMED = 4
_MIN_GUESSED = 8

# Credentials recognised by their shape, whatever variable holds them (or none: a token a
# handler printed, a key a reviewer pasted). A match becomes "[redacted:KIND]"; the group
# "keep" (a URL's scheme and user, the word "Bearer", the name in "password=…") stays, so the
# text still says what was there. Order matters: whole blocks and URLs before their parts.
_BASE64 = "A-Za-z0-9/+"
SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "private-key",
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
            # To the END line, or to the end of the text when the block was cut short.
            r"(?:(?!-----END )[\s\S])*(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)?"
        ),
    ),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")),
    (
        "slack-webhook",
        re.compile(r"(?P<keep>https://hooks\.slack\.com/(?:services|workflows|triggers)/)[\w/-]+"),
    ),
    (
        "password",  # scheme://user:PASSWORD@host
        re.compile(r"(?P<keep>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@\"'<>]+:)[^\s/@\"'<>]+(?=@)"),
    ),
    ("github-token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{22,})")),
    ("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("aws-access-key-id", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
    ("bearer-token", re.compile(r"(?P<keep>\b[Bb]earer\s+)[A-Za-z0-9._~+/=-]{8,}")),
    (
        # 40 base64 characters standing alone, with upper and lower case letters and a
        # digit: git commits and digests (lowercase hex) and CodeSha256 (44 long) are not.
        "aws-secret-key",
        re.compile(
            rf"(?<![{_BASE64}=])(?=[{_BASE64}]*[A-Z])(?=[{_BASE64}]*[a-z])(?=[{_BASE64}]*[0-9])"
            rf"[{_BASE64}]{{40}}(?![{_BASE64}=])"
        ),
    ),
    (
        "secret",  # NAME=value / "name": "value" where the name says it is secret
        re.compile(
            r"(?i)(?P<keep>\b[\w.-]*?(?:password|passwd|secret|token|api[_-]?key|access[_-]?key)"
            r"[\"']?\s*[=:]\s*[\"']?)(?![\[$])[^\s\"',;&}]{4,}"
        ),
    ),
)


def _scrub_shapes(text: str) -> str:
    for kind, pattern in SHAPES:
        label = f"[redacted:{kind}]"
        if "keep" in pattern.groupindex:
            label = r"\g<keep>" + label
        text = pattern.sub(label, text)
    return text


@dataclass(frozen=True)
class Redactor:
    """``redactor(text)`` replaces every known secret in ``text`` with ``$NAME``, then every
    credential-shaped string with ``[redacted:KIND]`` (unless ``shapes`` is off)."""

    replacements: tuple[tuple[str, str], ...] = ()
    shapes: bool = True

    def __call__(self, text: str) -> str:
        for secret, name in self.replacements:
            if secret in text:
                text = text.replace(secret, name)
        return _scrub_shapes(text) if self.shapes else text

    def deep(self, value: Any) -> Any:
        """``value`` (JSON-like data) with every string redacted."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {self.deep(k): self.deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(v) for v in value]
        return value

    def finds(self, text: str) -> bool:
        """Whether ``text`` holds anything this redactor would replace."""
        return self(text) != text

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, names: Iterable[str | None] = ()
    ) -> Redactor:
        """Every secret of ``environ``: the variables in ``names`` (those promote.yaml
        points at), the well-known ones, and any variable named like a secret."""
        named = {n for n in names if n} | set(WELL_KNOWN)
        pairs: dict[str, str] = {}
        for name, value in environ.items():
            if not value:
                continue
            named_secret = name in named and len(value) >= _MIN_NAMED
            guessed_secret = bool(_SECRET_NAME.search(name)) and len(value) >= _MIN_GUESSED
            if named_secret or guessed_secret:
                _add_forms(pairs, value, name)
                if name in _LISTS_OF_SECRETS:
                    for item in value.split(","):
                        _add_forms(pairs, item.strip(), name)
            else:
                _add_url_password(pairs, value, name)
        ordered = sorted(pairs.items(), key=lambda item: len(item[0]), reverse=True)
        return cls(tuple(ordered))


# For callers that have nothing to hide (tests, a default argument): changes nothing.
NO_REDACTION = Redactor(shapes=False)


def _add_forms(pairs: dict[str, str], value: str, name: str) -> None:
    """The value and the shapes an error message may show it in."""
    label = f"${name}"
    forms = {
        value,
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote(value, safe="/:"),
        json.dumps(value)[1:-1],
        html.escape(value, quote=True),
        html.escape(value, quote=False),
        value.encode("unicode_escape").decode("ascii"),
    }
    try:
        parts = urllib.parse.urlsplit(value) if "://" in value else None
        password = parts.password if parts is not None else None
    except ValueError:  # e.g. an unbalanced "[" in the host: not a URL, nothing to split
        parts, password = None, None
    if parts is not None and parts.netloc:
        # http.client and urllib quote only the path or the host in some errors.
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        if len(tail) >= _MIN_NAMED and tail != "/":
            forms.add(tail)
        if password and len(password) >= _MIN_NAMED:
            forms.add(password)
    for form in forms:
        if len(form) >= _MIN_NAMED:
            pairs.setdefault(form, label)


def _add_url_password(pairs: dict[str, str], value: str, name: str) -> None:
    """Any variable holding a URL with a password (e.g. LAMBDA_PROMOTE_STATE for
    PostgreSQL) gives that password away; the rest of the URL is not secret."""
    if "://" not in value or "@" not in value:
        return
    try:
        password = urllib.parse.urlsplit(value).password
    except ValueError:
        return
    if password and len(password) >= _MIN_NAMED:
        pairs.setdefault(password, f"${name}(password)")
        pairs.setdefault(urllib.parse.quote(password, safe=""), f"${name}(password)")


def redactor_for(
    notifications: Notifications | None, environ: Mapping[str, str] | None = None
) -> Redactor:
    """The ``Redactor`` for the secrets of this configuration and environment; reports and
    command output use the same one."""
    return Redactor.from_environ(
        os.environ if environ is None else environ, names=secret_names(notifications)
    )


def secret_names(notifications: Notifications | None) -> list[str]:
    """The environment variables promote.yaml names as holding its notifiers' secrets."""
    if notifications is None:
        return []
    names: list[str | None] = []
    if notifications.slack:
        names.append(notifications.slack.webhook_url_env)
    if notifications.email:
        names += [notifications.email.username_env, notifications.email.password_env]
    if notifications.webhook:
        names += [notifications.webhook.url_env, notifications.webhook.secret_env]
    return [name for name in names if name]
