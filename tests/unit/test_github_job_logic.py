"""The generated workflow's *logic* under GitHub's rules (tests/github_sim.py): which jobs run,
are skipped or cancelled for quick pushes, a failed deploy, a cancelled run and a manual
rollback — evaluated over the example project's committed workflow, not only linted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from github_sim import Expression, GitHubModel, Run

EXAMPLE = Path(__file__).parents[2] / "examples" / "orders-api" / ".github" / "workflows"


def workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((EXAMPLE / "promote.yml").read_text())
    return data


def results(run: Run) -> dict[str, str | None]:
    return {name: job.result for name, job in run.jobs.items()}


def push_to_develop(github: GitHubModel) -> Run:
    run = github.trigger("push", branch="develop")
    github.finish(run, "build")
    return run


def test_the_expression_subset_reads_as_github_does() -> None:
    values = {"a": "Main", "b": "", "c": "x"}

    def value(text: str) -> Any:
        return Expression(text, values.__getitem__, lambda f, *a: f == "always").value()

    assert value("a == 'main'") is True  # strings compare case-insensitively
    assert value("b != '' || c == 'x'") is True
    assert value("!(a == 'main') && always()") is False
    assert value("(b == '' && always()) && !(c != 'x')") is True


def test_three_quick_pushes_deploy_the_newest_and_skip_only_the_superseded_middle() -> None:
    github = GitHubModel(workflow())
    first, second, third = (push_to_develop(github) for _ in range(3))
    assert (first.id, "deploy-staging") in github.running()
    # GitHub keeps one pending job per group: the newest run's deploy replaced the middle one.
    assert second.jobs["deploy-staging"].result == "cancelled"
    assert third.jobs["deploy-staging"].state == "pending"
    # The middle deploy never ran: its rollback job has nothing to resolve and does not run,
    # so it cannot queue anywhere and push the newest deploy out.
    assert second.jobs["rollback-staging"].result == "skipped"
    github.finish(first, "deploy-staging")
    assert (third.id, "deploy-staging") in github.running()
    github.finish(third, "deploy-staging")
    assert third.jobs["deploy-staging"].result == "success"
    assert results(first)["rollback-staging"] == results(third)["rollback-staging"] == "skipped"


def test_before_the_fix_the_middle_runs_rollback_pushed_the_newest_deploy_out() -> None:
    # The workflow as it was generated before #11.9: rollback jobs in the deploy group, and
    # run on any cancellation. The model reproduces the reported bug.
    old = workflow()
    for env in ("staging", "production"):
        job = old["jobs"][f"rollback-{env}"]
        job["concurrency"] = {"group": f"promote-{env}", "cancel-in-progress": False}
        result = f"needs.deploy-{env}.result"
        job["if"] = f"always() && ({result} == 'failure' || {result} == 'cancelled')"
    github = GitHubModel(old)
    *_, third = (push_to_develop(github) for _ in range(3))
    assert "run 3 deploy-staging cancels pending run 2 deploy-staging" in github.log
    assert "run 2 rollback-staging cancels pending run 3 deploy-staging" in github.log
    assert third.jobs["deploy-staging"].result == "cancelled"  # the newest commit never deploys


def test_a_failed_deploy_runs_its_rollback_job_and_nothing_downstream() -> None:
    github = GitHubModel(workflow())
    run = github.trigger("push", branch="main")
    github.finish(run, "build")
    github.finish(run, "deploy-staging", "failure")
    assert (run.id, "rollback-staging") in github.running()
    github.finish(run, "rollback-staging")
    assert results(run) == {
        "build": "success",
        "deploy-staging": "failure",
        "rollback-staging": "success",
        "request-production-approval": "skipped",
        "deploy-production": "skipped",
        "rollback-production": "skipped",
        "manual-rollback": "skipped",
    }


def test_a_run_cancelled_mid_deploy_runs_the_rollback_job() -> None:
    github = GitHubModel(workflow())
    run = github.trigger("push", branch="main")
    github.finish(run, "build")
    github.finish(run, "deploy-staging")
    github.finish(run, "request-production-approval")
    assert (run.id, "deploy-production") in github.running()
    github.cancel(run)
    assert run.jobs["deploy-production"].result == "cancelled"
    assert (run.id, "rollback-production") in github.running()
    assert run.jobs["rollback-staging"].result == "skipped"


def test_the_release_runs_the_whole_graph_with_one_decision_at_deploy_production() -> None:
    github = GitHubModel(workflow())
    run = github.trigger("push", branch="main")
    for job in ("build", "deploy-staging", "request-production-approval", "deploy-production"):
        github.finish(run, job)
    spec = workflow()["jobs"]
    # The request and its evidence exist before the only job whose environment has reviewers.
    assert spec["request-production-approval"]["environment"] == {
        "name": "production-approval",
        "deployment": False,
    }
    assert spec["deploy-production"]["needs"] == ["build", "request-production-approval"]
    assert [r for r in results(run).values() if r == "success"] == ["success"] * 4


@pytest.mark.parametrize("env", ["staging", "production"])
def test_a_manual_rollback_is_never_pushed_out_by_deploys(env: str) -> None:
    github = GitHubModel(workflow())
    busy = push_to_develop(github)  # staging is busy deploying
    github.finish(busy, "deploy-staging") if env == "production" else None
    manual = github.trigger("workflow_dispatch", action="rollback", environment=env, reason="x")
    later = [push_to_develop(github) for _ in range(2)]
    assert (manual.id, "manual-rollback") in github.running()
    assert results(manual) == {
        **dict.fromkeys(manual.jobs, "skipped"),
        "manual-rollback": None,
    }
    assert all(r.jobs["manual-rollback"].result == "skipped" for r in later)


def test_two_manual_rollbacks_of_one_environment_wait_for_each_other() -> None:
    github = GitHubModel(workflow())
    one, two = (
        github.trigger("workflow_dispatch", action="rollback", environment="production", reason=r)
        for r in ("a", "b")
    )
    assert (one.id, "manual-rollback") in github.running()
    assert two.jobs["manual-rollback"].state == "pending"
    github.finish(one, "manual-rollback")
    assert (two.id, "manual-rollback") in github.running()


def test_a_dispatch_to_production_deploys_staging_first() -> None:
    github = GitHubModel(workflow())
    run = github.trigger("workflow_dispatch", action="deploy", environment="production", reason="")
    for job in ("build", "deploy-staging", "request-production-approval", "deploy-production"):
        github.finish(run, job)
    assert results(run)["manual-rollback"] == "skipped"
    assert results(run)["deploy-production"] == "success"


def test_a_pull_request_from_a_fork_only_builds() -> None:
    github = GitHubModel(workflow())
    ours = github.trigger("pull_request", branch="main")
    fork = github.trigger("pull_request", branch="main", head_repo="mallory/orders-api")
    github.finish(ours, "build")
    github.finish(fork, "build")
    assert (ours.id, "deploy-staging") in github.running()
    assert fork.jobs["deploy-staging"].result == "skipped"
    assert fork.jobs["build"].result == "success"
