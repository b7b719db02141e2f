"""The seed's job graph read off promote.yaml, as pure data: which jobs exist, which GitHub
environments they use, what each waits for, and the condition under which each runs.

Each environment of promote.yaml becomes a *stage*, in promotion order:

    deploy-<env>                  environment <env>            waits for build, or for the
                                                               stage it promotes from
    request-<env>-approval        environment <env>-approval   only with ``approval:``;
                                                               deploy-<env> waits for it
    rollback-<env>                environment <env>-rollback   after deploy-<env> failed or
                                                               was cancelled

With staging → production (approval) that is exactly the seed: build → deploy-staging →
request-production-approval → deploy-production, with rollback-staging and rollback-production.
A stage runs when a trigger deploys it *or any stage promoted from it*: production only takes
an artifact that succeeded in staging within the same ledger, so staging always runs first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lambda_promote.config.schema import Config, Environment, Trigger
from lambda_promote.errors import UsageError
from lambda_promote.triggers import promotion_order

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_GLOB = re.compile(r"[*?\[\]!+]")
BUILD_ENVIRONMENT = "build"  # the build job's: its secrets, and its role for an S3 store
FORK_GUARD = "github.event.pull_request.head.repo.full_name == github.repository"


@dataclass(frozen=True)
class Stage:
    env: str
    spec: Environment

    @property
    def deploy_job(self) -> str:
        return f"deploy-{self.env}"

    @property
    def approval_job(self) -> str | None:
        return f"request-{self.env}-approval" if self.spec.approval else None

    @property
    def rollback_job(self) -> str:
        return f"rollback-{self.env}"

    @property
    def approval_environment(self) -> str:
        return f"{self.env}-approval"

    @property
    def rollback_environment(self) -> str:
        return f"{self.env}-rollback"

    @property
    def extra_approval_jobs(self) -> tuple[str, ...]:
        """With ``provider: github`` and ``min_approvals: N``, GitHub asks one reviewer per
        protected job: N-1 jobs before ``deploy-<env>`` give N distinct people their say."""
        rule = self.spec.approval
        if rule is None or rule.provider != "github":
            return ()
        return tuple(f"approve-{self.env}-{k}" for k in range(2, rule.min_approvals + 1))

    @property
    def github_approvals(self) -> bool:
        """The deploy job reads the run's GitHub approvals (``approval.provider: github``)."""
        return self.spec.approval is not None and self.spec.approval.provider == "github"


@dataclass(frozen=True)
class Pipeline:
    config: Config
    stages: tuple[Stage, ...]

    def stage(self, env: str) -> Stage:
        return next(s for s in self.stages if s.env == env)

    @property
    def env_names(self) -> tuple[str, ...]:
        return tuple(s.env for s in self.stages)

    def downstream(self, env: str) -> tuple[str, ...]:
        """``env`` and every environment promoted from it, directly or not, in order."""
        found = {env}
        for stage in self.stages:
            if stage.spec.promote_from in found:
                found.add(stage.env)
        return tuple(s.env for s in self.stages if s.env in found)

    def waits_for(self, stage: Stage) -> str:
        """The job ``stage``'s first job waits for: build, or the source's deploy job."""
        source = stage.spec.promote_from
        return "build" if source is None else self.stage(source).deploy_job

    def previous_job(self, stage: Stage) -> str:
        """The job whose ledger ``deploy-<env>`` continues from."""
        return stage.approval_job or self.waits_for(stage)

    def deploy_waits_for(self, stage: Stage) -> str:
        """The job ``deploy-<env>`` waits for: the last extra approval, else the ledger's job."""
        extra = stage.extra_approval_jobs
        return extra[-1] if extra else self.previous_job(stage)

    def github_environments(self) -> list[str]:
        """Every GitHub environment the workflow uses, in promotion order."""
        names: list[str] = [BUILD_ENVIRONMENT]
        for stage in self.stages:
            if stage.approval_job:
                names.append(stage.approval_environment)
            names += [stage.env, stage.rollback_environment]
        return names


def pipeline(config: Config) -> Pipeline:
    """The stages of ``config`` in promotion order; ``UsageError`` for a name GitHub refuses."""
    for name in config.environments:
        if name == BUILD_ENVIRONMENT:
            raise UsageError(
                f"environment name {name!r} is the GitHub environment of the build job",
                hint="give the environment another name in promote.yaml",
            )
        if not _NAME.match(name):
            raise UsageError(
                f"environment name {name!r} cannot name GitHub jobs and environments",
                hint="use letters, digits, '-' and '_', starting with a letter",
            )
    order = promotion_order({n: e.promote_from for n, e in config.environments.items()})
    return Pipeline(config, tuple(Stage(n, config.environments[n]) for n in order))


# --- when a stage runs ---------------------------------------------------------------------------
def deploy_condition(pipe: Pipeline, env: str) -> tuple[str, ...]:
    """The clauses (joined by ``||``) under which ``env``'s jobs run, one per event kind."""
    wanted = set(pipe.downstream(env))
    clauses: list[str] = []
    for event, ref, prefix in (
        ("push", "github.ref", "refs/heads/"),
        ("pull_request", "github.base_ref", ""),
    ):
        chosen = [t for t in pipe.config.triggers if t.event == event and wanted & set(t.deploy)]
        if not chosen:
            continue
        parts = [f"github.event_name == '{event}'"]
        test = _ref_test(_patterns(chosen), ref=ref, prefix=prefix)
        if test:
            parts.append(test)
        if event == "pull_request":
            # Pull requests from forks get no secrets and no OIDC token: never try to deploy.
            parts.append(FORK_GUARD)
        clauses.append("(" + " && ".join(parts) + ")")
    choices = " || ".join(f"inputs.environment == '{e}'" for e in pipe.downstream(env))
    clauses.append(
        f"(github.event_name == 'workflow_dispatch' && inputs.action == 'deploy' && ({choices}))"
    )
    return tuple(clauses)


def _patterns(triggers: Sequence[Trigger]) -> list[str] | None:
    """The branch patterns of ``triggers``; None when one of them takes any branch."""
    patterns: list[str] = []
    for trigger in triggers:
        if not trigger.branches:
            return None
        patterns += [p for p in trigger.branches if p not in patterns]
    return patterns


def _ref_test(patterns: list[str] | None, *, ref: str, prefix: str) -> str:
    if patterns is None or any(p in ("*", "**") for p in patterns):
        return f"startsWith({ref}, 'refs/heads/')" if prefix else ""
    tests = [_one_ref_test(p, ref=ref, prefix=prefix) for p in patterns]
    return tests[0] if len(tests) == 1 else "(" + " || ".join(tests) + ")"


def _one_ref_test(pattern: str, *, ref: str, prefix: str) -> str:
    if not _GLOB.search(pattern):
        return f"{ref} == '{prefix}{pattern}'"
    stem = pattern.rstrip("*")
    if not _GLOB.search(stem) and stem.endswith("/"):
        # release/* or release/**: GitHub's own filter under `on:` already applied the exact
        # glob; here the prefix only tells this trigger's branches from the others'.
        return f"startsWith({ref}, '{prefix}{stem}')"
    raise UsageError(
        f"trigger branch pattern {pattern!r} cannot be turned into a workflow condition",
        hint="use exact branch names or a 'prefix/*' pattern in promote.yaml's triggers",
    )


def push_branches(triggers: Iterable[Trigger], event: str) -> list[str] | None:
    """The ``on.<event>.branches`` filter; ``["**"]`` when a trigger takes any branch; None
    when no trigger listens to ``event``."""
    chosen = [t for t in triggers if t.event == event]
    if not chosen:
        return None
    patterns = _patterns(chosen)
    return ["**"] if patterns is None else patterns
