"""The generated workflow's part in progressive traffic (DESIGN §11.5): deploy jobs long
enough for their shift, and ``abort`` / ``finish`` as ``workflow_dispatch`` actions.

A deploy job's ``timeout-minutes`` is the usual 30 plus the bakes of its shift (and its
``bake_seconds``), so GitHub never kills a shift that is on time. Cancelling the run sends the
job's process SIGINT: the deploy rolls back and verifies before it exits (exit 3).

``abort-shift`` / ``finish-shift`` run ``lambda-promote abort|finish ENV --reason …``: they
write a request into the ledger, which the running deploy (in another run) reads every second
or so. They only reach it through a shared ledger (``state:`` on PostgreSQL or DynamoDB); with
the default SQLite file, which travels inside one run, cancel the run instead. They never
enter a deploy's concurrency group (they must run *while* it runs). ``finish`` skips the
remaining bakes, so it runs in the environment itself (its reviewers decide); ``abort`` only
makes things safer and runs in ``<env>-rollback``, like a manual rollback.
"""

from __future__ import annotations

from lambda_promote.github import steps
from lambda_promote.github.jobs import RUNNER, Job, common, concurrency, permissions
from lambda_promote.github.jobs_rollback import dispatch_region
from lambda_promote.github.pipeline import Pipeline
from lambda_promote.github.steps import RUN_DIR, expr
from lambda_promote.traffic import TrafficError, parse_traffic

CONTROL_ACTIONS = ("abort", "finish")


def shifts(pipe: Pipeline) -> bool:
    """Whether any environment shifts its traffic progressively."""
    return any(_progressive(stage.spec.traffic) for stage in pipe.stages)


def _progressive(traffic: str) -> bool:
    try:
        return parse_traffic(traffic).progressive
    except TrafficError:  # refused when promote.yaml was loaded
        return False


def control_job(pipe: Pipeline, action: str) -> Job:
    environment = expr("inputs.environment") + ("" if action == "finish" else "-rollback")
    script = (
        f'lambda-promote {action} "${{ENVIRONMENT}}" --reason "${{REASON}}" --json'
        f" | tee {RUN_DIR}/{action}-shift.json\n"
    )
    what = "skip the remaining bakes of" if action == "finish" else "stop and roll back"
    return {
        "name": f"{action.capitalize()} a running traffic shift",
        "if": f"github.event_name == 'workflow_dispatch' && inputs.action == '{action}'",
        "runs-on": RUNNER,
        "timeout-minutes": 5,
        "environment": environment,
        "concurrency": concurrency(
            f"promote-{expr('inputs.environment')}-{action}",
            why="never the deploy's group: this must run while the deploy runs",
        ),
        "permissions": permissions(pipe, aws=True),
        "steps": [
            *common(pipe, region=dispatch_region(pipe)),
            steps.tool(
                f"Ask the running deploy to {what} its shift (read within a second or two)",
                script,
                steps.tool_env(
                    pipe.config,
                    notify=False,
                    ENVIRONMENT=expr("inputs.environment"),
                    REASON=expr("inputs.reason"),
                ),
            ),
        ],
    }
