"""Step 3 of loading promote.yaml: rules that span fields, which the schema alone cannot say.

Runs on a ``Config`` the schema accepted. Each rule adds problems (the file is refused) or
warnings (the file works, but something is probably unintended), placed at a line through the
document's line map. Checks of the function's files on disk live in ``sourcecheck.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from difflib import get_close_matches
from urllib.parse import urlsplit

from lambda_promote.config.fncheck import function_configuration
from lambda_promote.config.functions import function_rules
from lambda_promote.config.problems import FieldPath, Problem, did_you_mean, shown
from lambda_promote.config.schema import Config
from lambda_promote.config.yamlsource import LocatedDocument

ENV_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_ENV_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_S3_URL = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$")
_PSYCOPG_HINT = "for PostgreSQL write postgresql+psycopg://user@host:5432/dbname"


@dataclass
class Findings:
    """What the rules found; ``errors`` refuse the file, ``warnings`` only inform."""

    doc: LocatedDocument
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def error(self, path: FieldPath, text: str, hint: str) -> None:
        self.errors.append(Problem(self.doc.line_for(path), path, text, hint))

    def warn(self, path: FieldPath, text: str, hint: str, *, at: FieldPath = ()) -> None:
        self.warnings.append(Problem(self.doc.line_for(at or path), path, text, hint))


def cross_check(config: Config, doc: LocatedDocument) -> Findings:
    findings = Findings(doc)
    for rule in _RULES:
        rule(config, findings)
    return findings


def _known_envs(config: Config) -> str:
    return "environments defined: " + ", ".join(config.environments)


def _unknown_env(name: str, config: Config) -> str:
    guess = did_you_mean(name, config.environments)
    return f"unknown environment '{name}'" + (f", did you mean '{guess}'?" if guess else "")


def _environment_names(config: Config, found: Findings) -> None:
    for name in config.environments:
        if not ENV_NAME.match(name):
            fixed = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "staging"
            found.error(
                ("environments", name),
                "environment names are lowercase letters, digits and '-', starting with a letter",
                f"rename it, e.g. '{fixed}' (the name appears in commands and GitHub environments)",
            )


def _promotion_sources(config: Config, found: Findings) -> None:
    for name, env in config.environments.items():
        source = env.promote_from
        path = ("environments", name, "promote_from")
        if source == name:
            found.error(
                path,
                "an environment cannot promote from itself",
                "name the environment whose verified builds come here, e.g. promote_from: staging",
            )
        elif source is not None and source not in config.environments:
            found.error(path, _unknown_env(source, config), _known_envs(config))


def _promotion_cycles(config: Config, found: Findings) -> None:
    reported: set[frozenset[str]] = set()
    for start in config.environments:
        chain = [start]
        current = config.environments[start].promote_from
        while current in config.environments and current not in chain:
            chain.append(current)
            current = config.environments[current].promote_from
        if current != start or len(chain) < 2 or frozenset(chain) in reported:
            continue
        reported.add(frozenset(chain))
        found.error(
            ("environments", start, "promote_from"),
            "promotion cycle: " + " → ".join([*chain, start]),
            "the first environment of a chain has no promote_from: it receives fresh builds",
        )


def _trigger_targets(config: Config, found: Findings) -> None:
    for i, trigger in enumerate(config.triggers):
        for j, name in enumerate(trigger.deploy):
            if name not in config.environments:
                found.error(
                    ("triggers", i, "deploy", j), _unknown_env(name, config), _known_envs(config)
                )


def _approval_counts(config: Config, found: Findings) -> None:
    for name, env in config.environments.items():
        approval = env.approval
        if approval is None or approval.provider != "builtin":
            continue
        people = len(set(approval.reviewers))
        if approval.min_approvals > people:
            found.error(
                ("environments", name, "approval", "min_approvals"),
                f"needs {approval.min_approvals} approvals but only {people} distinct "
                f"reviewer{'s are' if people != 1 else ' is'} listed, so the gate could never open",
                "add reviewers, or lower min_approvals",
            )


def _check_names(config: Config, found: Findings) -> None:
    for name, env in config.environments.items():
        first: dict[str, int] = {}
        for i, check in enumerate(env.checks):
            path = ("environments", name, "checks", i, "name")
            line = found.doc.line_for(path)
            if check.name in first:
                found.error(
                    path,
                    f"duplicate check name '{check.name}' (first at line {first[check.name]})",
                    "give each check of an environment its own name; reports refer to checks by it",
                )
            else:
                first[check.name] = line


def _artifacts_location(config: Config, found: Findings) -> None:
    value = config.artifacts
    is_url = "://" in value or value.startswith("s3:")
    if value.strip() and (not is_url or _S3_URL.match(value)):
        return
    found.error(
        ("artifacts",),
        f"expected a folder path or s3://bucket/prefix, got {shown(value)}",
        "e.g. artifacts: .lambda-promote/artifacts (relative to promote.yaml) or "
        "artifacts: s3://my-bucket/lambda-artifacts (bucket: 3-63 lowercase letters, digits, . -)",
    )


def _state_url(config: Config, found: Findings) -> None:
    url = config.state
    path = ("state",)
    scheme, sep, _ = url.partition("://")
    base, _, driver = scheme.partition("+")
    if sep and base == "dynamodb":
        _dynamodb_state(url, found)
        return
    if not sep or base not in ("sqlite", "postgresql", "postgres"):
        near = did_you_mean(scheme.lower(), ("sqlite", "postgresql", "dynamodb")) if sep else None
        found.error(
            path,
            "expected a SQLAlchemy URL for SQLite or PostgreSQL, or dynamodb://TABLE, got "
            + shown(_redacted(url)),
            (f"did you mean {near}://…? " if near else "")
            + "for a file next to promote.yaml write sqlite:///.lambda-promote/state.db; "
            + _PSYCOPG_HINT
            + "; for DynamoDB write dynamodb://TABLE?region=REGION",
        )
        return
    # A bare postgresql:// (or postgres://) gets psycopg 3 from the ledger; a named driver
    # is kept as written, and only psycopg comes with lambda-promote[postgres].
    if base != "sqlite" and driver not in ("", "psycopg"):
        found.warn(
            path,
            f"'{scheme}://' needs a driver lambda-promote does not install",
            "use the psycopg 3 driver: " + _PSYCOPG_HINT,
        )
    if base == "sqlite" and url in ("sqlite://", "sqlite:///:memory:"):
        found.warn(
            path,
            "an in-memory ledger forgets every deployment when the command ends",
            "use a file: sqlite:///.lambda-promote/state.db",
        )
    if _has_password(url):
        found.warn(
            path,
            "the URL contains a password, so the password lives in the repository",
            "remove it from the URL and set PGPASSWORD (or a ~/.pgpass file); psycopg reads both",
        )


def _dynamodb_state(url: str, found: Findings) -> None:
    """The table name and options of a ``dynamodb://`` state (the region may come from
    AWS_REGION where the command runs, so its absence is not an error here)."""
    from lambda_promote.errors import ConfigError
    from lambda_promote.ledger.dynamo_url import parse_dynamodb

    probe = url if "region=" in url else _with_region(url)
    try:
        parse_dynamodb(probe)
    except ConfigError as error:
        said = error.message.removeprefix("state: ").replace(probe, url)
        found.error(("state",), said, error.hint)


def _with_region(url: str) -> str:
    return url + ("&" if "?" in url else "?") + "region=checked-where-it-runs"


def _has_password(url: str) -> bool:
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


def _redacted(url: str) -> str:
    """``url`` with any password replaced, so an error message never shows it."""
    return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", url)


def _secret_names(config: Config, found: Findings) -> None:
    notifiers = config.notifications
    for notifier_name in ("slack", "email", "webhook"):
        notifier = getattr(notifiers, notifier_name)
        if notifier is None:
            continue
        for key, value in notifier.model_dump().items():
            if key.endswith("_env") and value is not None and not _ENV_VAR_NAME.match(value):
                found.error(
                    ("notifications", notifier_name, key),
                    "expected the name of an environment variable (like SLACK_WEBHOOK_URL), "
                    "got something else (not shown: it may be a secret)",
                    "put the secret in an environment variable and write the variable's name "
                    "here; promote.yaml never holds secrets",
                )


def _notifier_events(config: Config, found: Findings) -> None:
    from lambda_promote.notify.events import EVENTS, unknown_event_patterns

    for notifier_name in ("slack", "email", "webhook"):
        notifier = getattr(config.notifications, notifier_name)
        for pattern in unknown_event_patterns(notifier.events if notifier else None):
            close = get_close_matches(pattern, EVENTS, n=1)
            found.warn(
                ("notifications", notifier_name, "events"),
                f"{pattern!r} matches no event, so it never sends anything",
                (f"did you mean {close[0]!r}? " if close else "")
                + f"events: {', '.join(EVENTS)} (globs like 'deployment.*' work)",
            )


def _risk_warnings(config: Config, found: Findings) -> None:
    for name, env in config.environments.items():
        if env.approval is not None and not env.branches:
            found.warn(
                ("environments", name),
                f"has an approval gate but no branches rule, so any branch can reach {name}",
                "add e.g. branches: [main]",
                at=("environments", name, "approval"),
            )
        if not env.checks:
            found.warn(
                ("environments", name),
                "has no checks, so a deployment there (or a rollback) is never verified",
                "add a check, e.g. checks: [{name: ping, payload: {action: ping}}]",
            )


_RULES: tuple[Callable[[Config, Findings], None], ...] = (
    function_rules,
    _environment_names,
    _promotion_sources,
    _promotion_cycles,
    _trigger_targets,
    _approval_counts,
    _check_names,
    _artifacts_location,
    _state_url,
    _secret_names,
    _notifier_events,
    _risk_warnings,
    function_configuration,
)
