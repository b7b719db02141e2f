"""A release of many functions (DESIGN §11.4): every function of ``functions:`` built at once,
each exactly as a single function is (``build``), named together by one digest.

    functions ─► build each (thread pool: separate uv installs and zips, shared caches)
              ─► release manifest: the sorted lines ``NAME DIGEST\\n`` ─► its sha256 is the
                 release digest ─► stored like an artifact (its bytes are the manifest)

Storing the manifest as an artifact makes a release digest (or its prefix) resolve, verify
and record exactly as an artifact's does: the gate, approvals and promotion work on it
unchanged, and re-hashing the manifest before a deployment proves the function digests it
names; each function's zip is then re-hashed before it is published. With one function the
release digest is that function's artifact digest, and there is no manifest.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lambda_promote.model import Artifact

if TYPE_CHECKING:
    from lambda_promote.artifacts import ArtifactStore
    from lambda_promote.build import BuildResult
    from lambda_promote.config.schema import Config, Function

# The ``runtime`` of a release manifest in the store and the ledger: not a function.
MANIFEST_RUNTIME = "release"
# At most this many functions build at once: uv and zlib release the GIL, more only queue.
MAX_WORKERS = 4


def release_digest(functions: Mapping[str, str]) -> str:
    """The digest naming ``functions`` (NAME → artifact digest) together."""
    if len(functions) == 1:
        return next(iter(functions.values()))
    return hashlib.sha256(manifest_text(functions)).hexdigest()


def manifest_text(functions: Mapping[str, str]) -> bytes:
    return "".join(f"{name} {digest}\n" for name, digest in sorted(functions.items())).encode()


def release_functions(artifact: Artifact) -> dict[str, str] | None:
    """NAME → artifact digest of a release manifest; None for a function's own artifact."""
    if artifact.runtime != MANIFEST_RUNTIME:
        return None
    return {name: digest for name, _, digest in (line.partition(" ") for line in artifact.files)}


@dataclass(frozen=True)
class ReleaseBuild:
    artifact: Artifact  # the release: its manifest, or the one function's artifact
    cached: bool
    functions: dict[str, BuildResult] = field(default_factory=dict)


def function_config(config: Config, name: str) -> Config:
    """``config`` as if ``name`` were its only ``function:`` (what ``build`` reads). It has no
    file digest: the release, not each function, leaves the stamp (stamp.py)."""
    return cast("Config", _OneFunction(config, config.release_functions[name]))


class _OneFunction:
    """A config (the schema's or its snapshot) seen through one function of its release."""

    file_sha256 = None
    functions = None

    def __init__(self, config: Config, function: Function) -> None:
        self._config = config
        self.function = function

    def __getattr__(self, name: str) -> Any:
        return getattr(self._config, name)


def build_release(
    config: Config,
    *,
    store: ArtifactStore,
    builder: str,
    progress: Callable[[str], None] | None = None,
    on_miss: Callable[[], None] | None = None,
    **options: Any,
) -> ReleaseBuild:
    """Build every function of ``config``; ``options`` as ``build`` takes them."""
    from lambda_promote.build import build

    names = list(config.release_functions)
    if not config.many:
        one = build(
            config, store=store, builder=builder, progress=progress, on_miss=on_miss, **options
        )
        return ReleaseBuild(one.artifact, one.cached, {names[0]: one})
    say = progress or (lambda _m: None)
    once = _Once(on_miss)
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(names))) as pool:
        futures = {
            name: pool.submit(
                build,
                function_config(config, name),
                store=store,
                builder=builder,
                progress=_prefixed(say, name),
                on_miss=once,
                **options,
            )
            for name in names
        }
        results = {name: future.result() for name, future in futures.items()}
    manifest, stored_now = store_manifest(results, store=store, builder=builder)
    if config.file_sha256 is not None and options.get("cache_dir") is None:
        from lambda_promote.build.inputs import default_cache_dir
        from lambda_promote.build.plan import BuildPlan
        from lambda_promote.build.stamp import remember_release

        plans = {
            name: (BuildPlan.of(function_config(config, name)), r.artifact.inputs_hash)
            for name, r in results.items()
        }
        remember_release(
            config.path,
            plans,
            config_sha256=config.file_sha256,
            release=manifest.digest,
            cache=default_cache_dir(config.root).resolve(),
        )
    cached = all(r.cached for r in results.values()) and not stored_now
    return ReleaseBuild(manifest, cached, results)


def store_manifest(
    results: Mapping[str, BuildResult], *, store: ArtifactStore, builder: str
) -> tuple[Artifact, bool]:
    """The release manifest in ``store`` (kept when already there: a release never changes);
    and whether it was stored just now."""
    from lambda_promote.errors import ArtifactError

    digests = {name: r.artifact.digest for name, r in results.items()}
    text = manifest_text(digests)
    digest = hashlib.sha256(text).hexdigest()
    try:
        return store.get(digest), False
    except ArtifactError:
        pass
    first = _newest_change(results)
    manifest = Artifact(
        digest=digest,
        size=len(text),
        path="",
        files=tuple(line for line in text.decode().splitlines()),
        inputs_hash=hashlib.sha256(
            "".join(sorted(r.artifact.inputs_hash for r in results.values())).encode()
        ).hexdigest(),
        commit=first.commit,
        branch=first.branch,
        builder=builder,
        built_at=datetime.now(UTC),
        runtime=MANIFEST_RUNTIME,
        committed_at=first.committed_at,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "release.txt"
        path.write_bytes(text)
        return store.put(path, manifest), True


def _newest_change(results: Mapping[str, BuildResult]) -> Artifact:
    """The function artifact whose commit the release carries: the most recently committed
    (a function unchanged since an older build keeps that build's commit, and the release's
    lead time starts at its newest change); the first by name when none has a commit time."""
    ordered = [results[name].artifact for name in sorted(results)]
    timed = [a for a in ordered if a.committed_at is not None]
    if not timed:
        return ordered[0]
    return max(timed, key=lambda a: cast(datetime, a.committed_at))


def function_artifacts(store: ArtifactStore, release: Artifact) -> dict[str, Artifact]:
    """NAME → the stored artifact of each function of ``release`` (one function: itself)."""
    named = release_functions(release)
    if named is None:
        return {}
    return {name: store.get(digest) for name, digest in named.items()}


class _Once:
    """``on_miss`` called by the first function that is no cache hit, and only once."""

    def __init__(self, call: Callable[[], None] | None) -> None:
        self._call = call
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            call, self._call = self._call, None
        if call is not None:
            call()


def _prefixed(say: Callable[[str], None], name: str) -> Callable[[str], None]:
    return lambda message: say(f"{name}: {message}")
