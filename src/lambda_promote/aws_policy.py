"""The least-privilege IAM of the aws target (DESIGN §11.9): one table of every AWS call the
tool makes, and the policies built from it — ``lambda-promote aws policy ENV`` prints them,
``docs/aws.md`` and docs/STAGING_TO_PRODUCTION_WORKFLOW.md show them (a test keeps the docs
equal to ``docs_table()``), and a test on moto records every call a whole release story makes
and checks each against ``CALLS`` — and that nothing in ``CALLS`` goes unused.

A feature that makes a new AWS call adds one row to ``CALLS`` and nothing else: the policy,
the docs and the test follow. Each row says which role needs it:

    deploy   the environment's deploy role (``deploy-<env>``, ``rollback-<env>``, manual)
    read     the request job's role (``<env>-approval``): reads only, no reviewers guard it —
             except, with a ``dynamodb://`` ledger, recording the request and its audit
             events in the ledger table (nothing else)
    build    the build job's role for an S3 artifact store or a DynamoDB ledger (``build``)
    admin    a person running ``state init`` / ``state migrate`` once (no generated role)

The ledger's DynamoDB calls (DESIGN §11.6) are granted only when ``state`` is a
``dynamodb://`` URL, scoped to that table and its indexes.

Pure: no boto3, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambda_promote.config.schema import Config, Environment

OIDC_HOST = "token.actions.githubusercontent.com"


@dataclass(frozen=True)
class Call:
    service: str  # the botocore service name
    operation: str  # the botocore operation name
    action: str  # the IAM action it needs ("" when none)
    resource: str  # function | tag | alarms | objects | bucket | none
    why: str
    roles: tuple[str, ...] = ("deploy",)


CALLS: tuple[Call, ...] = (
    Call("lambda", "GetAlias", "lambda:GetAlias", "function", "where the alias points now",
         ("deploy", "read")),
    Call("lambda", "CreateAlias", "lambda:CreateAlias", "function", "the first deployment"),
    Call("lambda", "UpdateAlias", "lambda:UpdateAlias", "function", "moving traffic; rollback"),
    Call("lambda", "DeleteAlias", "lambda:DeleteAlias", "function",
         "undoing a failed first deployment"),
    Call("lambda", "GetFunctionConfiguration", "lambda:GetFunctionConfiguration", "function",
         "$LATEST and versions: code digest, RevisionId", ("deploy", "read")),
    Call("lambda", "GetFunction", "lambda:GetFunction", "function",
         "the function_updated_v2 waiter"),
    Call("lambda", "UpdateFunctionCode", "lambda:UpdateFunctionCode", "function", "the new code"),
    Call("lambda", "UpdateFunctionConfiguration", "lambda:UpdateFunctionConfiguration",
         "function", "the release's memory, timeout, storage, layers, variables"),
    Call("lambda", "PublishVersion", "lambda:PublishVersion", "function",
         "the immutable version"),
    Call("lambda", "ListVersionsByFunction", "lambda:ListVersionsByFunction", "function",
         "`rollback --to`, history", ("deploy", "read")),
    Call("lambda", "Invoke", "lambda:InvokeFunction", "function", "the checks"),
    Call("lambda", "ListTags", "lambda:ListTags", "function",
         "reading the good-versions tag (rollback from an empty ledger)", ("deploy", "read")),
    Call("lambda", "TagResource", "lambda:TagResource", "tag",
         "writing the good-versions tag (only `lambda-promote:*` keys)"),
    Call("cloudwatch", "DescribeAlarms", "cloudwatch:DescribeAlarms", "alarms", "`alarms:`"),
    Call("s3", "HeadObject", "s3:GetObject", "objects", "the artifact store: is it there",
         ("deploy", "read", "build")),
    Call("s3", "GetObject", "s3:GetObject", "objects",
         "the artifact store: fetch and re-hash the zip", ("deploy", "read", "build")),
    Call("s3", "ListObjectsV2", "s3:ListBucket", "bucket",
         "the artifact store: digest prefixes (and 404 rather than 403)",
         ("deploy", "read", "build")),
    Call("s3", "PutObject", "s3:PutObject", "objects", "the artifact store: upload a build",
         ("build",)),
    Call("dynamodb", "GetItem", "dynamodb:GetItem", "table",
         "the ledger: a record by id, a lock, a request (consistent reads)",
         ("deploy", "read")),
    Call("dynamodb", "Query", "dynamodb:Query", "table",
         "the ledger: history, pending approvals, prefixes, the audit trail",
         ("deploy", "read", "build")),
    Call("dynamodb", "PutItem", "dynamodb:PutItem", "table",
         "the ledger: artifacts, the lock, requests; with TransactWriteItems, records and "
         "audit events", ("deploy", "read", "build")),
    Call("dynamodb", "TransactWriteItems", "dynamodb:PutItem", "table",
         "the ledger: two records at once (IAM checks each item's PutItem/UpdateItem)",
         ("deploy", "read", "build")),
    Call("dynamodb", "UpdateItem", "dynamodb:UpdateItem", "table",
         "the ledger: a decision, consuming an approval, added checks"),
    Call("dynamodb", "DeleteItem", "dynamodb:DeleteItem", "table",
         "the ledger: releasing or breaking the lock"),
    Call("dynamodb", "DescribeTable", "dynamodb:DescribeTable", "table",
         "`doctor`, `state init`, `state migrate`: is the table there", ("deploy", "admin")),
    Call("dynamodb", "DescribeContinuousBackups", "dynamodb:DescribeContinuousBackups",
         "table", "`doctor`: is point-in-time recovery on", ("deploy",)),
    Call("dynamodb", "CreateTable", "dynamodb:CreateTable", "table",
         "`state init`, `state migrate`: the table and its indexes", ("admin",)),
    Call("dynamodb", "UpdateContinuousBackups", "dynamodb:UpdateContinuousBackups", "table",
         "`state init`: point-in-time recovery on", ("admin",)),
    Call("dynamodb", "TagResource", "dynamodb:TagResource", "table",
         "`state init`: the table's tags", ("admin",)),
    Call("dynamodb", "Scan", "dynamodb:Scan", "table",
         "`state migrate` from DynamoDB: read the whole ledger", ("admin",)),
    Call("dynamodb", "BatchWriteItem", "dynamodb:BatchWriteItem", "table",
         "`state migrate` into DynamoDB: write the copy", ("admin",)),
    Call("sts", "GetCallerIdentity", "", "none", "who we are (`doctor`); needs no permission",
         ("deploy", "read", "build")),
    Call("sts", "AssumeRole", "sts:AssumeRole", "none",
         "with `role_arn:`: granted to the identity that assumes it, not here", ()),
)  # fmt: skip
ROLES = ("deploy", "read", "build", "admin")


def iam_action(service: str, operation: str) -> str | None:
    """The IAM action a botocore call needs; None for a call the table does not know."""
    for call in CALLS:
        if (call.service, call.operation) == (service, operation):
            return call.action
    return None


@dataclass(frozen=True)
class Where:
    """What the policies are scoped to."""

    account: str
    repository: str  # OWNER/NAME on GitHub


def _function_arns(spec: Environment, where: Where) -> list[str]:
    names = list((spec.function_names or {}).values()) or [spec.function_name or ""]
    arns = []
    for name in names:  # every function of the release (DESIGN §11.4)
        arn = f"arn:aws:lambda:{spec.region}:{where.account}:function:{name}"
        arns += [arn, f"{arn}:*"]
    return arns


def _bucket(config: Config) -> tuple[str, str] | None:
    if not config.artifacts.startswith("s3://"):
        return None
    bucket, _, prefix = config.artifacts.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


def role_policy(config: Config, env: str | None, role: str, where: Where) -> dict[str, Any]:
    """The identity policy of ``role`` for ``env`` (``env`` None: the build role)."""
    spec = config.environments[env] if env else None
    calls = [c for c in CALLS if role in c.roles and c.action]
    statements: list[dict[str, Any]] = []
    if spec is not None:
        fn = sorted({c.action for c in calls if c.resource == "function"})
        statements.append(_allow("TheFunctionItsVersionsAndAlias", fn, _function_arns(spec, where)))
        if any(c.resource == "tag" for c in calls):
            tag = _allow("RememberGoodVersionsOnly", ["lambda:TagResource"],
                         _function_arns(spec, where)[:1])  # fmt: skip
            tag["Condition"] = {"ForAllValues:StringLike": {"aws:TagKeys": ["lambda-promote:*"]}}
            statements.append(tag)
        if spec.alarms and any(c.resource == "alarms" for c in calls):
            alarms = [
                f"arn:aws:cloudwatch:{spec.region}:{where.account}:alarm:{name}"
                for name in spec.alarms
            ]
            statements.append(_allow("WatchTheAlarms", ["cloudwatch:DescribeAlarms"], alarms))
        layers = _layers(config, env) if role == "deploy" else []
        if layers:
            statements.append(_allow("AttachTheReleasesLayers", ["lambda:GetLayerVersion"], layers))
    statements += _store_statements(config, calls)
    statements += _ledger_statements(config, calls, where)
    return {"Version": "2012-10-17", "Statement": statements}


def _ledger_statements(config: Config, calls: list[Call], where: Where) -> list[dict[str, Any]]:
    """The ledger table and its indexes, for a ``dynamodb://`` state (DESIGN §11.6)."""
    if not config.state.startswith("dynamodb://"):
        return []
    from lambda_promote.ledger.dynamo_url import parse_dynamodb

    table = parse_dynamodb(_with_region(config.state, config))
    arn = f"arn:aws:dynamodb:{table.region}:{where.account}:table/{table.table}"
    actions = sorted({c.action for c in calls if c.resource == "table"})
    return [_allow("TheLedgerTable", actions, [arn, f"{arn}/index/*"])] if actions else []


def _with_region(url: str, config: Config) -> str:
    """A state URL without ``?region=`` is in the first environment's region."""
    if "region=" in url:
        return url
    region = next(iter(config.environments.values())).region
    return url + ("&" if "?" in url else "?") + f"region={region}"


def _layers(config: Config, env: str | None) -> list[str]:
    """The layer versions ``env``'s configuration attaches: Lambda checks that the caller of
    UpdateFunctionConfiguration may ``lambda:GetLayerVersion`` each (DESIGN §11.3). Not a
    call of ours, so not a row of ``CALLS``."""
    if env is None:
        return []
    from lambda_promote.function_config import effective, settings_of

    merged = effective(settings_of(config.function), settings_of(config.environments[env]))
    return sorted(set(merged.layers or ()))


def _store_statements(config: Config, calls: list[Call]) -> list[dict[str, Any]]:
    found = _bucket(config)
    if found is None:
        return []
    bucket, prefix = found
    keys = f"{prefix}/*" if prefix else "*"
    objects = sorted({c.action for c in calls if c.resource == "objects"})
    listing = _allow("FindArtifactsUnderThePrefix", ["s3:ListBucket"], [f"arn:aws:s3:::{bucket}"])
    listing["Condition"] = {"StringLike": {"s3:prefix": [keys]}}
    return [_allow("TheArtifacts", objects, [f"arn:aws:s3:::{bucket}/{keys}"]), listing]


def _allow(sid: str, actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions[0] if len(actions) == 1 else actions,
        "Resource": resources[0] if len(resources) == 1 else resources,
    }


def trust_policy(github_environments: list[str], where: Where) -> dict[str, Any]:
    """Who may assume the role: jobs of ``github_environments`` in the repository, by OIDC."""
    subjects = [f"repo:{where.repository}:environment:{name}" for name in github_environments]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "Federated": f"arn:aws:iam::{where.account}:oidc-provider/{OIDC_HOST}"
                },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{OIDC_HOST}:aud": "sts.amazonaws.com",
                        f"{OIDC_HOST}:sub": subjects,
                    }
                },
            }
        ],
    }


def roles_for(config: Config, env: str, where: Where) -> dict[str, dict[str, Any]]:
    """Every role ``env`` needs: ``deploy`` and, with an approval, ``read`` (the request job's)."""
    roles: dict[str, dict[str, Any]] = {
        "deploy": {
            "github_environments": [env, f"{env}-rollback"],
            "policy": role_policy(config, env, "deploy", where),
        }
    }
    if config.environments[env].approval is not None:
        roles["read"] = {
            "github_environments": [f"{env}-approval"],
            "policy": role_policy(config, env, "read", where),
        }
    for role in roles.values():
        role["trust_policy"] = trust_policy(role["github_environments"], where)
    return roles


def build_role(config: Config, where: Where) -> dict[str, Any]:
    return {
        "github_environments": ["build"],
        "policy": role_policy(config, None, "build", where),
        "trust_policy": trust_policy(["build"], where),
    }


def docs_table() -> str:
    """The Markdown table the docs show, one row per call."""
    lines = ["| call | IAM action | roles | used for |", "|---|---|---|---|"]
    for c in CALLS:
        action = f"`{c.action}`" if c.action else "—"
        roles = ", ".join(c.roles) or "the identity that assumes"
        lines.append(f"| {c.service} {c.operation} | {action} | {roles} | {c.why} |")
    return "\n".join(lines) + "\n"
