"""The AWS reads of ``lambda-promote doctor`` (``doctor.py`` decides what they mean): who we
are, the function and its alias, what invokes the function (event source mappings, its
resource policy, function URLs), the alarms, and IAM's policy simulation. Reads only; every
botocore failure is translated at this boundary (``aws.translated``) like the target's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lambda_promote.errors import TargetError
from lambda_promote.model import FunctionRef
from lambda_promote.targets.aws import Connector, SessionFactory, translated, where_text


@dataclass(frozen=True)
class Invoker:
    """Something that invokes the function, and the ARN (qualified or not) it names."""

    kind: str  # event source mapping | resource policy | function URL
    name: str
    function_arn: str


class AwsDoctorReads:
    def __init__(self, *, session_factory: SessionFactory | None = None) -> None:
        self._connector = Connector(session_factory=session_factory, max_attempts=3)

    def caller_arn(self, fn: FunctionRef) -> str:
        return self._connector.caller_arn(fn)

    def function_arn(self, fn: FunctionRef) -> str | None:
        client = self._connector.lambda_client(fn)
        with translated("reading", where=where_text(fn), absent={"ResourceNotFoundException"}) as c:
            found = client.get_function_configuration(FunctionName=fn.function_name)
        return None if c.missing else str(found["FunctionArn"])

    def alias_exists(self, fn: FunctionRef) -> bool:
        client = self._connector.lambda_client(fn)
        with translated(
            "reading the alias of", where=where_text(fn), absent={"ResourceNotFoundException"}
        ) as c:
            client.get_alias(FunctionName=fn.function_name, Name=fn.alias)
        return not c.missing

    def invokers(self, fn: FunctionRef) -> list[Invoker]:
        client = self._connector.lambda_client(fn)
        found: list[Invoker] = []
        with translated("listing the event sources of", where=where_text(fn)):
            pages = client.get_paginator("list_event_source_mappings").paginate(
                FunctionName=fn.function_name
            )
            for page in pages:
                for m in page.get("EventSourceMappings", []):
                    name = m.get("EventSourceArn") or m.get("UUID", "?")
                    found.append(Invoker("event source mapping", name, m.get("FunctionArn", "")))
        with translated(
            "reading the resource policy of",
            where=where_text(fn),
            absent={"ResourceNotFoundException"},
        ) as c:
            policy = client.get_policy(FunctionName=fn.function_name)["Policy"]
        if not c.missing:
            for statement in json.loads(policy).get("Statement", []):
                principal = json.dumps(statement.get("Principal"))
                resource = str(statement.get("Resource", ""))
                found.append(Invoker("resource policy", f"{statement.get('Sid')} {principal}",
                                     resource))  # fmt: skip
        try:
            with translated("listing the function URLs of", where=where_text(fn)):
                urls = client.list_function_url_configs(FunctionName=fn.function_name)
        except TargetError as exc:  # e.g. an endpoint without function URLs
            return [*found, Invoker("unreadable", exc.message, "")]
        for url in urls.get("FunctionUrlConfigs", []):
            found.append(Invoker("function URL", url["FunctionUrl"], url["FunctionArn"]))
        return found

    def missing_alarms(self, fn: FunctionRef, names: list[str]) -> list[str]:
        client = self._connector.cloudwatch_client(fn)
        with translated("reading the alarms of", where=where_text(fn)):
            answer = client.describe_alarms(AlarmNames=names)
        seen = {a["AlarmName"] for a in answer.get("MetricAlarms", [])}
        seen |= {a["AlarmName"] for a in answer.get("CompositeAlarms", [])}
        return [n for n in names if n not in seen]

    def simulate(
        self, fn: FunctionRef, principal: str, actions: list[str], resources: list[str]
    ) -> dict[str, str]:
        """IAM's verdict per action (``allowed``, ``implicitDeny``, …) for ``principal``;
        ``TargetError`` when the caller may not simulate."""
        iam: Any = self._connector.client(fn, "iam")
        try:
            with translated("simulating the deploy role's policy for", where=where_text(fn)):
                answer = iam.simulate_principal_policy(
                    PolicySourceArn=principal, ActionNames=actions, ResourceArns=resources
                )
        except TargetError:
            raise
        except Exception as exc:  # an endpoint without the API (moto, some partitions)
            raise TargetError(
                f"IAM policy simulation is not available here: {type(exc).__name__}"
            ) from None
        verdicts: dict[str, str] = {}
        for result in answer.get("EvaluationResults", []):
            name = result["EvalActionName"]
            if verdicts.get(name) != "allowed":
                verdicts[name] = result["EvalDecision"]
        return verdicts
