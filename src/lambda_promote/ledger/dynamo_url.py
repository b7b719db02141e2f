"""Which kind of ledger a ``state`` URL names (DESIGN §3, §11.6), without importing any
driver: ``sqlite:///…`` and ``postgresql[+psycopg]://…`` are served by the SQL ledgers,
``dynamodb://TABLE?region=REGION`` by the DynamoDB one. A scheme that is none of these is
refused here, at once, with the nearest spelling — instead of a driver's "can't load plugin".
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from lambda_promote.errors import ConfigError

DYNAMODB = "dynamodb"
_SQL_SCHEMES = (
    "sqlite",
    "sqlite+pysqlite",
    "postgresql",
    "postgresql+psycopg",
    "postgresql+psycopg2",
    "postgres",
)
KNOWN_SCHEMES = (*_SQL_SCHEMES, DYNAMODB)
_EXAMPLES = (
    "sqlite:///.lambda-promote/state.db, postgresql+psycopg://user@host/db or "
    "dynamodb://TABLE?region=REGION"
)
# DynamoDB's own rule for table names.
_TABLE_RE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


@dataclass(frozen=True)
class DynamoLocation:
    table: str
    region: str

    @property
    def url(self) -> str:
        return f"dynamodb://{self.table}?region={self.region}"


def scheme_of(url: str) -> str:
    """The scheme of ``url`` in lower case; ``ConfigError`` with a did-you-mean when it is
    not one lambda-promote can keep a ledger in."""
    scheme, sep, _ = url.partition("://")
    scheme = scheme.strip().lower()
    if sep and scheme in KNOWN_SCHEMES:
        return scheme
    near = difflib.get_close_matches(scheme, KNOWN_SCHEMES, n=1, cutoff=0.6) if sep else []
    guess = f"did you mean {near[0]}://…? " if near else ""
    raise ConfigError(
        f"state: {_shown(url)!r} is not a ledger URL lambda-promote knows"
        + (f" (scheme {scheme!r})" if sep else ""),
        hint=f"{guess}use e.g. {_EXAMPLES}",
        code="state_url",
    )


def is_dynamodb(url: str) -> bool:
    return url.strip().lower().startswith(f"{DYNAMODB}://")


def parse_dynamodb(url: str) -> DynamoLocation:
    """``dynamodb://TABLE?region=REGION``; the region defaults to AWS_REGION /
    AWS_DEFAULT_REGION, as for every AWS client."""
    parts = urlsplit(url.strip())
    table = parts.netloc or parts.path.lstrip("/")
    if not _TABLE_RE.match(table or ""):
        raise ConfigError(
            f"state: {url!r} does not name a DynamoDB table",
            hint="use dynamodb://TABLE?region=REGION (3–255 letters, digits, _ . -)",
            code="state_url",
        )
    query = parse_qs(parts.query)
    unknown = sorted(set(query) - {"region"})
    if unknown:
        raise ConfigError(
            f"state: {url!r} has unknown option(s) {', '.join(unknown)}",
            hint="the only option is region, e.g. dynamodb://TABLE?region=eu-west-1",
            code="state_url",
        )
    region = (query.get("region") or [""])[0] or _default_region()
    if not region:
        raise ConfigError(
            f"state: {url!r} names no region",
            hint="add ?region=REGION to the URL, or set AWS_REGION",
            code="state_url",
        )
    return DynamoLocation(table=table, region=region)


def _default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""


def _shown(url: str) -> str:
    """``url`` without a password (``user:secret@host`` → ``user:***@host``)."""
    return re.sub(r"(://[^:/@]+:)[^@/]*@", r"\1***@", url)
