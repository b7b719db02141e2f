"""``lambda-promote github environments``: plan → apply → read back the GitHub environments
the generated workflow uses (DESIGN §10), through the REST API (``api.py``).

    plan      what each environment should enforce, from promote.yaml (pure), and the exact
              API calls that would make it so (what ``--dry-run`` prints, no token needed)
    apply     resolve reviewers to ids, PUT each environment, sync its branch policies
    read back GET each environment and report what GitHub *actually* enforces

Private repositories on some plans have environments without protection rules: GitHub then
answers 422, or accepts the call and drops the rule. Both are caught, and the report says to
use lambda-promote's own gate (``approval.provider: builtin``) instead.

Which protections go where (``approval.provider: github``): ``<env>`` gets the reviewers,
self-review rule and wait timer — reviewers decide once, at ``deploy-<env>``, after the
request job put the evidence in the run's summary (and the reviewers guard the environment's
AWS role even from a workflow edited on a branch); ``<env>-approval`` holds the request job's
read-only role and secrets and gets no reviewers, so the request and its evidence exist before
anyone is asked; both get the deployment branch policy from ``branches``; ``<env>-rollback``
only the branch policy, so an emergency rollback never waits for a person. With ``provider:
builtin`` no GitHub reviewers are set: lambda-promote's gate decides. ``build`` (the build
job's secrets, and its role for an S3 artifact store) is created here only with an S3 store;
otherwise GitHub creates it on the first run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from lambda_promote.config.schema import Config, Environment
from lambda_promote.github.api import GitHubApi, split_repo
from lambda_promote.github.pipeline import BUILD_ENVIRONMENT, pipeline

BUILTIN_HINT = (
    "GitHub does not enforce required reviewers here (private repositories need a paid plan "
    "for them). Use lambda-promote's own gate instead: set `approval.provider: builtin` in "
    "promote.yaml, point `state` at a shared ledger — a DynamoDB table "
    "(dynamodb://TABLE?region=REGION, then `lambda-promote state init`) or PostgreSQL (the "
    "LAMBDA_PROMOTE_STATE secret) — and let reviewers run `lambda-promote approve`"
)
_BRANCH_POLICY = "deployment branch policy"


@dataclass(frozen=True)
class EnvironmentSpec:
    """What one GitHub environment should enforce."""

    name: str
    purpose: str
    reviewers: tuple[str, ...] = ()  # GitHub logins, or org/team-slug
    prevent_self_review: bool = False
    wait_timer: int = 0
    branches: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiCall:
    method: str
    path: str
    body: Any = None
    note: str = ""

    def line(self) -> str:
        import json

        text = f"{self.method} {self.path}"
        if self.body is not None:
            text += " " + json.dumps(self.body, sort_keys=True)
        return text + (f"  # {self.note}" if self.note else "")


@dataclass
class Enforced:
    """What GitHub reports one environment enforces, beside what was asked for."""

    name: str
    reviewers: tuple[str, ...] = ()
    prevent_self_review: bool = False
    wait_timer: int = 0
    branches: str = "any branch"
    missing: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "reviewers": list(self.reviewers),
            "prevent_self_review": self.prevent_self_review,
            "wait_timer": self.wait_timer,
            "branches": self.branches,
            "missing": self.missing,
            "refused": self.refused,
        }


# --- plan ----------------------------------------------------------------------------------------
def desired(config: Config) -> list[EnvironmentSpec]:
    specs: list[EnvironmentSpec] = []
    if config.artifacts.startswith("s3://"):
        specs.append(EnvironmentSpec(BUILD_ENVIRONMENT, "build: the artifact bucket's role"))
    for stage in pipeline(config).stages:
        branches = tuple(stage.spec.branches)
        gate = _gate(stage.spec)
        if stage.approval_job:
            specs.append(
                EnvironmentSpec(
                    stage.approval_environment,
                    f"open the request to promote to {stage.env}",
                    branches=branches,
                )
            )
        specs.append(
            EnvironmentSpec(
                stage.env,
                f"deploy to {stage.env}",
                wait_timer=_wait(stage.spec) if gate else 0,
                branches=branches,
                **gate,
            )
        )
        specs.append(
            EnvironmentSpec(stage.rollback_environment, f"roll {stage.env} back", branches=branches)
        )
    return specs


def _gate(spec: Environment) -> dict[str, Any]:
    rule = spec.approval
    if rule is None or rule.provider != "github":
        return {}
    return {"reviewers": tuple(rule.reviewers), "prevent_self_review": rule.prevent_self_review}


def _wait(spec: Environment) -> int:
    return spec.approval.wait_timer_minutes if spec.approval else 0


def env_path(repo: str, name: str) -> str:
    owner, repo_name = split_repo(repo)
    return f"/repos/{quote(owner)}/{quote(repo_name)}/environments/{quote(name)}"


def lookup_path(reviewer: str) -> tuple[str, str]:
    """(``User``|``Team``, the GET that gives its id): ``org/team`` is a team."""
    if "/" in reviewer:
        org, _, slug = reviewer.partition("/")
        return "Team", f"/orgs/{quote(org)}/teams/{quote(slug)}"
    return "User", f"/users/{quote(reviewer)}"


def put_body(spec: EnvironmentSpec, ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "wait_timer": spec.wait_timer,
        "prevent_self_review": spec.prevent_self_review,
        "reviewers": [{"type": lookup_path(r)[0], "id": ids[r]} for r in spec.reviewers],
        "deployment_branch_policy": (
            {"protected_branches": False, "custom_branch_policies": True} if spec.branches else None
        ),
    }


def plan_calls(specs: list[EnvironmentSpec], repo: str) -> list[ApiCall]:
    """The calls ``apply`` makes, in order; reviewer ids appear as the lookup that gives them."""
    calls: list[ApiCall] = []
    reviewers = list(dict.fromkeys(r for s in specs for r in s.reviewers))
    calls += [ApiCall("GET", lookup_path(r)[1], note=f"id of {r}") for r in reviewers]
    placeholders = {r: f"<id from GET {lookup_path(r)[1]}>" for r in reviewers}
    for spec in specs:
        path = env_path(repo, spec.name)
        calls.append(ApiCall("PUT", path, put_body(spec, placeholders), note=spec.purpose))
        if spec.branches:
            policies = f"{path}/deployment-branch-policies"
            calls.append(ApiCall("GET", policies, note="the branch policies already there"))
            calls += [
                ApiCall("POST", policies, {"name": b, "type": "branch"}, note="unless present")
                for b in spec.branches
            ]
            calls.append(ApiCall("DELETE", f"{policies}/<id>", note="each policy not listed"))
        calls.append(ApiCall("GET", path, note="read back what GitHub enforces"))
    return calls


# --- apply and read back -------------------------------------------------------------------------
def apply(
    specs: list[EnvironmentSpec],
    repo: str,
    api: GitHubApi,
    *,
    progress: Callable[[str], None] = lambda _: None,
) -> list[Enforced]:
    api.require_token(why="create GitHub environments")
    ids = {r: _reviewer_id(api, r) for s in specs for r in s.reviewers}
    report = []
    for spec in specs:
        progress(f"environment {spec.name}: {spec.purpose}")
        refused = _put(api, spec, repo, ids)
        if spec.branches and not any(r.startswith(_BRANCH_POLICY) for r in refused):
            _sync_branch_policies(
                api, f"{env_path(repo, spec.name)}/deployment-branch-policies", spec
            )
        enforced = read_back(api, repo, spec)
        enforced.refused = refused
        report.append(enforced)
    return report


def _reviewer_id(api: GitHubApi, reviewer: str) -> Any:
    return api.call("GET", lookup_path(reviewer)[1]).body["id"]


def _put(api: GitHubApi, spec: EnvironmentSpec, repo: str, ids: dict[str, Any]) -> list[str]:
    """PUT the environment; on 422 drop what the plan refuses and try again. Returns what
    GitHub refused, in its words."""
    path = env_path(repo, spec.name)
    body = put_body(spec, ids)
    fallbacks = [
        ("required reviewers and wait timer", ("reviewers", "wait_timer", "prevent_self_review")),
        (_BRANCH_POLICY, ("deployment_branch_policy",)),
    ]
    refused: list[str] = []
    for what, keys in fallbacks:
        answer = api.call("PUT", path, body, accept=(422,))
        if answer.status != 422:
            return refused
        refused.append(f"{what}: {answer.message or 'HTTP 422'}")
        body = {k: v for k, v in body.items() if k not in keys}
    api.call("PUT", path, body)
    return refused


def _sync_branch_policies(api: GitHubApi, path: str, spec: EnvironmentSpec) -> None:
    existing = api.call("GET", path).body or {}
    have = {p["name"]: p["id"] for p in existing.get("branch_policies", [])}
    for branch in spec.branches:
        if branch not in have:
            api.call("POST", path, {"name": branch, "type": "branch"})
    for name, policy_id in have.items():
        if name not in spec.branches:
            api.call("DELETE", f"{path}/{policy_id}")


def read_back(api: GitHubApi, repo: str, spec: EnvironmentSpec) -> Enforced:
    body = api.call("GET", env_path(repo, spec.name)).body or {}
    enforced = Enforced(spec.name)
    for rule in body.get("protection_rules") or []:
        if rule.get("type") == "required_reviewers":
            enforced.reviewers = tuple(_reviewer_name(r) for r in rule.get("reviewers") or [])
            enforced.prevent_self_review = bool(rule.get("prevent_self_review"))
        elif rule.get("type") == "wait_timer":
            enforced.wait_timer = int(rule.get("wait_timer") or 0)
    enforced.branches = _branch_summary(api, repo, spec.name, body)
    enforced.missing = _missing(spec, enforced)
    return enforced


def _reviewer_name(entry: dict[str, Any]) -> str:
    who = entry.get("reviewer") or {}
    return str(who.get("login") or who.get("slug") or who.get("name") or who.get("id"))


def _branch_summary(api: GitHubApi, repo: str, name: str, body: dict[str, Any]) -> str:
    policy = body.get("deployment_branch_policy")
    if not policy:
        return "any branch"
    if policy.get("protected_branches"):
        return "protected branches"
    listed = api.call("GET", f"{env_path(repo, name)}/deployment-branch-policies").body or {}
    names = [p["name"] for p in listed.get("branch_policies", [])]
    return "branches " + ", ".join(names) if names else "no branch (custom policy, empty)"


def _missing(spec: EnvironmentSpec, got: Enforced) -> list[str]:
    missing = []
    if spec.reviewers and not got.reviewers:
        missing.append("required reviewers")
    if spec.prevent_self_review and got.reviewers and not got.prevent_self_review:
        missing.append("prevent self-review")
    if spec.wait_timer and got.wait_timer != spec.wait_timer:
        missing.append(f"wait timer of {spec.wait_timer} min")
    if spec.branches and not got.branches.startswith("branches"):
        missing.append("deployment branch policy " + ", ".join(spec.branches))
    return missing


def lacking_reviewers(report: list[Enforced]) -> list[str]:
    """Environments where reviewers were asked for and GitHub does not enforce them."""
    return [e.name for e in report if "required reviewers" in e.missing]
