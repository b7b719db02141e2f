"""The deploy role may invoke its environment's traffic hooks (DESIGN §11.5), and only those;
the read role gets nothing of it."""

from __future__ import annotations

from lambda_promote.aws_policy import Where, roles_for
from lambda_promote.config.schema import Approval, Config, Environment, Hooks

WHERE = Where("123456789012", "acme/orders")
OTHER = "arn:aws:lambda:eu-west-1:999999999999:function:shared-post-traffic"


def hook_statements(policy: dict) -> list[dict]:
    return [s for s in policy["Statement"] if s["Sid"] == "InvokeTheTrafficHooks"]


def test_the_deploy_role_may_invoke_exactly_the_hooks_named():
    hooks = Hooks(before_traffic="orders-pre:live", after_traffic=f"{OTHER}:3")
    config = Config(
        project="orders",
        environments={
            "staging": Environment(
                function_name="orders-staging", hooks=hooks, approval=Approval(reviewers=["lead"])
            ),
            "production": Environment(function_name="orders-production"),
        },
    )
    staging = roles_for(config, "staging", WHERE)
    assert hook_statements(staging["deploy"]["policy"]) == [
        {
            "Sid": "InvokeTheTrafficHooks",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": [
                "arn:aws:lambda:us-east-1:123456789012:function:orders-pre",
                "arn:aws:lambda:us-east-1:123456789012:function:orders-pre:*",
                OTHER,
                f"{OTHER}:*",
            ],
        }
    ]
    assert hook_statements(staging["read"]["policy"]) == []
    assert hook_statements(roles_for(config, "production", WHERE)["deploy"]["policy"]) == []
