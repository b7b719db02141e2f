"""Which configuration a deployment applies and records (DESIGN §11.3, §5.1 extended). Pure:
the caller reads the source environment's history; nothing here touches the outside.

    fresh release (no promote_from)   release part = ``function:`` as written today
    promotion (promote_from: SOURCE)  release part = what SOURCE's newest successful deployment
                                      of this digest recorded as its release part
    either                            effective = release part + this environment's overrides

So production runs the settings staging verified with these bytes, plus only production's own
overrides — an edit of ``function:`` after staging's deployment does not ride along unverified.
A source deployment recorded before configurations were (NULL) falls back to ``function:``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambda_promote.drift import ledger_live
from lambda_promote.function_config import (
    FunctionConfiguration,
    differences,
    effective,
    settings_of,
)
from lambda_promote.model import Deployment, DeploymentKind, DeploymentState

if TYPE_CHECKING:
    from lambda_promote.config.schema import Config


@dataclass(frozen=True)
class Configured:
    """What a deployment into one environment applies, and where its release part came from."""

    release: FunctionConfiguration
    effective: FunctionConfiguration
    carried_from: str | None = None  # the source deployment whose release part is carried
    notes: tuple[str, ...] = ()  # for the person deploying

    def recorded(self) -> dict[str, Any]:
        """The deployment's fields: ``configuration``, its digest, ``release_configuration``."""
        return {
            "configuration": self.effective.to_json(),
            "configuration_digest": self.effective.digest,
            "release_configuration": self.release.to_json(),
        }


def configured_for(
    config: Config, env: str, *, digest: str, source_history: Sequence[Deployment] = ()
) -> Configured:
    """The configuration ``env`` gets for the release ``digest``; ``source_history`` is the
    promote_from environment's deployments, newest first (empty for a fresh release)."""
    written = settings_of(config.function)
    overrides = settings_of(config.environments[env])
    source = config.environments[env].promote_from
    verified = _verified_in_source(source_history, digest) if source else None
    if verified is None or verified.release_configuration is None:
        return Configured(written, effective(written, overrides))
    carried = FunctionConfiguration.from_json(verified.release_configuration)
    notes: tuple[str, ...] = ()
    changed = differences(carried.to_json(), written.to_json())
    if changed:
        notes = (
            f"function: in promote.yaml differs from what {source} verified with this release "
            f"(deployment {verified.id}): {'; '.join(changed)}; deploying what {source} "
            f"verified — deploy {source} first to move the new settings along",
        )
    return Configured(carried, effective(carried, overrides), verified.id, notes)


def _verified_in_source(history: Sequence[Deployment], digest: str) -> Deployment | None:
    for dep in history:
        if (
            dep.digest == digest
            and dep.kind is DeploymentKind.DEPLOY
            and dep.state is DeploymentState.SUCCEEDED
        ):
            return dep
    return None


def changes_against_live(history: Sequence[Deployment], configured: Configured) -> list[str] | None:
    """What the deployment would change in the environment's configuration, against what its
    ledger left live (``history`` newest first); None when the ledger cannot say."""
    live = ledger_live(history)
    if live is None or live.configuration is None:
        return None
    return differences(live.configuration, configured.effective.to_json())
