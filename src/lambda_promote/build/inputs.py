"""What decides the zip's bytes — the selected source files, the requirements, runtime and
architecture — summed up in one inputs hash, and the artifact an earlier build made from the
same inputs. Both the full build and the stamp's shortcut (``stamp.py``) start here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lambda_promote.artifacts import ArtifactStore, sha256_file
from lambda_promote.build.plan import BuildPlan
from lambda_promote.build.sources import (
    DEFAULT_SOURCE_EXCLUDES,
    ExcludeRules,
    ZipEntry,
    collect_source,
    require_handler,
)
from lambda_promote.errors import ArtifactError, BuildError, ConfigError
from lambda_promote.model import Artifact

# Bump when the zip layout or the excludes change: old cache entries then stop matching.
BUILD_FORMAT = 1


@dataclass(frozen=True)
class Inputs:
    source: list[ZipEntry]
    requirements: Path | None
    requirements_bytes: bytes | None
    hash: str


def default_cache_dir(root: Path) -> Path:
    """The build cache of the project whose promote.yaml is in ``root``."""
    return root / ".lambda-promote" / "cache"


def find_inputs(plan: BuildPlan, *, cache: Path) -> Inputs:
    """The source files that go into the zip and the inputs hash; ``BuildError`` when the
    handler's module or the requirements file is missing."""
    root = plan.root.resolve()
    source_dir = _within_project(root / plan.source, root=root, setting="function.source")
    rules = ExcludeRules((*DEFAULT_SOURCE_EXCLUDES, *plan.exclude))
    source = collect_source(source_dir, rules=rules, never=_never_zipped(plan, cache=cache))
    require_handler(source, handler=plan.handler, source=source_dir)
    requirements = _requirements_file(plan.requirements, root=root)
    req_bytes = requirements.read_bytes() if requirements else None
    digest = inputs_hash(
        source, requirements=req_bytes, runtime=plan.runtime, architecture=plan.architecture
    )
    return Inputs(source, requirements, req_bytes, digest)


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


def cached_artifact(store: ArtifactStore, *, cache: Path, inputs: str) -> Artifact | None:
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


def cache_hit_message(artifact: Artifact) -> str:
    return f"cache hit: artifact {artifact.short} (inputs unchanged; nothing installed or zipped)"


def _requirements_file(requirements: str | None, *, root: Path) -> Path | None:
    if requirements is None:
        return None
    path = _within_project(root / requirements, root=root, setting="function.requirements")
    if not path.is_file():
        raise BuildError(
            f"the requirements file {path} does not exist",
            hint="fix 'function.requirements' in promote.yaml (relative to its folder), "
            "or remove it when the function needs no dependencies",
        )
    return path


def _within_project(path: Path, *, root: Path, setting: str) -> Path:
    """``path`` when it (and, through links, what it points to) lies in the project's folder;
    ``ConfigError`` otherwise. A pull request controls promote.yaml and the checkout, never the
    rest of the runner, so nothing outside the checkout may reach the zip or the installer."""
    try:
        target = path.resolve()
    except (OSError, RuntimeError):
        target = path
    if target.is_relative_to(root):
        return path
    via_link = Path(os.path.normpath(path.absolute())) != target
    link = f" (through a symbolic link to {target})" if via_link else ""
    raise ConfigError(
        f"'{setting}' points at {path}{link}, outside the project's folder {root}",
        hint=f"keep what '{setting}' names inside the folder of promote.yaml",
    )


def _never_zipped(plan: BuildPlan, *, cache: Path) -> list[Path]:
    """The tool's own files, which must stay out of the zip even inside the source folder."""
    root = plan.root.resolve()
    paths = [cache, root / ".lambda-promote", plan.config_path.resolve()]
    if "://" not in plan.artifacts or plan.artifacts.startswith("file://"):
        paths.append(root / Path(plan.artifacts.removeprefix("file://")).expanduser())
    database = _sqlite_file(plan.state)
    if database is not None:
        db = root / database
        paths += [db, *(db.with_name(db.name + s) for s in ("-journal", "-wal", "-shm"))]
    return paths


def _sqlite_file(url: str) -> Path | None:
    match = re.match(r"^sqlite(?:\+\w+)?:///([^?]+)", url)
    return Path(match.group(1)) if match else None


def _name(entry: ZipEntry) -> str:
    return entry.name
