"""What a plan says of a progressive shift (DESIGN §11.2, §11.5): between ``publish`` and the
100 % ``shift``, the before-traffic hook and, per step below 100 %, the weight (``shift`` with
its percent), the checks on the new version by number, and the bake that watches the alarms
and the abort/finish requests; after the checks through the alias, the after-traffic hook.
Pure: the plan is printed by ``--dry-run`` and carried out by the state machine.
"""

from __future__ import annotations

from lambda_promote.release.models import EnvFacts, Step, StepAction
from lambda_promote.traffic import TrafficError, format_duration, parse_traffic


def before_full_shift(env: EnvFacts, function: str | None = None) -> list[Step]:
    """The steps that come before the new version takes all the traffic; ``function``
    None: a many-function release, whose functions take each step together."""
    spec = env.spec
    steps = _hook(env, "before_traffic", function)
    if function is None:
        who, rest = "every function of the release", "the rest to its live version"
        nothing_live = all(alias.version is None for _, _, alias in env.functions)
    else:
        who, rest = f"{function}:{env.fn.alias}", f"the rest to version {env.alias.version}"
        nothing_live = env.alias.version is None
    try:
        strategy = parse_traffic(spec.traffic)
    except TrafficError:  # refused when promote.yaml was loaded
        return steps
    if not strategy.progressive:
        return steps
    if nothing_live:
        note = "nothing is live yet, so all the traffic moves at once"
        return [*steps, Step(StepAction.SHIFT, f"{spec.traffic}: {note}", function=function)]
    watched = ", ".join(spec.alarms) if spec.alarms else "no alarms"
    for step in strategy.steps():
        if not step.partial:
            break
        share = f"{step.percent:g}%"
        percent = int(step.percent) if step.percent.is_integer() else step.percent
        steps += [
            Step(
                StepAction.SHIFT,
                f"{who} sends {share} to the new version, {rest}",
                function=function,
                percent=percent,  # type: ignore[arg-type]
            ),
            *[
                Step(StepAction.CHECK, f"{c.name} (traffic): invoke the new version by number")
                for c in spec.checks
            ],
            Step(
                StepAction.BAKE,
                f"{format_duration(step.bake_seconds)} at {share}: every second, {watched} "
                "and abort/finish requests",
            ),
        ]
    return steps


def after_full_shift(env: EnvFacts, function: str | None = None) -> list[Step]:
    """The steps once the new version has all the traffic and passed its checks."""
    return _hook(env, "after_traffic", function)


def _hook(env: EnvFacts, hook: str, function: str | None) -> list[Step]:
    name = getattr(env.spec.hooks, hook)
    if not name:
        return []
    return [Step(StepAction.CHECK, f"{hook} hook: invoke {name}", function=function)]
