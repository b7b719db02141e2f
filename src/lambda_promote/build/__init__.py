"""``lambda-promote build``: the function's source and dependencies → one deterministic zip in
the artifact store (DESIGN §3, §4, §8). Everything later deploys these exact bytes.

    select source files (excludes) ─► inputs hash ─► cache hit? ─► return the stored artifact
                                                         │ no
    dependency layer (cached by requirements + platform; uv only when new)
        ─► deterministic zip ─► digest ─► store with manifest + provenance ─► remember

The inputs hash covers everything that reaches the zip (file names, bytes and executable
bits, the requirements, runtime and architecture) and nothing else, so an unchanged build
is found again without installing or zipping anything, and yields the same digest.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lambda_promote.artifacts import ArtifactStore, sha256_file, write_atomically
from lambda_promote.build.archive import write_zip
from lambda_promote.build.deps import (
    DependencyInstaller,
    UvInstaller,
    dependency_key,
    ensure_dependencies,
    platform_tag,
)
from lambda_promote.build.provenance import read_provenance
from lambda_promote.build.sources import (
    DEFAULT_SOURCE_EXCLUDES,
    ExcludeRules,
    ZipEntry,
    check_no_clash,
    collect_dependencies,
    collect_source,
    require_handler,
)
from lambda_promote.config.schema import Config, Function
from lambda_promote.errors import ArtifactError, BuildError
from lambda_promote.model import Artifact

__all__ = [
    "BUILD_FORMAT",
    "BuildResult",
    "DependencyInstaller",
    "UvInstaller",
    "build",
    "default_cache_dir",
    "inputs_hash",
    "platform_tag",
]

# Bump when the zip layout or the excludes change: old cache entries then stop matching.
BUILD_FORMAT = 1


@dataclass(frozen=True)
class BuildResult:
    artifact: Artifact
    cached: bool  # True: found by its inputs hash; nothing was installed or zipped


def default_cache_dir(config: Config) -> Path:
    return config.root / ".lambda-promote" / "cache"


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
    fn = config.function
    root = config.root.resolve()
    cache = (cache_dir or default_cache_dir(config)).resolve()
    source_dir = root / fn.source
    rules = ExcludeRules((*DEFAULT_SOURCE_EXCLUDES, *fn.exclude))
    source = collect_source(source_dir, rules=rules, never=_never_zipped(config, cache=cache))
    require_handler(source, handler=fn.handler, source=source_dir)
    requirements = _requirements_file(fn.requirements, root=root)
    req_bytes = requirements.read_bytes() if requirements else None
    inputs = inputs_hash(
        source, requirements=req_bytes, runtime=fn.runtime, architecture=fn.architecture
    )
    hit = _cached_artifact(store, cache=cache, inputs=inputs)
    if hit is not None:
        say(f"cache hit: artifact {hit.short} (inputs unchanged; nothing installed or zipped)")
        return BuildResult(artifact=hit, cached=True)
    if on_miss is not None:
        on_miss()
    deps = _dependency_entries(
        requirements, req_bytes, cache=cache, installer=installer or UvInstaller(uv), fn=fn,
        say=say,
    )  # fmt: skip
    check_no_clash(source, deps)
    stored = _zip_and_store(
        config, [*source, *deps], store=store, inputs=inputs, builder=builder, cache=cache,
        environ=environ, say=say,
    )  # fmt: skip
    write_atomically(cache / "builds" / inputs, stored.digest.encode())
    return BuildResult(artifact=stored, cached=False)


def inputs_hash(
    source: Iterable[ZipEntry], *, requirements: bytes | None, runtime: str, architecture: str
) -> str:
    """sha256 over what decides the zip's bytes; provenance and mtimes are not part of it."""
    files = [[e.name, sha256_file(e.path), e.executable] for e in sorted(source, key=_name)]
    document = {
        "format": BUILD_FORMAT,
        "runtime": runtime,
        "architecture": architecture,
        "files": files,
        "requirements": hashlib.sha256(requirements).hexdigest() if requirements else None,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _dependency_entries(
    requirements: Path | None,
    req_bytes: bytes | None,
    *,
    cache: Path,
    installer: DependencyInstaller,
    fn: Function,
    say: Callable[[str], None],
) -> list[ZipEntry]:
    """The files of the installed dependency layer (installed now unless cached)."""
    if requirements is None or req_bytes is None:
        return []
    key = dependency_key(
        req_bytes,
        runtime=fn.runtime,
        architecture=fn.architecture,
        fmt=BUILD_FORMAT,
    )
    layer = ensure_dependencies(
        requirements,
        key=key,
        runtime=fn.runtime,
        architecture=fn.architecture,
        cache_dir=cache,
        installer=installer,
        progress=say,
    )
    return collect_dependencies(layer)


def _zip_and_store(
    config: Config,
    entries: list[ZipEntry],
    *,
    store: ArtifactStore,
    inputs: str,
    builder: str,
    cache: Path,
    environ: Mapping[str, str] | None,
    say: Callable[[str], None],
) -> Artifact:
    fn = config.function
    say(f"zipping {len(entries)} files")
    (cache / "tmp").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache / "tmp") as tmp:
        zip_path = Path(tmp) / "function.zip"
        result = write_zip(entries, zip_path)
        provenance = read_provenance(config.root.resolve(), env=environ)
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
            runtime=fn.runtime,
            architecture=fn.architecture,
        )
        stored = store.put(zip_path, artifact)
    say(f"stored artifact {stored.short} ({stored.size} bytes)")
    return stored


def _cached_artifact(store: ArtifactStore, *, cache: Path, inputs: str) -> Artifact | None:
    """The artifact an earlier build made from the same inputs, if it is still intact."""
    try:
        digest = (cache / "builds" / inputs).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    try:
        artifact = store.get(digest)
        store.verified_path(digest)
    except ArtifactError:
        return None  # deleted or tampered with: build it again
    return artifact


def _requirements_file(requirements: str | None, *, root: Path) -> Path | None:
    if requirements is None:
        return None
    path = root / requirements
    if not path.is_file():
        raise BuildError(
            f"the requirements file {path} does not exist",
            hint="fix 'function.requirements' in promote.yaml (relative to its folder), "
            "or remove it when the function needs no dependencies",
        )
    return path


def _never_zipped(config: Config, *, cache: Path) -> list[Path]:
    """The tool's own files, which must stay out of the zip even inside the source folder."""
    root = config.root.resolve()
    paths = [cache, root / ".lambda-promote", config.path.resolve()]
    if "://" not in config.artifacts or config.artifacts.startswith("file://"):
        paths.append(root / Path(config.artifacts.removeprefix("file://")).expanduser())
    database = _sqlite_file(config.state)
    if database is not None:
        db = root / database
        paths += [db, *(db.with_name(db.name + s) for s in ("-journal", "-wal", "-shm"))]
    return paths


def _sqlite_file(url: str) -> Path | None:
    match = re.match(r"^sqlite(?:\+\w+)?:///([^?]+)", url)
    return Path(match.group(1)) if match else None


def _name(entry: ZipEntry) -> str:
    return entry.name


def _quiet(_message: str) -> None:
    return None
