"""``lambda-promote doctor [ENV]``: what can be checked before a first deploy (DESIGN §11.9).

For each aws environment, in order (a check that cannot run says why, and the rest go on):

    credentials   who AWS says we are there (STS)
    function      the function exists (the alias may not: the first deployment creates it)
    permissions   IAM's simulation of the deploy actions (``aws_policy.CALLS``) for our role,
                  where the caller may simulate
    invokers      event source mappings, resource-policy grants and function URLs that name
                  the unqualified function or ``$LATEST``: after a failed release ``$LATEST``
                  still holds the failed code, so they would run unverified code
    alarms        every name in ``alarms:`` exists

and, for any target, ``state``: the ledger answers (a PostgreSQL server down, a wrong URL),
read without creating or changing anything.

Every finding has a hint. ``problem`` findings make the command exit 1. The reads are behind
a small protocol (``Reads``; ``targets/aws_doctor.py`` on AWS), so this module stays pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from lambda_promote.aws_policy import CALLS
from lambda_promote.config.schema import Config
from lambda_promote.errors import PromoteError
from lambda_promote.model import FunctionRef


@dataclass(frozen=True)
class Finding:
    env: str
    check: str
    level: str  # ok | info | warning | problem
    message: str
    hint: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Reads(Protocol):
    def caller_arn(self, fn: FunctionRef) -> str: ...
    def function_arn(self, fn: FunctionRef) -> str | None: ...
    def alias_exists(self, fn: FunctionRef) -> bool: ...
    def invokers(self, fn: FunctionRef) -> list[Any]: ...
    def missing_alarms(self, fn: FunctionRef, names: list[str]) -> list[str]: ...
    def simulate(
        self, fn: FunctionRef, principal: str, actions: list[str], resources: list[str]
    ) -> dict[str, str]: ...


_ASSUMED = re.compile(r"^arn:(aws[\w-]*):sts::(\d{12}):assumed-role/([^/]+)/.+$")


def role_of(caller: str) -> str:
    """The IAM role behind an assumed-role session ARN (what IAM can simulate)."""
    m = _ASSUMED.match(caller)
    return f"arn:{m[1]}:iam::{m[2]}:role/{m[3]}" if m else caller


def examine(
    config: Config, envs: list[str], reads: Reads, refs: Mapping[str, Sequence[FunctionRef]]
) -> list[Finding]:
    """Every function of each environment's release (DESIGN §11.4): one credentials finding
    per environment, then each function's own, then the environment's alarms."""
    findings: list[Finding] = []
    for env in envs:
        findings += _examine_env(config, env, reads, refs[env])
    return findings


def _examine_env(
    config: Config, env: str, reads: Reads, fns: Sequence[FunctionRef]
) -> list[Finding]:
    try:
        caller = reads.caller_arn(fns[0])
    except PromoteError as exc:
        return [Finding(env, "credentials", "problem", exc.message, exc.hint)]
    out = [Finding(env, "credentials", "ok", f"acting as {caller}")]
    for fn in fns:
        out += _examine_function(env, fn, reads, caller)
    alarms = config.environments[env].alarms
    if alarms:
        out.append(_alarm_finding(env, fns[0], reads, alarms))
    return out


def _examine_function(env: str, fn: FunctionRef, reads: Reads, caller: str) -> list[Finding]:
    try:
        arn = reads.function_arn(fn)
    except PromoteError as exc:
        return [Finding(env, "function", "problem", exc.message, exc.hint)]
    if arn is None:
        hint = f"create it (Terraform, CDK, the console) or fix the Lambda name/region of {env}"
        msg = f"{fn.function_name} does not exist in {fn.region}"
        return [Finding(env, "function", "problem", msg, hint)]
    return [
        _alias_finding(env, fn, reads),
        _permissions(env, fn, reads, caller=caller, arn=arn),
        *_invoker_findings(env, fn, reads),
    ]


def state_finding(audit_events: Callable[[], int]) -> Finding:
    """Whether the ledger answers; ``audit_events`` reads how many events it holds."""
    try:
        count = audit_events()
    except PromoteError as exc:
        hint = exc.hint or "check `state` in promote.yaml and LAMBDA_PROMOTE_STATE"
        return Finding("all", "state", "problem", exc.message, hint)
    return Finding("all", "state", "ok", f"the ledger answers ({count} audit events)")


def state_table_finding(health: Callable[[], dict[str, Any]]) -> Finding:
    """A DynamoDB ledger's table (DESIGN §11.6): there, with its indexes; point-in-time
    recovery on (the ledger is the team's memory: a bad write must be recoverable)."""
    try:
        found = health()
    except PromoteError as exc:
        return Finding("all", "state table", "problem", exc.message, exc.hint)
    where = f"{found['table']} ({found['region']})"
    if found["missing_indexes"]:
        return Finding(
            "all",
            "state table",
            "problem",
            f"{where} lacks the indexes {', '.join(found['missing_indexes'])}",
            "it is not a table lambda-promote made: point `state` at one made by "
            "`lambda-promote state init`",
        )
    if not found["point_in_time_recovery"]:
        return Finding(
            "all",
            "state table",
            "warning",
            f"{where}: point-in-time recovery is off",
            "turn it on (`lambda-promote state init` does), so a bad write can be undone",
        )
    return Finding(
        "all",
        "state table",
        "ok",
        f"{where}: {found['status'].lower() or 'present'}, {found['billing'].lower()}, "
        "point-in-time recovery on",
    )


def _alias_finding(env: str, fn: FunctionRef, reads: Reads) -> Finding:
    if reads.alias_exists(fn):
        return Finding(env, "function", "ok", f"{fn.function_name} and its alias {fn.alias}")
    return Finding(
        env,
        "function",
        "info",
        f"{fn.function_name} exists; its alias {fn.alias} does not yet",
        f"the first `lambda-promote deploy {env}` creates it",
    )


def _permissions(env: str, fn: FunctionRef, reads: Reads, *, caller: str, arn: str) -> Finding:
    actions = sorted(
        {c.action for c in CALLS if "deploy" in c.roles and c.action.startswith("lambda:")}
    )
    account = arn.split(":")[4]
    resources = [f"{arn}:{fn.alias}"]
    try:
        verdicts = reads.simulate(fn, role_of(caller), actions, resources)
    except PromoteError as exc:
        return Finding(
            env,
            "permissions",
            "info",
            f"could not simulate the role's policy: {exc.message}",
            "grant iam:SimulatePrincipalPolicy to let doctor check the deploy role, or compare "
            f"it with `lambda-promote aws policy {env} --account {account}`",
        )
    denied = sorted(a for a, v in verdicts.items() if v != "allowed")
    if denied:
        return Finding(
            env,
            "permissions",
            "problem",
            f"{role_of(caller)} may not {', '.join(denied)}",
            f"attach the policy of `lambda-promote aws policy {env} --account {account}`",
        )
    return Finding(env, "permissions", "ok", f"every deploy action is allowed on {fn.alias}")


def _invoker_findings(env: str, fn: FunctionRef, reads: Reads) -> list[Finding]:
    out = []
    for invoker in reads.invokers(fn):
        if invoker.kind == "unreadable":
            hint = "check it by hand in the console (Configuration → Triggers, Function URL)"
            out.append(Finding(env, "invokers", "info", invoker.name, hint))
            continue
        target = str(invoker.function_arn)
        if target.endswith(f":{fn.alias}"):
            continue
        qualifier = target.rpartition(":")[2] if target.count(":") >= 7 else ""
        if qualifier not in ("", "$LATEST", "*") and not qualifier.isdigit():
            continue
        what = "$LATEST" if qualifier in ("", "$LATEST", "*") else f"version {qualifier}"
        out.append(
            Finding(
                env,
                "invokers",
                "problem",
                f"{invoker.kind} {invoker.name} invokes {fn.function_name} at {what}, not "
                f"its alias {fn.alias}: it runs code no check verified (after a failed release "
                "$LATEST still holds the failed code), and a rollback does not reach it",
                f"point it at {fn.function_name}:{fn.alias} (the qualified ARN "
                f"…:function:{fn.function_name}:{fn.alias}); docs/aws.md, 'Triggers use the alias'",
            )
        )
    if not [f for f in out if f.level == "problem"]:
        out.append(Finding(env, "invokers", "ok", f"nothing invokes $LATEST of {fn.function_name}"))
    return out


def _alarm_finding(env: str, fn: FunctionRef, reads: Reads, alarms: list[str]) -> Finding:
    missing = reads.missing_alarms(fn, alarms)
    if missing:
        return Finding(
            env,
            "alarms",
            "problem",
            f"alarms {', '.join(missing)} do not exist in {fn.region}",
            "create them, or fix their names in promote.yaml (a missing alarm fails a deploy)",
        )
    return Finding(env, "alarms", "ok", f"{len(alarms)} alarm(s) exist")
