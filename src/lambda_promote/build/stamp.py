"""An unchanged build, answered without loading promote.yaml's schema.

Every build remembers, per promote.yaml, the sha256 of the bytes it validated, the
``BuildPlan`` it read from them and the inputs hash it found. The next ``build`` reads
promote.yaml's bytes first: when they are identical (and lambda-promote is the same version),
validating them again would give the same plan, so the sources are hashed straight away. If
the inputs hash is unchanged too, the earlier validation and handler check saw these exact
files, and an intact artifact in the store is the answer — without pydantic or the YAML
parser, which are most of a cache hit's time.

Anything else (a changed byte anywhere in promote.yaml, another version, a missing or damaged
stamp, a changed source, a deleted artifact) falls back to the full path: load, validate,
build. A stamp can only make a build faster, never different.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_promote import __version__
from lambda_promote.artifacts import open_store, write_atomically
from lambda_promote.build.inputs import cached_artifact, default_cache_dir, find_inputs
from lambda_promote.build.plan import BuildPlan
from lambda_promote.errors import PromoteError
from lambda_promote.model import Artifact

# Bump when the stamp's layout or the meaning of a plan's fields changes.
STAMP_FORMAT = 1


@dataclass(frozen=True)
class Recalled:
    plan: BuildPlan
    artifact: Artifact  # the release (a manifest when it has many functions, stamp of many)
    functions: dict[str, Artifact] = field(default_factory=dict)  # many functions only


def remember(plan: BuildPlan, *, config_sha256: str, inputs: str, cache: Path) -> None:
    """Note that promote.yaml with these bytes gave ``plan``, and its build ``inputs``."""
    document = {
        "format": STAMP_FORMAT,
        "version": __version__,
        "config_sha256": config_sha256,
        "inputs": inputs,
        "plan": plan.to_json(),
    }
    path = stamp_path(cache, plan.config_path)
    write_atomically(path, json.dumps(document, indent=2, sort_keys=True).encode())


def recall(config_path: Path) -> Recalled | None:
    """The last build's artifact when promote.yaml and every input are as that build saw
    them; ``None`` whenever anything differs or cannot be read."""
    config_path = config_path.absolute()
    cache = default_cache_dir(config_path.parent).resolve()
    try:
        config_sha256 = hashlib.sha256(config_path.read_bytes()).hexdigest()
        document = json.loads(stamp_path(cache, config_path).read_bytes())
        expected = (document["format"], document["version"], document["config_sha256"])
        plan = BuildPlan.from_json(document["plan"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if expected != (STAMP_FORMAT, __version__, config_sha256) or plan.config_path != config_path:
        return None
    if "functions" in document:
        return _recall_release(document, plan, cache)
    try:
        inputs = find_inputs(plan, cache=cache)
        if inputs.hash != document["inputs"]:
            return None
        store = open_store(plan.artifacts, root=plan.root)
        artifact = cached_artifact(store, cache=cache, inputs=inputs.hash)
    except PromoteError:
        return None  # the full path reports it properly
    return None if artifact is None else Recalled(plan, artifact)


def remember_release(
    config_path: Path,
    functions: dict[str, tuple[BuildPlan, str]],
    *,
    config_sha256: str,
    release: str,
    cache: Path,
) -> None:
    """The stamp of a many-function release: each function's plan and inputs hash, and the
    release digest their artifacts make."""
    entries = {
        name: {"plan": plan.to_json(), "inputs": inputs}
        for name, (plan, inputs) in functions.items()
    }
    first = entries[sorted(entries)[0]]
    document = {
        "format": STAMP_FORMAT,
        "version": __version__,
        "config_sha256": config_sha256,
        "inputs": first["inputs"],
        "plan": first["plan"],
        "functions": entries,
        "release": release,
    }
    path = stamp_path(cache, config_path.absolute())
    write_atomically(path, json.dumps(document, indent=2, sort_keys=True).encode())


def _recall_release(document: dict[str, Any], plan: BuildPlan, cache: Path) -> Recalled | None:
    """Every function's inputs unchanged and its artifact intact, and the release manifest
    intact: the release, without the schema."""
    try:
        store = open_store(plan.artifacts, root=plan.root)
        found: dict[str, Artifact] = {}
        for name, entry in document["functions"].items():
            inputs = find_inputs(BuildPlan.from_json(entry["plan"]), cache=cache)
            artifact = cached_artifact(store, cache=cache, inputs=inputs.hash)
            if inputs.hash != entry["inputs"] or artifact is None:
                return None
            found[name] = artifact
        release = store.get(str(document["release"]))
        store.verified_path(release.digest)
    except (PromoteError, KeyError, TypeError, ValueError):
        return None
    return Recalled(plan, release, found)


def stamp_path(cache: Path, config_path: Path) -> Path:
    """One stamp per promote.yaml (a project may have several, chosen with --config)."""
    key = hashlib.sha256(str(config_path).encode()).hexdigest()[:16]
    return cache / "stamps" / f"{key}.json"
