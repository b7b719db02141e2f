"""The jobs of the generated workflow (DESIGN §10), one builder per kind, as data.

Every job gets only the permissions it uses, each with a comment saying why; the jobs that
touch an environment share a concurrency group per environment that never cancels a running
deployment. The ledger travels from job to job as a workflow artifact (``state-<job>``),
uploaded even when the job fails, so the next job — or the rollback job — sees what happened.
"""

from __future__ import annotations

from typing import Any

from lambda_promote.github import steps
from lambda_promote.github.pipeline import Pipeline, Stage, deploy_condition
from lambda_promote.github.steps import RUN_DIR, Paths, expr
from lambda_promote.github.yamlout import Folded, Note

RUNNER = "ubuntu-24.04"
Job = dict[str, Any]

_CONTENTS = Note("read", trailing="check out promote.yaml and the code")
_ID_TOKEN = Note("write", trailing="ask GitHub for an OIDC token to assume the AWS role")
_ACTIONS = Note("read", trailing="read this run's approvals (lambda-promote github approvals)")


def permissions(pipe: Pipeline, *, aws: bool, actions: bool = False) -> dict[str, Any]:
    granted: dict[str, Any] = {"contents": _CONTENTS}
    if actions:
        granted["actions"] = _ACTIONS
    if aws and pipe.config.target == "aws":
        granted["id-token"] = _ID_TOKEN
    return granted


def concurrency(group: str, *, cancel: bool = False, why: str = "") -> dict[str, Any]:
    return {
        "group": group,
        "cancel-in-progress": Note(cancel, trailing=why or "never stop a deployment half-way"),
    }


def _common(pipe: Pipeline, *, region: str | None, full_history: bool = False) -> list[Any]:
    out: list[Any] = [steps.checkout(full_history=full_history), *steps.setup_python(pipe.config)]
    if region is not None:
        out += steps.aws_credentials(pipe.config, region)
    return out


def _state_upload(paths: Paths, job: str) -> dict[str, Any]:
    return steps.upload(
        f"state-{job}",
        paths.state_upload,
        title="Upload this job's ledger and reports (also when it failed)",
        always=True,
        missing="warn",
    )


def _state_download(paths: Paths, job: str, **more: Any) -> dict[str, Any]:
    return steps.download(
        f"state-{job}",
        paths.state_download,
        title=f"Download the run's ledger as {job} left it",
        **more,
    )


def _condition(pipe: Pipeline, env: str) -> Folded:
    clauses = deploy_condition(pipe, env)
    return Folded((clauses[0], *(f"|| {c}" for c in clauses[1:])))


# --- build -------------------------------------------------------------------------------------
def build_job(pipe: Pipeline, paths: Paths) -> Job:
    config = pipe.config
    script = (
        f"lambda-promote build --json | tee {RUN_DIR}/build.json\n"
        'digest="$(python -c \'import json, sys; print(json.load(sys.stdin)["artifact"]'
        f'["digest"])\' < {RUN_DIR}/build.json)"\n'
        'echo "digest=${digest}" >> "${GITHUB_OUTPUT}"\n'
    )
    return {
        "name": "Build the release once",
        "if": "github.event_name != 'workflow_dispatch' || inputs.action == 'deploy'",
        "runs-on": RUNNER,
        "timeout-minutes": 30,
        "concurrency": concurrency(
            "promote-build-" + expr("github.ref"), why="builds of one ref queue up"
        ),
        "permissions": permissions(pipe, aws=False),
        "outputs": {"digest": expr("steps.build.outputs.digest")},
        "steps": [
            *_common(pipe, region=None),
            steps.tool(
                "Build the zip (same inputs, same digest)",
                script,
                steps.tool_env(config, notify=False),
                id="build",
            ),
            *_release_upload(paths),
            _state_upload(paths, "build"),
        ],
    }


def _release_upload(paths: Paths) -> list[dict[str, Any]]:
    return [
        steps.upload(
            "release",
            paths.store,
            title="Upload the zip and its manifest for every later job",
            always=False,
            missing="error",
        )
    ]


# --- deploy and approval -------------------------------------------------------------------------
def approval_job(pipe: Pipeline, stage: Stage, paths: Paths) -> Job:
    job = str(stage.approval_job)
    previous = pipe.waits_for(stage)
    script = (
        f'lambda-promote request-approval {stage.env} --artifact "${{DIGEST}}" --json'
        f" | tee {RUN_DIR}/{job}.json\n"
    )
    return {
        "name": f"Approve the promotion to {stage.env}",
        "needs": sorted({"build", previous}),
        "if": _condition(pipe, stage.env),
        "runs-on": RUNNER,
        "timeout-minutes": 15,
        "environment": Note(
            stage.approval_environment,
            trailing="its required reviewers (and wait timer) hold this job",
        ),
        "concurrency": concurrency(
            f"promote-{stage.approval_environment}",
            cancel=True,
            why="a newer release replaces one still waiting for approval",
        ),
        "permissions": permissions(pipe, aws=True),
        "steps": [
            *_common(pipe, region=stage.spec.region, full_history=True),
            _state_download(paths, previous),
            *steps.release_steps(paths),
            steps.tool(
                f"Open the approval request for {stage.env}, with the evidence reviewers need",
                script,
                steps.tool_env(pipe.config, notify=True, DIGEST=expr("needs.build.outputs.digest")),
            ),
            _state_upload(paths, job),
        ],
    }


def deploy_job(pipe: Pipeline, stage: Stage, paths: Paths) -> Job:
    previous = pipe.previous_job(stage)
    job_steps: list[Any] = [
        *_common(pipe, region=stage.spec.region),
        _state_download(paths, previous),
        *steps.release_steps(paths),
        steps.note_host(),
    ]
    if stage.github_approvals:
        job_steps.append(_record_approvals(pipe, stage))
    script = (
        f'lambda-promote deploy {stage.env} --artifact "${{DIGEST}}" --json'
        f" | tee {RUN_DIR}/{stage.deploy_job}.json\n"
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
        _state_upload(paths, stage.deploy_job),
    ]
    return {
        "name": f"Deploy to {stage.env}",
        "needs": sorted({"build", previous}),
        "if": _condition(pipe, stage.env),
        "runs-on": RUNNER,
        "timeout-minutes": 30 + stage.spec.bake_seconds // 60,
        "environment": stage.env,
        "concurrency": concurrency(f"promote-{stage.env}"),
        "permissions": permissions(pipe, aws=True, actions=stage.github_approvals),
        "outputs": {"host": expr("steps.runner.outputs.host")},
        "steps": job_steps,
    }


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


# --- rollback ------------------------------------------------------------------------------------
def rollback_job(pipe: Pipeline, stage: Stage, paths: Paths) -> Job:
    deploy = stage.deploy_job
    result = f"needs.{deploy}.result"
    script = (
        f'lambda-promote github resolve {stage.env} --dead-host "${{DEAD_HOST}}"'
        f' --reason "{deploy} ended with ${{RESULT}} in run ${{RUN_ID}}" --json'
        f" | tee {RUN_DIR}/{stage.rollback_job}.json\n"
    )
    return {
        "name": f"Roll back what a failed or cancelled {deploy} left",
        "needs": [deploy],
        # always(): also after the run was cancelled, which is when a deploy is cut short.
        "if": f"always() && ({result} == 'failure' || {result} == 'cancelled')",
        "runs-on": RUNNER,
        "timeout-minutes": 30,
        "environment": stage.rollback_environment,
        "concurrency": concurrency(f"promote-{stage.env}"),
        "permissions": permissions(pipe, aws=True),
        "steps": [
            *_common(pipe, region=stage.spec.region),
            _state_download(paths, deploy, id="state", **{"continue-on-error": True}),
            _state_download(
                paths, pipe.previous_job(stage), **{"if": "steps.state.outcome == 'failure'"}
            ),
            steps.tool(
                f"Resolve {stage.env}: finish an interrupted deployment or rollback, nothing more",
                script,
                steps.tool_env(
                    pipe.config,
                    notify=True,
                    RESULT=expr(result),
                    DEAD_HOST=expr(f"needs.{deploy}.outputs.host"),
                    RUN_ID=expr("github.run_id"),
                ),
            ),
            _state_upload(paths, stage.rollback_job),
        ],
    }


def manual_rollback_job(pipe: Pipeline, paths: Paths) -> Job:
    regions = {s.env: s.spec.region for s in pipe.stages}
    if len(set(regions.values())) == 1:
        region = next(iter(regions.values()))
    else:
        pairs = ", ".join(f'"{env}": "{region}"' for env, region in regions.items())
        region = expr(f"fromJSON('{{{pairs}}}')[inputs.environment]")
    script = (
        'set -- rollback "${ENVIRONMENT}" --reason "${REASON}" --json\n'
        'if [ -n "${TO}" ]; then set -- "$@" --to "${TO}"; fi\n'
        f'lambda-promote "$@" | tee {RUN_DIR}/manual-rollback.json\n'
    )
    return {
        "name": "Roll back an environment by hand",
        "if": "github.event_name == 'workflow_dispatch' && inputs.action == 'rollback'",
        "runs-on": RUNNER,
        "timeout-minutes": 30,
        "environment": expr("inputs.environment") + "-rollback",
        "concurrency": concurrency("promote-" + expr("inputs.environment")),
        "permissions": permissions(pipe, aws=True),
        "steps": [
            *_common(pipe, region=region),
            steps.tool(
                "Roll back to the last good version (or the one asked for), verified",
                script,
                steps.tool_env(
                    pipe.config,
                    notify=True,
                    ENVIRONMENT=expr("inputs.environment"),
                    TO=expr("inputs.to"),
                    REASON=expr("inputs.reason"),
                ),
            ),
            _state_upload(paths, "manual-rollback"),
        ],
    }
