"""Keeping secrets out of everything people read (DESIGN §5.8): notification bodies, reports,
error messages and ``Delivery.error``.

A ``Redactor`` knows the *values* of the secrets around it — the variables promote.yaml names
for its notifiers, the well-known ones (AWS keys, tokens, the audit key) and any variable whose
name says it is secret — and replaces every occurrence, including the forms in which error
messages tend to repeat them (the path of a webhook URL, its password, escaped or quoted), by
``$NAME`` of the variable. It is applied last, to what is about to be sent or written, so a
secret that slipped into a check's logs or an exception is still caught.
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
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "PGPASSWORD",
    "SLACK_WEBHOOK_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
)
_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSW|PASSPHRASE|HOOK|DSN|API_?KEY|PRIVATE|CREDENTIAL|(?:^|_)KEY(?:_|$)",
    re.IGNORECASE,
)
# Short values are left alone: replacing "true" or "1234" everywhere would garble reports.
# Variables promote.yaml names are trusted to be secret from 4 characters; others from 8.
_MIN_NAMED = 4
_MIN_GUESSED = 8


@dataclass(frozen=True)
class Redactor:
    """``redactor(text)`` replaces every known secret in ``text`` with ``$NAME``."""

    replacements: tuple[tuple[str, str], ...] = ()

    def __call__(self, text: str) -> str:
        for secret, name in self.replacements:
            if secret in text:
                text = text.replace(secret, name)
        return text

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
        return any(secret in text for secret, _ in self.replacements)

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
            else:
                _add_url_password(pairs, value, name)
        ordered = sorted(pairs.items(), key=lambda item: len(item[0]), reverse=True)
        return cls(tuple(ordered))


# For callers that have nothing to hide (tests, a default argument).
NO_REDACTION = Redactor()


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
