"""``lambda-promote aws policy ENV`` and ``lambda-promote doctor [ENV]`` (DESIGN §11.9):
the IAM a deploy role needs, and what can be checked before a first deploy. The policy is
built from the one table of AWS calls (``aws_policy.CALLS``); the doctor's reads live in the
AWS adapter (``targets/aws_doctor.py``) and its judgement in ``doctor.py``.
"""

from __future__ import annotations

import json
from typing import Any

import click

from lambda_promote.invocation import Invocation, Outcome, cli, command


@click.group("aws")
def aws() -> None:
    """The aws target: the IAM policies its roles need."""


@command("policy", group=aws)
@click.argument("env")
@click.option("--account", help="The AWS account id (default: from role_arn, else ACCOUNT_ID).")
@click.option(
    "--repo",
    envvar="GITHUB_REPOSITORY",
    default="OWNER/REPO",
    metavar="OWNER/NAME",
    help="The GitHub repository the trust policy admits (default: $GITHUB_REPOSITORY).",
)
def policy_command(inv: Invocation, env: str, account: str | None, repo: str) -> Outcome:
    """Print ENV's least-privilege deploy-role policy and its GitHub OIDC trust policy
    (ENV `build`: the build job's role for an S3 artifact store)."""
    from lambda_promote.aws_policy import Where, build_role, roles_for
    from lambda_promote.config import load_config
    from lambda_promote.config.loader import require_env

    config = load_config(inv.config_path, check_source=False)
    if env == "build":
        roles = {"build": build_role(config, Where(account or "ACCOUNT_ID", repo))}
        main = roles["build"]
    else:
        spec = require_env(config, env)
        found = spec.role_arn.split(":")[4] if spec.role_arn else "ACCOUNT_ID"
        roles = roles_for(config, env, Where(account or found, repo))
        main = roles["deploy"]
    data: dict[str, Any] = {
        "env": env,
        "policy": main["policy"],
        "trust_policy": main["trust_policy"],
        "roles": roles,
    }
    lines = []
    for name, role in roles.items():
        lines += [
            f"# {name} role, assumed by the GitHub environments "
            + ", ".join(role["github_environments"]),
            "# policy:",
            json.dumps(role["policy"], indent=2),
            "# trust policy:",
            json.dumps(role["trust_policy"], indent=2),
        ]
    return Outcome(data=data, text="\n".join(lines))


@command("doctor")
@click.argument("env", required=False)
def doctor_command(inv: Invocation, env: str | None) -> Outcome:
    """Check credentials, the function and alias, the role's permissions, what invokes the
    function, and the alarms, before a first deploy; exit 1 on a problem."""
    from lambda_promote.config.loader import require_env
    from lambda_promote.doctor import examine, state_finding
    from lambda_promote.errors import PromoteError

    ws = inv.workspace()
    config = ws.config
    envs = [env] if env else list(config.environments)
    for name in envs:
        require_env(config, name)

    def audit_events() -> int:
        head = ws.ledger.audit_head()
        return head.seq if head else 0

    findings = [state_finding(audit_events)]
    if config.target == "aws":
        from lambda_promote.targets import require_boto3

        require_boto3(needed_for="doctor")
        from lambda_promote.targets.aws_doctor import AwsDoctorReads

        refs = {
            name: list(ws.function_refs(name, session_name="lambda-promote-doctor").values())
            for name in envs
        }
        findings = examine(config, envs, AwsDoctorReads(), refs)
    findings += _state_table(ws.config.state)
    _show(inv, findings)
    data = {"findings": [f.to_json() for f in findings]}
    problems = [f for f in findings if f.level == "problem"]
    if problems:
        raise PromoteError(
            f"{len(problems)} problem(s): " + "; ".join(f"{p.env}: {p.check}" for p in problems),
            hint=problems[0].hint,
            code="doctor_found_problems",
            payload=data,
        )
    if config.target != "aws":
        inv.ui.ok("target: local — nothing in AWS to check")
    return Outcome(data=data)


def _state_table(configured: str) -> list[Any]:
    """With a ``dynamodb://`` ledger: the doctor's look at its table (DESIGN §11.6)."""
    from lambda_promote.ledger.dynamo_url import is_dynamodb
    from lambda_promote.workspace import state_url

    url = state_url(configured)
    if not is_dynamodb(url):
        return []
    from lambda_promote.doctor import state_table_finding
    from lambda_promote.ledger.choose import open_dynamodb

    return [state_table_finding(open_dynamodb(url).table.health)]


def _show(inv: Invocation, findings: list[Any]) -> None:
    for f in findings:
        line = f"{f.env}: {f.check}: {f.message}"
        if f.level == "ok":
            inv.ui.ok(line)
        elif f.level == "problem":
            inv.ui.error(line, f.hint)
        else:
            inv.ui.warn(line + (f" (hint: {f.hint})" if f.hint else ""))


cli.add_command(aws)
