"""The shape of promote.yaml (DESIGN §3) as pydantic models; loading lives in ``loader.py``.

Field names are exactly the YAML keys. Every model forbids unknown keys so a typo is an error
("did you mean …?") rather than a silently ignored setting. Secrets are never values here:
notifiers name the environment variable that holds them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, PrivateAttr

from lambda_promote.config import names

Runtime = Literal["python3.9", "python3.10", "python3.11", "python3.12", "python3.13"]
Architecture = Literal["x86_64", "arm64"]
EventName = Literal["push", "pull_request", "workflow_dispatch"]


class _Strict(BaseModel):
    # python-re: the default Rust regex engine rejects the look-ahead in ``Environment.alias``.
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, regex_engine="python-re"
    )


class Expectation(_Strict):
    """What a health check's answer must contain: ``body`` as a JSON subset, ``status`` code."""

    body: Any = None
    status: int | None = None


class Check(_Strict):
    name: str = Field(min_length=1)
    # With ``functions:``: the function this check invokes; unset, it runs against each
    # function of the release (DESIGN §11.4).
    function: str | None = None
    payload: Any = Field(default_factory=dict)
    expect: Expectation = Field(default_factory=Expectation)
    max_latency_ms: PositiveInt = 3000


class Approval(_Strict):
    provider: Literal["builtin", "github"] = "builtin"
    reviewers: list[str] = Field(min_length=1)
    min_approvals: PositiveInt = 1
    prevent_self_review: bool = True
    wait_timer_minutes: NonNegativeInt = 0
    expires_after_hours: PositiveInt = 72


class FunctionOverrides(_Strict):
    """One function's configuration in one environment (``environments.ENV.functions.NAME``),
    over that function's own and the environment's (``variables`` merge)."""

    memory_mb: PositiveInt | None = None
    timeout_seconds: PositiveInt | None = None
    ephemeral_storage_mb: PositiveInt | None = None
    layers: list[str] | None = None
    variables: dict[str, str] | None = None


class Hooks(_Strict):
    """Functions invoked around a traffic shift (DESIGN §11.5); each must answer without error
    and, when it answers an object, with ``{"ok": true}``."""

    before_traffic: str | None = Field(default=None, min_length=1, max_length=140)
    after_traffic: str | None = Field(default=None, min_length=1, max_length=140)


class Environment(_Strict):
    # The single-function form names its Lambda function here; with ``functions:`` each
    # function is named in ``function_names`` (crosscheck/functions rules say which).
    function_name: str | None = Field(default=None, min_length=1, max_length=140)
    function_names: dict[str, str] | None = None
    functions: dict[str, FunctionOverrides] | None = None
    alias: str = Field(default="live", pattern=r"^(?!^[0-9]+$)[a-zA-Z0-9-_]{1,128}$")
    region: str = "us-east-1"
    profile: str | None = None
    role_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/.+$")
    promote_from: str | None = None
    branches: list[str] = Field(default_factory=list)
    approval: Approval | None = None
    checks: list[Check] = Field(default_factory=list)
    bake_seconds: NonNegativeInt = 0
    alarms: list[str] = Field(default_factory=list)
    # How traffic moves to a new version (traffic.py parses it; crosscheck reports it).
    traffic: str = "all-at-once"
    hooks: Hooks = Field(default_factory=Hooks)
    # The function's configuration for this environment only: overrides ``function:``'s
    # (``variables`` merge). Lambda's limits are checked in crosscheck.py, with its words.
    memory_mb: PositiveInt | None = None
    timeout_seconds: PositiveInt | None = None
    ephemeral_storage_mb: PositiveInt | None = None
    layers: list[str] | None = None
    variables: dict[str, str] | None = None


class Function(_Strict):
    source: str = "src"
    handler: str = Field(default="app.handler", pattern=r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")
    runtime: Runtime = "python3.12"
    architecture: Architecture = "x86_64"
    requirements: str | None = None
    exclude: list[str] = Field(default_factory=list)
    # The release's configuration (DESIGN §11.3): applied with the code, recorded with it.
    # A key set nowhere is left as the function has it.
    memory_mb: PositiveInt | None = None
    timeout_seconds: PositiveInt | None = None
    ephemeral_storage_mb: PositiveInt | None = None
    layers: list[str] | None = None
    variables: dict[str, str] | None = None


class Trigger(_Strict):
    event: EventName
    branches: list[str] = Field(default_factory=list)
    deploy: list[str] = Field(min_length=1)


class SlackNotifier(_Strict):
    webhook_url_env: str = "SLACK_WEBHOOK_URL"
    events: list[str] | None = None


class EmailNotifier(_Strict):
    smtp_host: str
    port: PositiveInt = 587
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    starttls: bool = True
    username_env: str | None = None
    password_env: str | None = None
    events: list[str] | None = None


class WebhookNotifier(_Strict):
    url_env: str
    secret_env: str | None = None
    events: list[str] | None = None


class Notifications(_Strict):
    slack: SlackNotifier | None = None
    email: EmailNotifier | None = None
    webhook: WebhookNotifier | None = None


class GitHubSettings(_Strict):
    """How the generated workflow installs lambda-promote (docs/STAGING_TO_PRODUCTION_WORKFLOW.md
    §2): a released version from the package index, or a git URL at a full commit SHA."""

    tool: str | None = Field(
        default=None,
        pattern=r"^([0-9]+(\.[0-9]+)*([a-z0-9.+-]*)|git\+https://[^\s@]+@[0-9a-f]{40})$",
    )
    extras: list[Literal["aws", "postgres"]] = Field(default_factory=list)


class Oidc(_Strict):
    """The OpenID Connect issuer that proves who decides in ``serve`` (DESIGN §11.7)."""

    issuer: str = Field(pattern=r"^https?://[^\s]+$")
    client_id: str = Field(min_length=1)
    client_secret_env: str | None = None  # a public client with PKCE needs none
    username_claim: str = Field(default="preferred_username", min_length=1)


class Server(_Strict):
    """``lambda-promote serve`` (DESIGN §11.7): the dashboard, read-only without ``oidc``."""

    base_url: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://[^\s]+$")
    session_secret_env: str = "LAMBDA_PROMOTE_SESSION_SECRET"
    require_login: bool = False
    oidc: Oidc | None = None


class Config(_Strict):
    project: str = Field(min_length=1)
    target: Literal["aws", "local"] = "aws"
    state: str = "sqlite:///.lambda-promote/state.db"
    artifacts: str = ".lambda-promote/artifacts"
    function: Function = Field(default_factory=Function)
    # The many-function form (DESIGN §11.4), instead of ``function:``.
    functions: dict[str, Function] | None = None
    environments: dict[str, Environment] = Field(min_length=1)
    triggers: list[Trigger] = Field(default_factory=list)
    notifications: Notifications = Field(default_factory=Notifications)
    github: GitHubSettings = Field(default_factory=GitHubSettings)
    server: Server = Field(default_factory=Server)

    # Where the file was read from (set by the loader); relative paths are relative to ``root``.
    _path: Path = PrivateAttr(default=Path("promote.yaml"))
    # sha256 of the bytes the loader validated; None for a config built in code.
    _file_sha256: str | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def root(self) -> Path:
        return self._path.parent

    @property
    def file_sha256(self) -> str | None:
        return self._file_sha256

    def located_at(self, path: Path, *, file_sha256: str | None = None) -> Config:
        """This config, remembering the file it came from (and the digest of its bytes)."""
        self._path = path
        self._file_sha256 = file_sha256
        return self

    @property
    def release_functions(self) -> dict[str, Function]:
        """The functions of a release by name (``function:`` is one named SINGLE)."""
        return names.release_functions(self)

    @property
    def many(self) -> bool:
        """Whether a release holds more than one function (the release manifest path)."""
        return len(self.release_functions) > 1

    def lambda_name(self, env: str, function: str = "") -> str:
        """The Lambda function that ``function`` of the release is in ``env``."""
        return names.lambda_name(self, env, function)

    def environment(self, name: str) -> Environment:
        """The named environment; callers validate the name first (see ``loader.require_env``)."""
        return self.environments[name]
