"""``lambda-promote demo``: the whole story on the local target, in a temporary folder,
with no AWS and no questions asked (DESIGN §4; issue 4).

    init the example → build → deploy staging → request production approval → the
    requester's own approval refused → a reviewer approves → deploy production → a second
    release promoted the same way → a broken release fails staging and is rolled back
    automatically → production rolled back by hand → audit --verify → every gate and failure
    produced a Slack message, a signed webhook and an email (``demo_receivers`` on 127.0.0.1)

Every step says what should happen and checks that it did; the demo exits 0 only if every
step behaved as expected.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_promote.demo_receivers import Receivers, running
from lambda_promote.errors import PromoteError, exit_code_for
from lambda_promote.ui import UI

DEVELOPER = "alice"
REQUESTER = "devops-admin"  # a reviewer too, so the self-review rule has something to refuse
REVIEWER = "team-lead"


@dataclass
class Step:
    title: str
    expect_exit: int
    got_exit: int
    note: str

    @property
    def ok(self) -> bool:
        return self.expect_exit == self.got_exit


class DemoFailed(PromoteError):
    code = "demo_failed"


class Demo:
    def __init__(self, ui: UI, folder: Path, receivers: Receivers) -> None:
        self.ui = ui
        self.folder = folder
        self.receivers = receivers
        self.steps: list[Step] = []
        self._ws: Any = None

    # --- the story ---------------------------------------------------------------------------
    def run(self) -> list[Step]:
        from lambda_promote import building, promotion
        from lambda_promote.release import flows

        self._prepare()
        self._commit("first release")
        self.step(
            "build the example once", 0, lambda: building.build(self.as_(DEVELOPER)).artifact.digest
        )
        self.step(
            "deploy it to staging; the health checks pass", 0, lambda: self._deploy("staging")
        )
        request = self.step(
            "request production approval",
            0,
            lambda: promotion.request_approval(self.as_(REQUESTER), "production", None).id,
        )
        self.step(
            f"{REQUESTER} tries to approve their own request: refused",
            5,
            lambda: self._decide(request, REQUESTER),
        )
        self.step(
            "production refuses the release while it lacks approval",
            5,
            lambda: self._deploy("production"),
        )
        self.step(f"{REVIEWER} approves", 0, lambda: self._decide(request, REVIEWER))
        self.step(
            "deploy production: the same bytes that passed staging",
            0,
            lambda: self._deploy("production"),
        )
        self.step(
            "the used approval cannot admit another deployment",
            5,
            lambda: self._deploy("production"),
        )
        self._edit_app('VERSION = "1.0.0"', 'VERSION = "1.1.0"')
        self._commit("release 1.1.0")
        self._promote("release 1.1.0")
        self._edit_app(
            "    answer: dict[str, Any] = {",
            '    raise RuntimeError("release 1.2.0 has a bug")\n    answer: dict[str, Any] = {',
        )
        self._commit("release 1.2.0, with a bug")
        self.step(
            "a broken release fails its staging checks and is rolled back",
            3,
            lambda: self._deploy("staging"),
        )
        self.step(
            "production is rolled back by hand to 1.0.0, verified",
            0,
            lambda: (
                flows.rollback(
                    self.as_(REVIEWER),
                    "production",
                    to=None,
                    reason="demo: customers report a bug in 1.1.0",
                ).id
            ),
        )
        self.step("audit --verify: the hash chain is intact", 0, self._verify_audit)
        self.step("every gate and failure produced a message", 0, self._check_messages)
        return self.steps

    def _promote(self, what: str) -> None:
        from lambda_promote import promotion

        self.step(f"{what}: build and deploy to staging", 0, lambda: self._deploy("staging"))
        request = self.step(
            f"{what}: request approval",
            0,
            lambda: promotion.request_approval(self.as_(REQUESTER), "production", None).id,
        )
        self.step(f"{what}: {REVIEWER} approves", 0, lambda: self._decide(request, REVIEWER))
        self.step(f"{what}: deploy production", 0, lambda: self._deploy("production"))

    # --- steps -------------------------------------------------------------------------------
    def step(self, title: str, expect_exit: int, action: Callable[[], Any]) -> str:
        self.ui.step(f"[{len(self.steps) + 1}] {title}")
        try:
            result = action()
            got, note = 0, str(result) if result is not None else ""
        except PromoteError as error:
            got, note = exit_code_for(error), error.message
        self.steps.append(Step(title, expect_exit, got, note))
        mark = self.ui.ok if got == expect_exit else self.ui.error
        mark(f"  exit {got} (expected {expect_exit}){': ' + note if note else ''}")
        return note

    def _deploy(self, env: str) -> str:
        from lambda_promote.release import flows

        ws = self.as_(DEVELOPER if env == "staging" else REVIEWER)
        dep = flows.deploy(ws, env, artifact=None)
        return f"{dep.id}: version {dep.version} ({dep.short_digest}) live in {env}"

    def _decide(self, request_id: str, who: str) -> str:
        from lambda_promote import promotion

        request, verdict = promotion.decide(
            self.as_(who), request_id, "production", approve=True, comment="looks good"
        )
        return f"{request.id} is {verdict.state}"

    def _check_messages(self) -> str:
        inbox = self.receivers.inbox
        webhook = inbox.events("webhook")
        expected = {
            "approval.requested",
            "approval.granted",
            "deployment.succeeded",
            "deployment.rolled_back",
            "rollback.manual",
        }
        missing = expected - set(webhook)
        channels = ["webhook", "slack"] + (["email"] if self.receivers.smtp_port else [])
        counts = {ch: len(inbox.events(ch)) for ch in channels}
        if missing or len(set(counts.values())) != 1 or inbox.bad_signatures:
            raise PromoteError(
                f"messages: missing {sorted(missing)}, counts {counts}, "
                f"{inbox.bad_signatures} bad signatures"
            )
        return ", ".join(f"{n} via {ch}" for ch, n in counts.items()) + " (signatures verified)"

    def _verify_audit(self) -> str:
        from lambda_promote.audit import verify
        from lambda_promote.workspace import audit_key

        result = verify(self.ws.ledger.audit_events(), key=audit_key())
        if not result.ok:
            raise PromoteError(f"audit trail broken: {result.problem}")
        return f"{result.count} events, head {result.head[:16]}…"

    # --- the folder --------------------------------------------------------------------------
    @property
    def ws(self) -> Any:
        return self._ws

    def as_(self, actor: str) -> Any:
        self._ws.actor = actor
        return self._ws

    def _prepare(self) -> None:
        from lambda_promote.config import load_config
        from lambda_promote.scaffold import write_config
        from lambda_promote.workspace import Workspace

        write_config(self.folder, example=True)
        with (self.folder / "promote.yaml").open("a") as config_file:
            config_file.write("\n# Added by the demo: receivers it runs on 127.0.0.1.\n")
            config_file.write(self.receivers.notifications_yaml())
        os.environ.update(self.receivers.environ)
        self._git("init", "-q", "-b", "main")
        config = load_config(self.folder / "promote.yaml")
        self._ws = Workspace(config=config, ui=self.ui, actor=DEVELOPER)
        self.ui.ok(f"wrote the example project in {self.folder}")

    def _edit_app(self, old: str, new: str) -> None:
        app = self.folder / "src" / "app.py"
        app.write_text(app.read_text().replace(old, new, 1))

    def _commit(self, message: str) -> str:
        self._git("add", "-A")
        self._git(
            "-c",
            "user.name=Demo",
            "-c",
            "user.email=demo@example.com",
            "commit",
            "-q",
            "-m",
            message,
        )
        return message

    def _git(self, *args: str) -> None:
        if shutil.which("git") is None:
            raise PromoteError(
                "the demo needs git (production admits only builds of main)",
                hint="install git and run `make demo` again",
            )
        subprocess.run(["git", *args], cwd=self.folder, check=True, capture_output=True)

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()


def run_demo(ui: UI, *, keep: Path | None = None) -> tuple[list[Step], Path]:
    folder = keep or Path(tempfile.mkdtemp(prefix="lambda-promote-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    saved = dict(os.environ)
    with running() as receivers:
        demo = Demo(ui, folder, receivers)
        try:
            steps = demo.run()
        finally:
            demo.close()
            os.environ.clear()
            os.environ.update(saved)
        if receivers.smtp_port is None:
            ui.warn("aiosmtpd is not installed, so the demo sent no email (make demo installs it)")
    failed = [s for s in steps if not s.ok]
    if failed:
        raise DemoFailed(
            f"{len(failed)} of {len(steps)} demo steps did not behave as expected: "
            + "; ".join(f"{s.title} (exit {s.got_exit}, expected {s.expect_exit})" for s in failed),
            hint=f"the demo project is kept in {folder}",
            payload={"steps": steps, "folder": str(folder)},
        )
    return steps, folder
