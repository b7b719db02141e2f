"""``lambda-promote build``: the function's source and dependencies → one deterministic zip in
the artifact store (DESIGN §3, §4, §8). Everything later deploys these exact bytes.

    select source files (excludes) ─► inputs hash ─► cache hit? ─► return the stored artifact
                                   (inputs.py)           │ no
    dependency layer (cached by requirements + platform; uv only when new; deps.py)
        ─► deterministic zip, each file deflated once (archive.py, deflate.py) ─► digest
        ─► store with manifest + provenance ─► remember

The inputs hash covers everything that reaches the zip (file names, bytes and executable
bits, the requirements, runtime and architecture) and nothing else, so an unchanged build
is found again without installing or zipping anything, and yields the same digest. Every
build also leaves a stamp (stamp.py) by which the next one, with the same promote.yaml, can
answer a cache hit without loading the schema at all.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lambda_promote.artifacts import ArtifactStore, write_atomically
from lambda_promote.build.archive import write_zip
from lambda_promote.build.deflate import DeflateCache
from lambda_promote.build.deps import (
    DependencyInstaller,
    UvInstaller,
    dependency_key,
    ensure_dependencies,
    platform_tag,
)
from lambda_promote.build.inputs import (
    BUILD_FORMAT,
    Inputs,
    cache_hit_message,
    cached_artifact,
    default_cache_dir,
    find_inputs,
    inputs_hash,
)
from lambda_promote.build.plan import BuildPlan
from lambda_promote.build.provenance import read_provenance
from lambda_promote.build.sources import ZipEntry, check_no_clash, collect_dependencies
from lambda_promote.build.stamp import remember
from lambda_promote.model import Artifact

if TYPE_CHECKING:
    from lambda_promote.config.schema import Config

__all__ = [
    "BUILD_FORMAT",
    "BuildPlan",
    "BuildResult",
    "DependencyInstaller",
    "UvInstaller",
    "build",
    "default_cache_dir",
    "inputs_hash",
    "platform_tag",
]


@dataclass(frozen=True)
class BuildResult:
    artifact: Artifact
    cached: bool  # True: found by its inputs hash; nothing was installed or zipped


def build(
    config: Config,
    *,
    store: ArtifactStore,
    builder: str,
    progress: Callable[[str], None] | None = None,
    uv: str | None = None,
    installer: DependencyInstaller | None = None,
    cache_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    on_miss: Callable[[], None] | None = None,
) -> BuildResult:
    """Build the function of ``config`` into ``store``. ``installer`` replaces uv (tests);
    ``environ`` is where CI variables for the provenance are read (default ``os.environ``);
    ``on_miss`` is called once it is clear this is no cache hit, before the slow part, so the
    caller can prepare what it needs afterwards meanwhile."""
    say = progress or _quiet
    plan = BuildPlan.of(config)
    cache = (cache_dir or default_cache_dir(config.root)).resolve()
    inputs = find_inputs(plan, cache=cache)
    hit = cached_artifact(store, cache=cache, inputs=inputs.hash)
    if hit is not None:
        say(cache_hit_message(hit))
        result = BuildResult(artifact=hit, cached=True)
    else:
        if on_miss is not None:
            on_miss()
        artifact = _build_new(
            plan,
            inputs,
            store=store,
            builder=builder,
            cache=cache,
            installer=installer or UvInstaller(uv),
            environ=environ,
            say=say,
        )
        result = BuildResult(artifact=artifact, cached=False)
    # Only a config read from a file can be recognised again, and ``stamp.recall`` looks in
    # the default cache only.
    if config.file_sha256 is not None and cache_dir is None:
        remember(plan, config_sha256=config.file_sha256, inputs=inputs.hash, cache=cache)
    return result


def _build_new(
    plan: BuildPlan,
    inputs: Inputs,
    *,
    store: ArtifactStore,
    builder: str,
    cache: Path,
    installer: DependencyInstaller,
    environ: Mapping[str, str] | None,
    say: Callable[[str], None],
) -> Artifact:
    """Install (or reuse) the dependency layer, zip it with the sources and store the zip."""
    deps = _dependency_entries(inputs, cache=cache, installer=installer, plan=plan, say=say)
    check_no_clash(inputs.source, deps)
    stored = _zip_and_store(
        plan, [*inputs.source, *deps], store=store, inputs=inputs.hash, builder=builder,
        environ=environ, cache=cache, say=say,
    )  # fmt: skip
    write_atomically(cache / "builds" / inputs.hash, stored.digest.encode())
    return stored


def _dependency_entries(
    inputs: Inputs,
    *,
    cache: Path,
    installer: DependencyInstaller,
    plan: BuildPlan,
    say: Callable[[str], None],
) -> list[ZipEntry]:
    """The files of the installed dependency layer (installed now unless cached)."""
    if inputs.requirements is None or inputs.requirements_bytes is None:
        return []
    key = dependency_key(
        inputs.requirements_bytes,
        runtime=plan.runtime,
        architecture=plan.architecture,
        fmt=BUILD_FORMAT,
    )
    layer = ensure_dependencies(
        inputs.requirements,
        key=key,
        runtime=plan.runtime,
        architecture=plan.architecture,
        cache_dir=cache,
        installer=installer,
        progress=say,
    )
    return collect_dependencies(layer)


def _zip_and_store(
    plan: BuildPlan,
    entries: list[ZipEntry],
    *,
    store: ArtifactStore,
    inputs: str,
    builder: str,
    cache: Path,
    environ: Mapping[str, str] | None,
    say: Callable[[str], None],
) -> Artifact:
    say(f"zipping {len(entries)} files")
    (cache / "tmp").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache / "tmp") as tmp:
        zip_path = Path(tmp) / "function.zip"
        result = write_zip(entries, zip_path, cache=DeflateCache(cache / "deflate"))
        provenance = read_provenance(plan.root.resolve(), env=environ)
        artifact = Artifact(
            digest=result.digest,
            size=result.size,
            path=str(zip_path),
            files=result.files,
            inputs_hash=inputs,
            commit=provenance.commit,
            branch=provenance.branch,
            builder=builder,
            built_at=datetime.now(UTC),
            runtime=plan.runtime,
            architecture=plan.architecture,
            committed_at=provenance.committed_at,
        )
        stored = store.put(zip_path, artifact)
    say(f"stored artifact {stored.short} ({stored.size} bytes)")
    return stored


def _quiet(_message: str) -> None:
    return None
