"""Which environments an event deploys to (DESIGN §3 ``triggers``), as a pure function.

An event is what GitHub calls it: ``push`` names the pushed branch, ``pull_request`` the
*base* branch it targets, ``workflow_dispatch`` the environment chosen by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lambda_promote.gate import branch_matches

if TYPE_CHECKING:
    from lambda_promote.config.schema import Trigger


@dataclass(frozen=True)
class Event:
    name: str
    branch: str | None = None
    env: str | None = None  # workflow_dispatch's chosen environment


@dataclass(frozen=True)
class Plan:
    event: Event
    environments: tuple[str, ...]
    why: str


def plan(triggers: Sequence[Trigger], event: Event, *, known_envs: Sequence[str] = ()) -> Plan:
    """``known_envs``: every environment, in promotion order (see ``promotion_order``)."""
    if event.name == "workflow_dispatch" and event.env:
        return Plan(event, (event.env,), f"manual dispatch to {event.env}")
    chosen: list[str] = []
    for trigger in triggers:
        if trigger.event != event.name:
            continue
        if trigger.branches and not (
            event.branch and branch_matches(event.branch, trigger.branches)
        ):
            continue
        chosen.extend(env for env in trigger.deploy if env not in chosen)
    if not chosen:
        where = f" on {event.branch}" if event.branch else ""
        return Plan(event, (), f"no trigger matches {event.name}{where}; nothing to do")
    ordered = _in_promotion_order(chosen, known_envs)
    return Plan(event, tuple(ordered), f"{event.name} on {event.branch} → {', '.join(ordered)}")


def _in_promotion_order(envs: list[str], known: Sequence[str]) -> list[str]:
    """Sources before the environments promoted from them (``known`` is in that order)."""
    return sorted(envs, key=known.index) if all(e in known for e in envs) else envs


def event_from_github(environ: Mapping[str, str]) -> Event | None:
    """The event GitHub Actions describes in its variables, or None outside Actions."""
    name = environ.get("GITHUB_EVENT_NAME")
    if not name:
        return None
    if name in ("pull_request", "pull_request_target"):
        return Event("pull_request", environ.get("GITHUB_BASE_REF") or None)
    return Event(name, environ.get("GITHUB_REF_NAME") or None)


def promotion_order(promote_from: Mapping[str, str | None]) -> list[str]:
    """Environments ordered so each comes after the one it promotes from."""

    def depth(env: str, seen: frozenset[str] = frozenset()) -> int:
        source = promote_from.get(env)
        if source is None or source in seen or source not in promote_from:
            return 0
        return 1 + depth(source, seen | {env})

    return sorted(promote_from, key=depth)
