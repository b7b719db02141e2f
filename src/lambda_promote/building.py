"""Building a release for a command: the artifact made once from the sources (build/), kept
in the store, recorded in the ledger with its audit event. ``build`` and a ``deploy`` without
``--artifact`` start here.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambda_promote.build.release import ReleaseBuild
    from lambda_promote.build.stamp import Recalled
    from lambda_promote.ui import UI
    from lambda_promote.workspace import Workspace


def build_unchanged(config_path: Path, ui: UI) -> Recalled | None:
    """The last build's artifact when neither promote.yaml nor any input changed since,
    found without loading the schema (build/stamp.py); ``None``: call ``build``."""
    from lambda_promote.build.inputs import cache_hit_message
    from lambda_promote.build.stamp import recall

    recalled = recall(config_path)
    if recalled is not None:
        with ui.task("building the artifact"):
            ui.step(cache_hit_message(recalled.artifact))
    return recalled


def build(ws: Workspace) -> ReleaseBuild:
    """Every function of the release (concurrently when there are many, build/release.py);
    each new artifact, and the release naming them, recorded with its audit event."""
    from lambda_promote.build.release import build_release

    with ws.ui.task("building the artifact" if not ws.config.many else "building the release"):
        result = build_release(
            ws.config,
            store=ws.store,
            builder=ws.actor,
            progress=ws.ui.step,
            on_miss=_load_ledger_code_meanwhile,
        )
    if result.cached:
        # Nothing was built and nothing changed: the first build of these inputs recorded
        # the artifact and its audit event. Not opening the ledger keeps a cache hit fast.
        return result
    made = [r.artifact for r in result.functions.values() if not r.cached]
    if ws.config.many:
        made.append(result.artifact)
    for art in made:
        ws.ledger.record_artifact(art)
        ws.audit(
            "artifact.built",
            digest=art.digest,
            details={
                "cached": False,
                "size": art.size,
                "commit": art.commit,
                "branch": art.branch,
                **({"functions": list(art.files)} if art.runtime == "release" else {}),
            },
        )
    return result


def _load_ledger_code_meanwhile() -> None:
    """A real build records its artifact in the ledger afterwards: import SQLAlchemy in the
    background while uv installs and zlib compresses (both release the GIL), instead of
    after them. A cache hit never gets here, and never loads it."""

    def load() -> None:
        import lambda_promote.ledger.sql  # noqa: F401

    threading.Thread(target=load, name="load-ledger-code", daemon=True).start()
