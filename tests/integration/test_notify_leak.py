"""The secret-leak test (DESIGN §5.8): with distinctive secrets planted in the environment —
and in the logs, errors and comments a careless function or person may produce — every
notifier (succeeding and failing) and every report path runs, and nothing anyone can read
contains any of them: request bodies and headers, mail, ``Delivery`` errors, warnings, audit
details, report files and the GitHub job summary.

Every planted value contains ``PLANTED``; the test greps for that word, so even a part of a
secret (the path of a webhook URL, a password inside a database URL) is caught.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from golden import notify_samples as samples
from golden.notify_servers import Authenticator, Receiver, closed_port, self_signed, smtp_server
from lambda_promote.config.schema import EmailNotifier as EmailConfig
from lambda_promote.config.schema import Notifications, SlackNotifier, WebhookNotifier
from lambda_promote.model import CheckResult, RequestState
from lambda_promote.notify.dispatch import (
    EVENTS,
    Delivery,
    DeliveryLog,
    NotificationEvent,
    RetryPolicy,
    approval_event,
    deployment_event,
    dispatch,
    lock_broken_event,
    redactor_for,
)
from lambda_promote.reports import render, write_reports

MARK = "PLANTED"
QUICK = RetryPolicy(attempts=2, timeout=0.5, first_delay=0.0, max_delay=0.0)


def planted(http_port: int) -> dict[str, str]:
    return {
        "SLACK_WEBHOOK_URL": f"http://127.0.0.1:{http_port}/services/T0/B0/slack-{MARK}-token",
        "HOOK_URL": f"http://127.0.0.1:{http_port}/hook/{MARK}-path?token=qs-{MARK}-token",
        "HOOK_SECRET": f"hmac-{MARK}-signing-key",
        "SMTP_USER": "mailer",  # a user name is not a secret (the password is)
        "SMTP_PASSWORD": f"smtp-{MARK}-password",
        "AWS_ACCESS_KEY_ID": f"AKIA{MARK}000000001",
        "AWS_SECRET_ACCESS_KEY": f"aws/{MARK}+secret/key0123",
        "AWS_SESSION_TOKEN": f"FwoGZX{MARK}sessiontoken",
        "LAMBDA_PROMOTE_AUDIT_KEY": f"audit-{MARK}-key",
        "GITHUB_TOKEN": f"ghp_{MARK}0123456789",
        "LAMBDA_PROMOTE_STATE": f"postgresql+psycopg://deploy:pg-{MARK}-pass@db.internal/ledger",
    }


def config(smtp_port: int) -> Notifications:
    return Notifications(
        slack=SlackNotifier(webhook_url_env="SLACK_WEBHOOK_URL"),
        webhook=WebhookNotifier(url_env="HOOK_URL", secret_env="HOOK_SECRET"),
        email=EmailConfig.model_validate(
            {
                "smtp_host": "127.0.0.1",
                "port": smtp_port,
                "from": "ci@example.com",
                "to": ["ops@example.com"],
                "starttls": True,
                "username_env": "SMTP_USER",
                "password_env": "SMTP_PASSWORD",
            }
        ),
    )


def careless_events(secrets: dict[str, str]) -> list[NotificationEvent]:
    """Every event, each carrying the secrets where real ones end up: a function that
    printed its environment, an error quoting a URL, a reviewer pasting a password."""
    dump = "\n".join(f"{k}={v}" for k, v in secrets.items())
    events = []
    for name in EVENTS:
        if name.startswith("approval."):
            request = samples.approval(RequestState.OPEN)
            request.evidence["commits"] = [f"abc123 rotate {secrets['GITHUB_TOKEN']}"]
            events.append(
                approval_event(
                    name, request, actor="team-lead", comment=f"pw {secrets['SMTP_PASSWORD']}"
                )
            )
        elif name == "lock.broken":
            events.append(
                lock_broken_event(
                    "staging",
                    actor="ops",
                    holder="x@y:1",
                    deployment_id="d-1",
                    reason=secrets["SLACK_WEBHOOK_URL"],
                )
            )
        else:
            events.append(deployment_event(name, leaky_deployment(secrets, dump)))
    return events


def leaky_deployment(secrets: dict[str, str], dump: str):
    dep = samples.rolled_back()
    dep.error = f"POST {secrets['HOOK_URL']} failed; key {secrets['AWS_SECRET_ACCESS_KEY']}"
    dep.reason = f"token {secrets['AWS_SESSION_TOKEN']}"
    dep.checks = [
        CheckResult("ping", False, 5.0, f"db {secrets['LAMBDA_PROMOTE_STATE']}", logs=dump),
        *dep.checks,
    ]
    dep.transitions[-2] = replace(dep.transitions[-2], note=secrets["LAMBDA_PROMOTE_AUDIT_KEY"])
    return dep


def read_all(folder: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(folder.rglob("*")) if p.is_file())


def delivery_texts(results: list[Delivery]) -> list[str]:
    return [json.dumps(r.to_json()) for r in results]


def test_no_planted_secret_reaches_anything_people_or_receivers_read(tmp_path: Path) -> None:
    cert = self_signed(tmp_path)
    auth = Authenticator("mailer", f"smtp-{MARK}-password")
    smtp = {
        "tls_context": cert.server_context(),
        "require_starttls": True,
        "authenticator": auth,
        "auth_required": True,
    }
    seen: list[str] = []
    warnings: list[str] = []
    audited: list[str] = []

    def audit(action: str, **fields: object) -> None:
        audited.append(json.dumps({"action": action, **fields}, default=str))

    log = DeliveryLog(audit=audit, warn=warnings.append)
    with Receiver([200, 500, 200]) as http, smtp_server(**smtp) as (smtp_port, mailbox):
        secrets = planted(http.server.server_address[1])
        redactor = redactor_for(config(smtp_port), secrets)
        events = careless_events(secrets)
        # 1. Everything working (the server answers 500 once: a retry path too).
        for event in events:
            results = dispatch(
                config(smtp_port),
                event,
                environ=secrets,
                policy=QUICK,
                ssl_context=cert.client_context(),
            )
            assert any(r.ok for r in results)
            for result in results:
                log(result)
        # 2. Everything failing: wrong SMTP password, unreachable URLs, a URL that is not one.
        broken = {
            **secrets,
            "SMTP_PASSWORD": f"wrong-{MARK}-password",
            "SLACK_WEBHOOK_URL": f"http://127.0.0.1:{closed_port()}/services/{MARK}/x",
            "HOOK_URL": f"http://127.0.0.1:{closed_port()}/bad path/{MARK} token",
        }
        for event in events:
            results = dispatch(
                config(smtp_port),
                event,
                environ=broken,
                policy=QUICK,
                ssl_context=cert.client_context(),
            )
            assert not any(r.ok for r in results)
            seen += delivery_texts(results)
            for result in results:
                log(result)
        # 3. Not a URL at all: urllib's own message would repeat it.
        odd = {**secrets, "SLACK_WEBHOOK_URL": f"{MARK}-not-a-url"}
        seen += delivery_texts(dispatch(config(smtp_port), events[0], environ=odd))
    assert len(mailbox.mails) == len(EVENTS)
    seen += [r.body.decode() + json.dumps(r.headers) for r in http.requests]
    seen += [m.content.decode() for m in mailbox.mails]
    seen += delivery_texts(log.deliveries) + warnings + audited

    # 4. Every report path: files, the job summary, and render() in each format.
    dep = leaky_deployment(secrets, "\n".join(f"{k}={v}" for k, v in secrets.items()))
    request = careless_events(secrets)[1].request
    summary = tmp_path / "summary.md"
    reports = tmp_path / "reports"
    write_reports(
        dep,
        approvals=[request] if request else [],
        notifications=[d.to_json() for d in log.deliveries],
        audit_head=None,
        folder=reports,
        redactor=redactor,
        environ={**secrets, "GITHUB_STEP_SUMMARY": str(summary)},
    )
    seen += [read_all(reports), summary.read_text()]
    seen += [render(dep, fmt, environ=secrets) for fmt in ("md", "json", "html")]

    leaks = [text for text in seen if MARK in text]
    assert not leaks, leaks[0][:2000]
    # The test planted secrets where they would show: they were replaced, not dropped.
    everything = "\n".join(seen)
    for name in ("$AWS_SECRET_ACCESS_KEY", "$HOOK_URL", "$SMTP_PASSWORD", "$SLACK_WEBHOOK_URL"):
        assert name in everything, name
