"""The deploy role may attach the layers its environment's configuration names (DESIGN §11.3):
Lambda checks ``lambda:GetLayerVersion`` on each layer version for the caller of
UpdateFunctionConfiguration; the read role gets nothing of it."""

from __future__ import annotations

from lambda_promote.aws_policy import Where, roles_for
from lambda_promote.config.schema import Approval, Config, Environment, Function

COMMON = "arn:aws:lambda:us-east-1:111111111111:layer:common:3"
EXTRA = "arn:aws:lambda:us-east-1:111111111111:layer:extra:1"
WHERE = Where("123456789012", "acme/orders")


def layer_statements(policy: dict) -> list[dict]:
    return [s for s in policy["Statement"] if s["Sid"] == "AttachTheReleasesLayers"]


def test_each_environment_may_attach_exactly_its_effective_layers():
    config = Config(
        project="orders",
        function=Function(layers=[COMMON]),
        environments={
            "staging": Environment(function_name="orders-staging"),
            "production": Environment(
                function_name="orders-production",
                layers=[COMMON, EXTRA],
                approval=Approval(reviewers=["lead"]),
            ),
        },
    )

    staging = roles_for(config, "staging", WHERE)["deploy"]["policy"]
    production = roles_for(config, "production", WHERE)

    assert layer_statements(staging) == [
        {
            "Sid": "AttachTheReleasesLayers",
            "Effect": "Allow",
            "Action": "lambda:GetLayerVersion",
            "Resource": COMMON,
        }
    ]
    assert layer_statements(production["deploy"]["policy"])[0]["Resource"] == [COMMON, EXTRA]
    assert layer_statements(production["read"]["policy"]) == []


def test_without_layers_there_is_no_layer_statement():
    config = Config(project="orders", environments={"staging": Environment(function_name="f")})
    assert layer_statements(roles_for(config, "staging", WHERE)["deploy"]["policy"]) == []
