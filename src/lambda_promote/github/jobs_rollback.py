"""The rollback jobs of the generated workflow (DESIGN §10, §11.9): the second line after a
deploy job that failed or was cut short, and the manual rollback by ``workflow_dispatch``.

Neither enters the deploy jobs' concurrency group ``promote-<env>``. GitHub keeps one pending
job per group and a newly queued job cancels it: a rollback job queued there would push the
newest run's pending deploy out (three quick pushes: the middle run's deploy, cancelled while
pending, would queue its rollback job and drop the newest deploy), and a deploy queued after a
pending manual rollback would drop the rollback. So:

- ``rollback-<env>`` runs only when its own deploy job *ran* and failed or was cancelled — a
  deploy cancelled while still pending left nothing to resolve (it never wrote its runner's
  host name, so ``needs.deploy-<env>.outputs.host`` is empty) — and queues in a group of its
  own run (``promote-<env>-rollback-<run id>``): the ledger lock and Lambda's revision guards
  (DESIGN §5.6) keep it from racing a live deploy, and ``github resolve`` leaves an
  environment another live deployment holds to that one.
- ``manual-rollback`` queues in ``promote-<env>-manual-rollback``: deploys never enter it, so
  no deploy can drop it; a second manual rollback for the same environment waits, and only a
  third would supersede the second (the newest decision wins, and two clicks never roll back
  two versions).
"""

from __future__ import annotations

from lambda_promote.github import steps
from lambda_promote.github.jobs import (
    RUNNER,
    Job,
    common,
    concurrency,
    permissions,
    state_download,
    state_upload,
)
from lambda_promote.github.pipeline import Pipeline, Stage
from lambda_promote.github.steps import RUN_DIR, Paths, expr


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
        "if": (
            f"always() && ({result} == 'failure' || ({result} == 'cancelled' && "
            f"needs.{deploy}.outputs.host != ''))"
        ),
        "runs-on": RUNNER,
        "timeout-minutes": 30,
        "environment": stage.rollback_environment,
        "concurrency": concurrency(
            f"promote-{stage.env}-rollback-" + expr("github.run_id"),
            why="this run's own: it never queues behind, or pushes out, another run's job",
        ),
        "permissions": permissions(pipe, aws=True),
        "steps": [
            *common(pipe, region=stage.spec.region),
            *state_download(paths, deploy, id="state", **{"continue-on-error": True}),
            *state_download(
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
            state_upload(paths, stage.rollback_job),
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
        "concurrency": concurrency(
            "promote-" + expr("inputs.environment") + "-manual-rollback",
            why="deploys never queue here, so none can push this rollback out",
        ),
        "permissions": permissions(pipe, aws=True),
        "steps": [
            *common(pipe, region=region),
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
            state_upload(paths, "manual-rollback"),
        ],
    }
