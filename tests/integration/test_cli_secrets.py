"""DESIGN §5.8 and §5.9 through the CLI: a notifier that fails (its webhook URL carries a
token) never fails the deployment, and the token appears nowhere — not in the output, the
reports, nor the ledger file."""

from __future__ import annotations

from pathlib import Path

from cli_project import make_project

TOKEN = "xoxb-PLANTED-SECRET-7d1e9c"
HOOK = f"http://127.0.0.1:9/services/T0/B0/{TOKEN}"  # port 9: nothing listens, refused


def test_a_failing_notifier_neither_fails_the_deploy_nor_leaks_its_url(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "secret",
        edits={
            "triggers:": "notifications:\n  slack: {webhook_url_env: SLACK_WEBHOOK_URL}\ntriggers:"
        },
    )
    env = {"SLACK_WEBHOOK_URL": HOOK, "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/PLANTED/KEY"}
    proc = project.popen("deploy", "staging", env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "$SLACK_WEBHOOK_URL" in out + err  # the failure is shown, by name
    everything = [out, err]
    for path in (project.root / ".lambda-promote").rglob("*"):
        if path.is_file():
            everything.append(path.read_bytes().decode("utf-8", "replace"))
    for text in everything:
        assert TOKEN not in text
        assert "PLANTED/KEY" not in text
    _, audit = project.run("audit", env=env, check=0)
    failed = [e for e in audit["events"] if e["action"] == "notification.failed"]
    assert failed
    assert "$SLACK_WEBHOOK_URL" in failed[0]["reason"]
