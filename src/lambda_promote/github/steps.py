"""The steps the generated workflow's jobs are made of, as data (see ``jobs.py``).

Hardening that lives here (DESIGN §10): every ``uses:`` is pinned to a commit SHA with its
release in a comment; checkout never leaves the token in ``.git/config``; values from the
event, the inputs or other jobs reach a script only through ``env:``, never as ``${{ … }}``
inside ``run:``; secrets are given to the lambda-promote steps that need them, not to a whole
job where third-party actions would see them too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from lambda_promote.config.schema import Config
from lambda_promote.errors import UsageError
from lambda_promote.github import install, pins
from lambda_promote.github.yamlout import Literal, Note

STATE_DIR = ".lambda-promote"
RUN_DIR = f"{STATE_DIR}/run"
_SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Step = dict[str, Any]


def expr(text: str) -> str:
    return "${{ " + text + " }}"


@dataclass(frozen=True)
class Paths:
    """Where the run's files live, relative to the repository root (promote.yaml's folder)."""

    store: str | None  # the folder store (<digest>.zip, <digest>.json); None: an S3 store
    ledger: str | None  # a SQLite ledger file outside STATE_DIR that must travel too
    # A dynamodb:// ledger (DESIGN §11.6): every job reads and writes the one table, so no
    # job downloads a ledger; the uploads still carry each job's reports.
    shared: bool = False

    @property
    def state_upload(self) -> str:
        lines = [f"{STATE_DIR}/"]
        if self.ledger:
            lines.append(self.ledger)
        if self.store is not None and _inside(self.store, STATE_DIR):
            lines.append(f"!{self.store}/")
        return "\n".join(lines) + "\n"

    @property
    def state_download(self) -> str:
        # upload-artifact roots an artifact at the paths' common folder.
        return "." if self.ledger else STATE_DIR


def paths_for(config: Config) -> Paths:
    # An S3 store travels by itself: build uploads there (with the build environment's role)
    # and every deploy fetches and re-hashes from there. A folder store travels as the
    # workflow artifact ``release``.
    store = None
    if not config.artifacts.startswith("s3://"):
        store = _relative(
            config.artifacts, "artifacts", "a folder such as .lambda-promote/artifacts"
        )
    ledger: str | None = None
    if config.state.startswith("sqlite:///") and not config.state.startswith("sqlite:////"):
        path = _relative(config.state.removeprefix("sqlite:///"), "state", "a relative file")
        ledger = None if _inside(path, STATE_DIR) else path
    return Paths(store=store, ledger=ledger, shared=shared_ledger(config))


def shared_ledger(config: Config) -> bool:
    """Whether ``state`` is a DynamoDB table every job reaches with its AWS role."""
    return config.state.startswith("dynamodb://")


def _relative(value: str, field: str, example: str) -> str:
    path = PurePosixPath(value)
    if "://" in value or path.is_absolute() or ".." in path.parts:
        raise UsageError(
            f"{field}: {value}: the generated workflow carries this between jobs as a "
            "workflow artifact, so it must be a path inside the repository",
            hint=f"use {example} or, for artifacts, s3://BUCKET/PREFIX (a team's shared "
            "ledger comes from the LAMBDA_PROMOTE_STATE secret instead)",
        )
    return str(path)


def _inside(path: str, folder: str) -> bool:
    return PurePosixPath(path).parts[:1] == (folder,)


# --- environment for lambda-promote --------------------------------------------------------------
def tool_env(config: Config, *, notify: bool, **extra: str) -> dict[str, Any]:
    """What a lambda-promote step needs: the shared ledger's URL and the audit key when the
    repository has those secrets (empty otherwise, and then promote.yaml's ``state`` rules),
    the notifiers' secrets, and ``extra``."""
    names = ["LAMBDA_PROMOTE_STATE", "LAMBDA_PROMOTE_AUDIT_KEY"]
    if notify:
        names += notifier_secrets(config)
    env: dict[str, Any] = {name: expr(f"secrets.{name}") for name in names}
    if shared_ledger(config):
        # A table's name is no secret: a repository variable may point the jobs elsewhere.
        env["LAMBDA_PROMOTE_STATE"] = expr("vars.LAMBDA_PROMOTE_STATE")
    env.update(extra)
    return env


def notifier_secrets(config: Config) -> list[str]:
    n = config.notifications
    names = [
        n.slack.webhook_url_env if n.slack else None,
        n.email.username_env if n.email else None,
        n.email.password_env if n.email else None,
        n.webhook.url_env if n.webhook else None,
        n.webhook.secret_env if n.webhook else None,
    ]
    found = [name for name in names if name]
    for name in found:
        if not _SECRET_NAME.match(name) or name.upper().startswith("GITHUB_"):
            raise UsageError(
                f"notifications: {name!r} cannot be a GitHub secret's name",
                hint="secret names use letters, digits and '_', and never start with GITHUB_",
            )
    return list(dict.fromkeys(found))


# --- steps ---------------------------------------------------------------------------------------
def uses(pin: pins.Pin, name: str, with_: dict[str, Any], **more: Any) -> Step:
    step: Step = {"name": name, **more, "uses": Note(pin.uses, trailing=pin.version)}
    if with_:
        step["with"] = with_
    return step


def checkout(*, full_history: bool = False) -> Step:
    with_: dict[str, Any] = {"persist-credentials": False}
    if full_history:
        # The approval request lists the commits between what is live and what is promoted.
        with_["fetch-depth"] = 0
    return uses(pins.CHECKOUT, "Check out the repository", with_)


def setup_python(config: Config) -> list[Step]:
    source = install.tool_source(config)
    lock = install.LOCK_PATH
    script = f"python -m pip install --require-hashes --only-binary :all: -r {lock}\n"
    if source.git_url is not None:
        # The commit names its content; its build backend comes hashed from the lock.
        script += (
            'python -m pip install --no-deps --no-build-isolation "${LAMBDA_PROMOTE_PACKAGE}"\n'
            "python -m pip check\n"
        )
    return [
        uses(pins.SETUP_PYTHON, "Set up Python", {"python-version": source.python}),
        {
            "name": "Install lambda-promote from the hash-pinned lock",
            "run": Literal(script + "python -m lambda_promote --version\n"),
        },
    ]


def aws_credentials(config: Config, region: str, *, store_only: bool = False) -> list[Step]:
    s3 = config.artifacts.startswith("s3://")
    if config.target != "aws" and not s3 and not shared_ledger(config):
        return []
    title = "Assume this environment's AWS role (OIDC, no stored keys)"
    if store_only:
        reach = [
            what
            for what, used in (
                ("the artifact bucket", s3),
                ("the ledger table", shared_ledger(config)),
            )
            if used
        ]
        title = f"Assume the build environment's role: {' and '.join(reach)} only (OIDC)"
    return [
        uses(
            pins.AWS_CREDENTIALS,
            title,
            {
                # Set AWS_ROLE_ARN as a variable of each GitHub environment: one role each.
                "role-to-assume": expr("vars.AWS_ROLE_ARN"),
                "aws-region": region,
                "role-session-name": "lambda-promote-" + expr("github.run_id"),
            },
        )
    ]


def download(name: str, path: str, *, title: str, **more: Any) -> Step:
    return uses(pins.DOWNLOAD_ARTIFACT, title, {"name": name, "path": path}, **more)


def upload(name: str, path: str, *, title: str, always: bool, missing: str) -> Step:
    with_: dict[str, Any] = {
        "name": name,
        "path": Literal(path) if "\n" in path.rstrip("\n") else path.rstrip("\n"),
        # .lambda-promote/ is a hidden folder, which upload-artifact skips unless told.
        "include-hidden-files": True,
        "if-no-files-found": missing,
    }
    if always:
        # A re-run of the job replaces what its failed attempt uploaded.
        with_["overwrite"] = True
    return uses(pins.UPLOAD_ARTIFACT, title, with_, **({"if": "always()"} if always else {}))


def release_steps(paths: Paths, *, many: bool = False) -> list[Step]:
    """Fetch the zip built in this run and check its bytes against build's digest (an S3
    store needs no step: lambda-promote fetches the object and re-hashes it itself). With
    many functions, the release manifest is checked first, then every zip it names."""
    if paths.store is None:
        return []
    title = "Download the release built in this run"
    return [download("release", paths.store, title=title), verify_release(paths.store, many=many)]


def verify_release(store: str, *, many: bool = False) -> Step:
    script = (
        'case "${DIGEST}" in *[!0-9a-f]*|"") echo "bad digest: ${DIGEST}"; exit 1;; esac\n'
        f'echo "${{DIGEST}}  {store}/${{DIGEST}}.zip" | sha256sum --check --strict\n'
    )
    if many:
        # The manifest's lines are ``NAME DIGEST``; its own hash was checked just above.
        script += (
            f'awk \'{{print $2 "  {store}/" $2 ".zip"}}\' "{store}/${{DIGEST}}.zip"'
            " | sha256sum --check --strict\n"
        )
    return {
        "name": "Check every function's zip against the release digest build reported"
        if many
        else "Check the zip's bytes against the digest build reported",
        "env": {"DIGEST": expr("needs.build.outputs.digest")},
        "run": Literal(script),
    }


def note_host() -> Step:
    return {
        "name": "Note this runner's host name (the rollback job may break its lock)",
        "id": "runner",
        "run": Literal('echo "host=$(hostname)" >> "${GITHUB_OUTPUT}"\n'),
    }


def tool(name: str, script: str, env: dict[str, Any], **more: Any) -> Step:
    """A lambda-promote step; its ``--json`` answer is kept in the run's record."""
    return {
        "name": name,
        **more,
        "env": env,
        "run": Literal(f'mkdir -p "{RUN_DIR}"\n{script}'),
    }
