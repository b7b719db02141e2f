"""The build, approval and deploy jobs of the generated workflow (DESIGN §10, §11.9), as data;
the rollback jobs are in ``jobs_rollback.py``.

Every job gets only the permissions it uses, each with a comment saying why. The ledger travels
from job to job as a workflow artifact (``state-<job>``), uploaded even when the job fails, so
the next job — or the rollback job — sees what happened.

Concurrency follows GitHub's queueing rule: a group holds at most one running and one pending
job, and a newly queued job *cancels the pending one* and takes its place. So only jobs that
may replace each other share a group: ``deploy-<env>`` of every run share ``promote-<env>``
(the newest release waits, an older pending one is superseded), and nothing else ever enters
it — a rollback job there would push the newest run's pending deploy out of the queue.
"""

from __future__ import annotations

from typing import Any

from lambda_promote.config.schema import Environment
from lambda_promote.github import steps
from lambda_promote.github.pipeline import (
    BUILD_ENVIRONMENT,
    FORK_GUARD,
    Pipeline,
    Stage,
    deploy_condition,
)
from lambda_promote.github.steps import RUN_DIR, Paths, expr
from lambda_promote.github.yamlout import Folded, Literal, Note
from lambda_promote.traffic import TrafficError, parse_traffic

RUNNER = "ubuntu-24.04"
Job = dict[str, Any]

_CONTENTS = Note("read", trailing="check out promote.yaml and the code")
_ID_TOKEN = Note("write", trailing="ask GitHub for an OIDC token to assume the AWS role")
_ACTIONS = Note("read", trailing="read this run's approvals (lambda-promote github approvals)")


def permissions(pipe: Pipeline, *, aws: bool, actions: bool = False) -> dict[str, Any]:
    granted: dict[str, Any] = {"contents": _CONTENTS}
    if actions:
        granted["actions"] = _ACTIONS
    if aws and uses_aws(pipe):
        granted["id-token"] = _ID_TOKEN
    return granted


def uses_aws(pipe: Pipeline) -> bool:
    config = pipe.config
    return (
        config.target == "aws"
        or config.artifacts.startswith("s3://")
        or steps.shared_ledger(config)
    )


def concurrency(group: str, *, cancel: bool = False, why: str = "") -> dict[str, Any]:
    return {
        "group": group,
        "cancel-in-progress": Note(cancel, trailing=why or "never stop a deployment half-way"),
    }


def common(
    pipe: Pipeline, *, region: str | None, full_history: bool = False, store_only: bool = False
) -> list[Any]:
    out: list[Any] = [steps.checkout(full_history=full_history), *steps.setup_python(pipe.config)]
    if region is not None:
        out += steps.aws_credentials(pipe.config, region, store_only=store_only)
    return out


def state_upload(paths: Paths, job: str) -> dict[str, Any]:
    return steps.upload(
        f"state-{job}",
        paths.state_upload,
        title="Upload this job's ledger and reports (also when it failed)",
        always=True,
        missing="warn",
    )


def state_download(paths: Paths, job: str, **more: Any) -> list[dict[str, Any]]:
    """The step that brings the run's ledger file; none for a shared (DynamoDB) ledger."""
    if paths.shared:
        return []
    return [
        steps.download(
            f"state-{job}",
            paths.state_download,
            title=f"Download the run's ledger as {job} left it",
            **more,
        )
    ]


def _condition(pipe: Pipeline, env: str) -> Folded:
    clauses = deploy_condition(pipe, env)
    return Folded((clauses[0], *(f"|| {c}" for c in clauses[1:])))


# --- build -------------------------------------------------------------------------------------
def build_job(pipe: Pipeline, paths: Paths) -> Job:
    config = pipe.config
    s3 = paths.store is None
    # Many functions (DESIGN §11.4): the release digest names the manifest of every zip.
    part = "release" if config.many else "artifact"
    # The build records the artifact: with a DynamoDB ledger it needs the table, too.
    aws = s3 or paths.shared
    script = (
        f"lambda-promote build --json | tee {RUN_DIR}/build.json\n"
        f'digest="$(python -c \'import json, sys; print(json.load(sys.stdin)["{part}"]'
        f'["digest"])\' < {RUN_DIR}/build.json)"\n'
        'echo "digest=${digest}" >> "${GITHUB_OUTPUT}"\n'
    )
    condition = "github.event_name != 'workflow_dispatch' || inputs.action == 'deploy'"
    if aws:
        # Pull requests from forks get no OIDC token, so they cannot reach AWS.
        condition = f"({condition}) && (github.event_name != 'pull_request' || {FORK_GUARD})"
    region = pipe.stages[0].spec.region if aws else None
    return {
        "name": "Build the release once",
        "if": condition,
        "runs-on": RUNNER,
        "timeout-minutes": 30,
        "environment": Note(
            {"name": BUILD_ENVIRONMENT, "deployment": False},
            trailing="its secrets"
            + (" and its role for the bucket" if s3 else "")
            + (" and the ledger table" if paths.shared and s3 else "")
            + (" and its role for the ledger table" if paths.shared and not s3 else "")
            + "; no GitHub deployment",
        ),
        "concurrency": concurrency(
            "promote-build-" + expr("github.ref"), why="builds of one ref queue up"
        ),
        "permissions": permissions(pipe, aws=aws),
        "outputs": {"digest": expr("steps.build.outputs.digest")},
        "steps": [
            *common(pipe, region=region, store_only=aws),
            steps.tool(
                "Build every function's zip and the release manifest (same inputs, same digest)"
                if config.many
                else "Build the zip (same inputs, same digest)",
                script,
                steps.tool_env(config, notify=False),
                id="build",
            ),
            *_release_upload(paths, many=config.many),
            state_upload(paths, "build"),
        ],
    }


def _release_upload(paths: Paths, *, many: bool) -> list[dict[str, Any]]:
    if paths.store is None:
        return []  # the S3 store holds it
    title = (
        "Upload every function's zip and the release manifest for every later job"
        if many
        else "Upload the zip and its manifest for every later job"
    )
    return [
        steps.upload(
            "release",
            paths.store,
            title=title,
            always=False,
            missing="error",
        )
    ]


# --- approval and deploy ---------------------------------------------------------------------
def approval_job(pipe: Pipeline, stage: Stage, paths: Paths) -> Job:
    job = str(stage.approval_job)
    previous = pipe.waits_for(stage)
    answer = f"{RUN_DIR}/{job}.json"
    script = (
        f'lambda-promote request-approval {stage.env} --artifact "${{DIGEST}}" --json'
        f" | tee {answer}\n"
        f'lambda-promote github summary {answer} >> "${{GITHUB_STEP_SUMMARY}}"\n'
    )
    return {
        "name": f"Open the request to promote to {stage.env}, with its evidence",
        "needs": sorted({"build", previous}),
        "if": _condition(pipe, stage.env),
        "runs-on": RUNNER,
        "timeout-minutes": 15,
        "environment": Note(
            {"name": stage.approval_environment, "deployment": False},
            trailing="no reviewers here: its read-only role and secrets; reviewers decide "
            f"at {stage.deploy_job}, with this evidence in front of them",
        ),
        "concurrency": concurrency(
            f"promote-{stage.approval_environment}",
            why="a newer request waits; an older pending one is superseded",
        ),
        "permissions": permissions(pipe, aws=True),
        "steps": [
            *common(pipe, region=stage.spec.region, full_history=True),
            *state_download(paths, previous),
            *steps.release_steps(paths, many=pipe.config.many),
            steps.tool(
                f"Open the approval request for {stage.env}; its evidence goes to the run's "
                "summary",
                script,
                steps.tool_env(pipe.config, notify=True, DIGEST=expr("needs.build.outputs.digest")),
            ),
            state_upload(paths, job),
        ],
    }


def extra_approval_job(pipe: Pipeline, stage: Stage, index: int) -> Job:
    """One more reviewer's decision (``min_approvals`` above 1), after the request exists."""
    jobs_before = (str(stage.approval_job), *stage.extra_approval_jobs)
    name = stage.extra_approval_jobs[index]
    return {
        "name": f"Approval {index + 2} of {len(stage.extra_approval_jobs) + 1} for {stage.env}",
        "needs": [jobs_before[index]],
        "if": _condition(pipe, stage.env),
        "runs-on": RUNNER,
        "timeout-minutes": 5,
        "environment": Note(
            {"name": stage.env, "deployment": False},
            trailing="its required reviewers hold this job: one more distinct person",
        ),
        "concurrency": concurrency(
            f"{name}-" + expr("github.run_id"), why="this run's own: it supersedes nothing"
        ),
        "permissions": {},
        "steps": [
            {
                "name": "Note the approval (the deploy job's gate counts distinct reviewers)",
                "run": Literal(f'echo "approval {index + 2} for {stage.env} given"\n'),
            }
        ],
    }


def deploy_job(pipe: Pipeline, stage: Stage, paths: Paths) -> Job:
    previous = pipe.previous_job(stage)
    job_steps: list[Any] = [
        *common(pipe, region=stage.spec.region),
        *state_download(paths, previous),
        *steps.release_steps(paths, many=pipe.config.many),
        steps.note_host(),
    ]
    if stage.github_approvals:
        job_steps.append(_record_approvals(pipe, stage))
    # tee -i: a cancelled run interrupts the whole step; tee must outlive the deploy's own
    # rollback to keep its --json answer (docs/traffic.md).
    script = (
        f'lambda-promote deploy {stage.env} --artifact "${{DIGEST}}" --json'
        f" | tee -i {RUN_DIR}/{stage.deploy_job}.json\n"
    )
    # With provider: github the deploy itself reads the run's approvals (the gate admits only
    # what they allow, and records them), so it needs the token too.
    token = {"GITHUB_TOKEN": expr("github.token")} if stage.github_approvals else {}
    job_steps += [
        steps.tool(
            f"Deploy to {stage.env}: publish, move the alias, run the checks "
            "(rolls back by itself on failure)",
            script,
            steps.tool_env(
                pipe.config, notify=True, DIGEST=expr("needs.build.outputs.digest"), **token
            ),
        ),
        state_upload(paths, stage.deploy_job),
    ]
    environment: Any = stage.env
    if stage.github_approvals:
        environment = Note(stage.env, trailing="its required reviewers decide here, once")
    return {
        "name": f"Deploy to {stage.env}",
        "needs": sorted({"build", previous, pipe.deploy_waits_for(stage)}),
        "if": _condition(pipe, stage.env),
        "runs-on": RUNNER,
        "timeout-minutes": deploy_timeout(stage.spec),
        "environment": environment,
        "concurrency": concurrency(f"promote-{stage.env}"),
        "permissions": permissions(pipe, aws=True, actions=stage.github_approvals),
        "outputs": {"host": expr("steps.runner.outputs.host")},
        "steps": job_steps,
    }


def deploy_timeout(spec: Environment) -> Any:
    """30 minutes, plus the bakes: ``bake_seconds`` and those of a progressive shift."""
    try:
        shift = parse_traffic(spec.traffic).shift_seconds()
    except TrafficError:  # refused when promote.yaml was loaded
        shift = 0
    minutes = 30 + spec.bake_seconds // 60 + -(-shift // 60)
    if not shift:
        return minutes
    return Note(minutes, trailing=f"30 + the shift's bakes ({spec.traffic})")


def _record_approvals(pipe: Pipeline, stage: Stage) -> dict[str, Any]:
    script = (
        f'lambda-promote github approvals --env {stage.env} --run-id "${{RUN_ID}}" --json'
        f" | tee {RUN_DIR}/approvals-{stage.env}.json\n"
    )
    return steps.tool(
        f"Record who approved this run for {stage.env} on GitHub",
        script,
        steps.tool_env(
            pipe.config,
            notify=False,
            GITHUB_TOKEN=expr("github.token"),
            RUN_ID=expr("github.run_id"),
        ),
    )
