"""`lambda-promote github workflow`: promote.yaml becomes the seed's job graph, hardened as
DESIGN §10 lists. The golden files in tests/golden/workflows/ are the generator's output for
several configurations (actionlint and zizmor check them in tests/integration); regenerate
them with LAMBDA_PROMOTE_UPDATE_GOLDEN=1 after an intended change, and review the diff."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from lambda_promote.config import load_config
from lambda_promote.config.schema import Config
from lambda_promote.errors import UsageError
from lambda_promote.github import pins
from lambda_promote.github.workflow import build_workflow, render, workflow_file
from lambda_promote.github.yamlout import strip_notes

GOLDEN = Path(__file__).parent.parent / "golden" / "workflows"
EXAMPLE = Path(__file__).parents[2] / "examples" / "orders-api"

SEED = """\
project: orders-api
function: {}
state: sqlite:///.lambda-promote/state.db
environments:
  staging:
    function_name: lambda-function-staging
    checks: [{name: ping, payload: {action: ping}, expect: {body: {ok: true}}}]
  production:
    function_name: lambda-function-production
    promote_from: staging
    branches: [main]
    approval:
      provider: github
      reviewers: [team-lead, devops-admin]
    checks: [{name: ping, payload: {action: ping}, expect: {body: {ok: true}}}]
triggers:
  - {event: push, branches: [develop], deploy: [staging]}
  - {event: pull_request, branches: [main], deploy: [staging]}
  - {event: push, branches: [main], deploy: [staging, production]}
notifications:
  slack: {webhook_url_env: SLACK_WEBHOOK_URL}
"""

BUILTIN = """\
project: billing
function: {}
environments:
  staging:
    function_name: billing-staging
    region: eu-west-1
  production:
    function_name: billing-production
    region: eu-central-1
    promote_from: staging
    bake_seconds: 600
    approval: {reviewers: [ana, bo], min_approvals: 2, wait_timer_minutes: 30}
triggers:
  - {event: push, branches: [main], deploy: [staging, production]}
notifications:
  email: {smtp_host: smtp.example.com, from: ci@example.com, to: [ops@example.com],
          username_env: SMTP_USERNAME, password_env: SMTP_PASSWORD}
  webhook: {url_env: DEPLOY_WEBHOOK_URL, secret_env: DEPLOY_WEBHOOK_SECRET}
"""

LOCAL = """\
project: demo
target: local
function: {runtime: python3.10}
environments:
  staging: {function_name: demo-staging}
  production: {function_name: demo-production, promote_from: staging}
triggers:
  - {event: push, deploy: [staging]}
  - {event: push, branches: ["release/*"], deploy: [production]}
"""

THREE = """\
project: payments
function: {}
state: sqlite:///ci/state.db
artifacts: build/artifacts
environments:
  dev: {function_name: payments-dev}
  staging:
    function_name: payments-staging
    promote_from: dev
    approval: {provider: github, reviewers: [acme/platform]}
  production:
    function_name: payments-production
    promote_from: staging
    branches: [main, "release/*"]
    approval: {provider: github, reviewers: [ana, bo, carla], min_approvals: 2}
triggers:
  - {event: pull_request, deploy: [dev]}
  - {event: push, branches: [main, "release/*"], deploy: [dev, staging, production]}
"""

S3_STORE = """\
project: invoices
function: {}
artifacts: s3://acme-builds/invoices
state: postgresql+psycopg://ledger.internal/invoices
environments:
  staging: {function_name: invoices-staging, region: eu-west-1}
  production:
    function_name: invoices-production
    region: eu-west-1
    promote_from: staging
    approval: {provider: github, reviewers: [ana, bo]}
triggers:
  - {event: pull_request, branches: [main], deploy: [staging]}
  - {event: push, branches: [main], deploy: [staging, production]}
github:
  tool: "0.1.0"
  extras: [postgres]
"""

CANARY = """\
project: checkout
function: {}
state: postgresql+psycopg://ledger.internal/checkout
environments:
  staging:
    function_name: checkout-staging
    traffic: canary 10% 5m
    alarms: [checkout-staging-errors]
    hooks: {before_traffic: checkout-pre-traffic}
    checks: [{name: ping, payload: {action: ping}, expect: {body: {ok: true}}}]
  production:
    function_name: checkout-production
    promote_from: staging
    traffic: Linear10PercentEvery3Minutes
    bake_seconds: 120
    alarms: [checkout-production-errors]
    approval: {provider: github, reviewers: [ana, bo]}
    checks: [{name: ping, payload: {action: ping}, expect: {body: {ok: true}}}]
triggers:
  - {event: push, branches: [main], deploy: [staging, production]}
github:
  extras: [postgres]
"""

MANY = """\
project: shop
functions:
  api: {source: api, handler: app.handler}
  worker: {source: worker, handler: app.handler, runtime: python3.13}
environments:
  staging:
    function_names: {api: shop-api-staging, worker: shop-worker-staging}
  production:
    function_names: {api: shop-api-production, worker: shop-worker-production}
    promote_from: staging
    approval: {provider: github, reviewers: [ana]}
triggers:
  - {event: push, branches: [main], deploy: [staging, production]}
"""

DYNAMODB = """\
project: orders-api
function: {}
state: dynamodb://orders-ledger?region=eu-west-1
environments:
  staging: {function_name: orders-staging, region: eu-west-1}
  production:
    function_name: orders-production
    region: eu-west-1
    promote_from: staging
    approval: {reviewers: [ana, bo]}
triggers:
  - {event: pull_request, branches: [main], deploy: [staging]}
  - {event: push, branches: [main], deploy: [staging, production]}
"""

CONFIGS = {
    "canary": CANARY,
    "many-functions": MANY,
    "dynamodb-state": DYNAMODB,
    "seed": SEED,
    "builtin": BUILTIN,
    "local": LOCAL,
    "three-stages": THREE,
    "s3-store": S3_STORE,
}


def config_from(tmp_path: Path, text: str, name: str = "promote.yaml") -> Config:
    path = tmp_path / name
    path.write_text(text)
    return load_config(path, check_source=False)


def plain(config: Config) -> dict[str, Any]:
    data: dict[str, Any] = strip_notes(build_workflow(config))
    return data


def run_scripts(data: dict[str, Any]) -> list[str]:
    return [s["run"] for job in data["jobs"].values() for s in job["steps"] if "run" in s]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_generated_workflow_matches_its_golden_file(tmp_path: Path, name: str) -> None:
    text = render(config_from(tmp_path, CONFIGS[name]))
    golden = GOLDEN / f"{name}.yml"
    if os.environ.get("LAMBDA_PROMOTE_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"regenerate with LAMBDA_PROMOTE_UPDATE_GOLDEN=1: {name}"


def test_the_example_projects_committed_workflow_is_what_the_generator_writes() -> None:
    wf = workflow_file(load_config(EXAMPLE / "promote.yaml", check_source=False))
    assert wf.path == EXAMPLE / ".github" / "workflows" / "promote.yml"
    assert wf.current, "run `lambda-promote github workflow` in examples/orders-api"


def test_the_seed_yields_the_seeds_job_graph(tmp_path: Path) -> None:
    jobs = plain(config_from(tmp_path, SEED))["jobs"]
    assert list(jobs) == [
        "build",
        "deploy-staging",
        "rollback-staging",
        "request-production-approval",
        "deploy-production",
        "rollback-production",
        "manual-rollback",
    ]
    assert jobs["deploy-staging"]["needs"] == ["build"]
    assert jobs["request-production-approval"]["needs"] == ["build", "deploy-staging"]
    assert jobs["deploy-production"]["needs"] == ["build", "request-production-approval"]
    assert jobs["rollback-staging"]["needs"] == ["deploy-staging"]
    assert jobs["rollback-production"]["needs"] == ["deploy-production"]
    environments = {name: _environment(job) for name, job in jobs.items()}
    assert environments == {
        "build": "build",
        "deploy-staging": "staging",
        "rollback-staging": "staging-rollback",
        "request-production-approval": "production-approval",
        "deploy-production": "production",
        "rollback-production": "production-rollback",
        "manual-rollback": "${{ inputs.environment }}-rollback",
    }


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_workflow_is_hardened_as_design_section_10_lists(tmp_path: Path, name: str) -> None:
    text = render(config_from(tmp_path, CONFIGS[name]))
    data = plain(config_from(tmp_path, CONFIGS[name]))
    assert "pull_request_target" not in text
    assert data["permissions"] == {}
    for script in run_scripts(data):
        assert "${{" not in script, script
    steps = [s for job in data["jobs"].values() for s in job["steps"]]
    for step in (s for s in steps if "uses" in s):
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
    checkouts = [s for s in steps if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)
    for line in (ln for ln in text.splitlines() if "uses: " in ln):
        assert re.search(r"@[0-9a-f]{40}  # v\d+\.\d+\.\d+$", line), line


def _environment(job: dict[str, Any]) -> str | None:
    env = job.get("environment")
    return env["name"] if isinstance(env, dict) else env


def test_only_deploy_jobs_share_their_environments_group_and_none_cancels_a_running_one(
    tmp_path: Path,
) -> None:
    # Changed with #11.9: the rollback jobs held promote-<env> too, and GitHub's one pending
    # job per group let them push the newest run's pending deploy out (tests/unit/
    # test_github_job_logic.py plays that story).
    jobs = plain(config_from(tmp_path, SEED))["jobs"]
    for job, env in [("deploy-staging", "staging"), ("deploy-production", "production")]:
        assert jobs[job]["concurrency"] == {"group": f"promote-{env}", "cancel-in-progress": False}
    for env in ("staging", "production"):
        group = jobs[f"rollback-{env}"]["concurrency"]["group"]
        assert group == f"promote-{env}-rollback-${{{{ github.run_id }}}}"
    assert jobs["manual-rollback"]["concurrency"] == {
        "group": "promote-${{ inputs.environment }}-manual-rollback",
        "cancel-in-progress": False,
    }


def test_aws_jobs_assume_a_role_by_oidc_and_build_gets_no_token(tmp_path: Path) -> None:
    jobs = plain(config_from(tmp_path, SEED))["jobs"]
    assert jobs["build"]["permissions"] == {"contents": "read"}
    for name in ("deploy-staging", "deploy-production", "rollback-production", "manual-rollback"):
        assert jobs[name]["permissions"]["id-token"] == "write"
        creds = [s for s in jobs[name]["steps"] if "configure-aws-credentials" in s.get("uses", "")]
        assert creds[0]["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    assert "aws-access-key-id" not in render(config_from(tmp_path, SEED))


def test_a_local_target_workflow_asks_for_no_aws_access(tmp_path: Path) -> None:
    text = render(config_from(tmp_path, LOCAL))
    assert "id-token" not in text
    assert "configure-aws-credentials" not in text
    assert "LAMBDA_PROMOTE_PACKAGE: lambda-promote==" in text


def test_the_zip_is_checked_against_its_digest_before_every_deploy(tmp_path: Path) -> None:
    jobs = plain(config_from(tmp_path, SEED))["jobs"]
    for name in ("deploy-staging", "request-production-approval", "deploy-production"):
        names = [s["name"] for s in jobs[name]["steps"]]
        check = names.index("Check the zip's bytes against the digest build reported")
        tool = next(
            i for i, s in enumerate(jobs[name]["steps"]) if "lambda-promote " in s.get("run", "")
        )
        assert check < tool
        script = jobs[name]["steps"][check]["run"]
        assert "sha256sum --check --strict" in script


def test_the_ledger_travels_from_job_to_job_and_is_uploaded_even_on_failure(
    tmp_path: Path,
) -> None:
    jobs = plain(config_from(tmp_path, SEED))["jobs"]
    downloads = {
        name: [s["with"]["name"] for s in job["steps"] if "download-artifact" in s.get("uses", "")]
        for name, job in jobs.items()
    }
    assert downloads["deploy-staging"] == ["state-build", "release"]
    assert downloads["deploy-production"] == ["state-request-production-approval", "release"]
    assert downloads["rollback-production"] == [
        "state-deploy-production",
        "state-request-production-approval",
    ]
    for name, job in jobs.items():
        last = job["steps"][-1]
        assert last["with"]["name"] == f"state-{name}"
        assert last["if"] == "always()"


def test_github_approvals_are_read_before_deploying_production(tmp_path: Path) -> None:
    job = plain(config_from(tmp_path, SEED))["jobs"]["deploy-production"]
    scripts = [s.get("run", "") for s in job["steps"]]
    read = next(i for i, s in enumerate(scripts) if "github approvals --env production" in s)
    deploy = next(i for i, s in enumerate(scripts) if "deploy production" in s)
    assert read < deploy
    assert job["steps"][read]["env"]["RUN_ID"] == "${{ github.run_id }}"
    assert job["permissions"]["actions"] == "read"


def test_with_the_builtin_gate_no_github_approvals_are_read(tmp_path: Path) -> None:
    text = render(config_from(tmp_path, BUILTIN))
    assert "github approvals" not in text
    assert "actions: read" not in text


def test_rollback_jobs_run_after_a_failed_or_cancelled_deploy_and_only_resolve(
    tmp_path: Path,
) -> None:
    job = plain(config_from(tmp_path, SEED))["jobs"]["rollback-staging"]
    assert job["if"] == (
        "always() && (needs.deploy-staging.result == 'failure' || "
        "(needs.deploy-staging.result == 'cancelled' && "
        "needs.deploy-staging.outputs.host != ''))"
    )
    assert any(
        "lambda-promote github resolve staging" in s for s in run_scripts({"jobs": {"r": job}})
    )


def test_pull_requests_from_forks_never_deploy(tmp_path: Path) -> None:
    jobs = plain(config_from(tmp_path, SEED))["jobs"]
    condition = jobs["deploy-staging"]["if"]
    pr_clause = next(c for c in condition.split("|| (") if "pull_request" in c)
    assert "github.event.pull_request.head.repo.full_name == github.repository" in pr_clause
    assert "pull_request" not in jobs["deploy-production"]["if"]


def test_triggers_become_the_on_section_and_the_job_conditions(tmp_path: Path) -> None:
    data = plain(config_from(tmp_path, SEED))
    on = data["on"]
    assert on["push"] == {"branches": ["develop", "main"]}
    assert on["pull_request"] == {"branches": ["main"]}
    inputs = on["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["options"] == ["staging", "production"]
    assert inputs["action"]["options"] == ["deploy", "rollback"]
    assert inputs["reason"]["required"] is True
    production = data["jobs"]["deploy-production"]["if"]
    assert "github.ref == 'refs/heads/main'" in production
    assert "develop" not in production


def test_a_dispatch_to_production_also_runs_staging_first(tmp_path: Path) -> None:
    jobs = plain(config_from(tmp_path, SEED))["jobs"]
    assert "inputs.environment == 'production'" in jobs["deploy-staging"]["if"]


def test_a_prefix_glob_becomes_a_starts_with_test(tmp_path: Path) -> None:
    jobs = plain(config_from(tmp_path, LOCAL))["jobs"]
    assert "startsWith(github.ref, 'refs/heads/release/')" in jobs["deploy-production"]["if"]


def test_a_glob_no_condition_can_express_is_refused(tmp_path: Path) -> None:
    config = config_from(tmp_path, SEED.replace("branches: [develop]", "branches: ['feat-*-x']"))
    with pytest.raises(UsageError, match="feat-\\*-x"):
        render(config)


def test_an_artifact_folder_outside_the_repository_is_refused(tmp_path: Path) -> None:
    # s3:// stores are supported since #11.9 (test_github_s3_store.py); a folder elsewhere
    # on the machine still cannot travel between jobs.
    config = config_from(tmp_path, "artifacts: /var/builds\n" + SEED)
    with pytest.raises(UsageError, match="inside the repository"):
        render(config)


def test_a_ledger_file_outside_the_state_folder_travels_too(tmp_path: Path) -> None:
    text = render(config_from(tmp_path, THREE))
    assert "            ci/state.db\n" in text
    jobs = plain(config_from(tmp_path, THREE))["jobs"]
    downloads = [
        s["with"]
        for job in jobs.values()
        for s in job["steps"]
        if "download-artifact" in s.get("uses", "") and s["with"]["name"].startswith("state-")
    ]
    assert downloads
    assert all(d["path"] == "." for d in downloads)


def test_notifier_secrets_reach_only_the_lambda_promote_steps(tmp_path: Path) -> None:
    job = plain(config_from(tmp_path, SEED))["jobs"]["deploy-staging"]
    holders = [s["name"] for s in job["steps"] if "SLACK_WEBHOOK_URL" in s.get("env", {})]
    assert len(holders) == 1
    assert holders[0].startswith("Deploy to staging")
    assert "env" not in job


def test_a_config_file_with_another_name_is_passed_to_every_command(tmp_path: Path) -> None:
    data = plain(config_from(tmp_path, LOCAL, name="deploy.yaml"))
    assert data["env"]["LAMBDA_PROMOTE_CONFIG"] == "deploy.yaml"


def test_the_header_says_how_to_regenerate_and_draws_the_graph(tmp_path: Path) -> None:
    text = render(config_from(tmp_path, SEED))
    head = text.split("\nname:")[0]
    assert "Generated by `lambda-promote github workflow`" in head
    assert "request-production-approval (production-approval) ─► deploy-production" in head
    assert "staging, staging-rollback, production-approval, production, production-rollback" in head


def test_every_pin_is_a_full_sha_with_a_release() -> None:
    for pin in pins.ALL:
        assert re.fullmatch(r"[0-9a-f]{40}", pin.sha)
        assert re.fullmatch(r"v\d+\.\d+\.\d+", pin.version)


def test_the_workflow_is_valid_yaml_with_the_keys_github_expects(tmp_path: Path) -> None:
    loaded = yaml.safe_load(render(config_from(tmp_path, SEED)))
    assert set(loaded) == {"name", True, "permissions", "defaults", "env", "jobs"}


def test_a_dynamodb_ledger_is_shared_by_every_job_through_its_aws_role(tmp_path: Path) -> None:
    """DESIGN §11.6: no job carries a ledger file; each reaches the table with its role, and
    the state URL may come from a repository variable (it is not a secret)."""
    data = plain(config_from(tmp_path, DYNAMODB))
    for name, job in data["jobs"].items():
        uses = [s.get("uses", "") for s in job["steps"]]
        assert not any(
            "download-artifact" in u and "state-" in str(s.get("with"))
            for u, s in zip(uses, job["steps"], strict=True)
        ), name
        tool_steps = [s for s in job["steps"] if "LAMBDA_PROMOTE_STATE" in s.get("env", {})]
        for step in tool_steps:
            assert step["env"]["LAMBDA_PROMOTE_STATE"] == "${{ vars.LAMBDA_PROMOTE_STATE }}"
        if tool_steps:
            assert job["permissions"].get("id-token") == "write", name
            assert any("configure-aws-credentials" in u for u in uses), name
    build = data["jobs"]["build"]
    assert "head.repo.full_name == github.repository" in build["if"]  # forks: no OIDC token
    assert sum("LAMBDA_PROMOTE_STATE" in s.get("env", {}) for s in build["steps"]) == 1
