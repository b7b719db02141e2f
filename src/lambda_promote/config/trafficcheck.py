"""Step 3 of loading promote.yaml, for progressive traffic (DESIGN §11.5): each environment's
``traffic:`` must be one of the forms ``traffic.py`` reads, and its ``hooks`` must name
functions Lambda could have.

A bad strategy is refused at its line with every accepted form in the hint. A progressive
shift that watches nothing (no checks, no alarms) is a warning: its bakes would only wait.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lambda_promote.traffic import ACCEPTED_FORMS, TrafficError, parse_traffic

if TYPE_CHECKING:
    from lambda_promote.config.fncheck import Findings
    from lambda_promote.config.schema import Config

# A function name, or an ARN / partial ARN naming one (Lambda's own pattern, simplified).
_FUNCTION_NAME = re.compile(
    r"^(arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[a-zA-Z0-9-_]{1,64}(:[\w$-]+)?$"
)


def traffic_rules(config: Config, found: Findings) -> None:
    for name, env in config.environments.items():
        path = ("environments", name, "traffic")
        try:
            strategy = parse_traffic(env.traffic)
        except TrafficError as exc:
            found.error(path, str(exc), f"accepted forms: {ACCEPTED_FORMS}")
            continue
        if strategy.progressive and not env.checks and not env.alarms:
            found.warn(
                ("environments", name),
                f"shifts traffic progressively ({strategy.describe()}) but has neither checks "
                "nor alarms, so nothing is watched while the new version takes part of it",
                "add checks (run against the new version at each step) or alarms (watched "
                "through each bake)",
                at=path,
            )
        for hook in ("before_traffic", "after_traffic"):
            function = getattr(env.hooks, hook)
            if function is not None and not _FUNCTION_NAME.match(function):
                found.error(
                    ("environments", name, "hooks", hook),
                    f"{function!r} is not a Lambda function name",
                    "name the hook function, e.g. before_traffic: orders-api-pre-traffic",
                )
