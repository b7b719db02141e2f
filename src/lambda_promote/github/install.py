"""How every job of the generated workflow installs lambda-promote: reproducibly, from a lock
file of hashes that ``lambda-promote github workflow`` writes beside the workflow.

The jobs hold ``id-token: write``, so what they install must be exactly what was reviewed:

    promote.yaml ``github.tool``      what the lock holds            how a job installs it
    (unset) → this version, released  lambda-promote + deps, hashed  pip --require-hashes -r LOCK
    ``0.2.0`` (a release)             the same for that version      the same
    ``git+https://…@<commit SHA>``    its deps + the build backend,  the same, then the commit
                                      hashed                         itself (--no-deps), pip check

A git commit names its content, so the tool's own source is pinned by its SHA; everything pip
downloads is pinned by hash. The lock is resolved once with ``uv pip compile
--generate-hashes`` for the runner's Python and platform (this needs the package index) and is
kept until its *inputs* change: the header records a fingerprint of them, so ``--check`` can
tell, offline, that the lock still answers what promote.yaml asks for.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from lambda_promote import __version__
from lambda_promote.config.schema import Config
from lambda_promote.errors import PromoteError

LOCK_PATH = Path(".github/lambda-promote.lock")
# GitHub's ubuntu-24.04 runners: x86-64 Linux with a recent glibc.
RUNNER_PLATFORM = "x86_64-unknown-linux-gnu"
# Without build isolation, pip builds the git source with the build backend from the lock.
BUILD_BACKEND = "hatchling"
_FINGERPRINT = re.compile(r"^# inputs: (sha256:[0-9a-f]{64})$", re.MULTILINE)
_EXTRA_ONLY = re.compile(r"""^\s*extra\s*==\s*["']([A-Za-z0-9_.-]+)["']\s*$""")


@dataclass(frozen=True)
class ToolSource:
    """What the workflow installs: a released ``version`` or a ``git_url`` at a commit."""

    version: str | None
    git_url: str | None
    extras: tuple[str, ...]
    python: str  # the runner's Python, e.g. "3.12"

    @property
    def name(self) -> str:
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        return f"lambda-promote{extras}"

    @property
    def label(self) -> str:
        """One line for people: what is installed."""
        return self.git_url or f"{self.name}=={self.version}"

    def lock_inputs(self) -> list[str]:
        """The requirement lines uv resolves into the lock."""
        if self.git_url is None:
            return [f"{self.name}=={self.version}"]
        # The commit itself cannot be hashed by pip: its dependencies (as this lambda-promote
        # declares them, which `pip check` confirms on the runner) and the build backend can.
        return [*tool_requirements(self.extras), BUILD_BACKEND]

    def fingerprint(self) -> str:
        inputs = {
            "tool": self.label,
            "python": self.python,
            "platform": RUNNER_PLATFORM,
            "requirements": self.lock_inputs(),
        }
        blob = json.dumps(inputs, sort_keys=True).encode()
        return "sha256:" + hashlib.sha256(blob).hexdigest()


def runner_python(config: Config) -> str:
    """The Python the jobs set up: the function's runtime (with many functions, the newest of
    theirs), 3.11 at least (the tool's own minimum; builds fetch wheels for each function's
    runtime either way)."""
    versions = [
        tuple(map(int, f.runtime.removeprefix("python").split(".")))
        for f in config.release_functions.values()
    ]
    newest = max(versions)
    return ".".join(map(str, newest)) if newest >= (3, 11) else "3.12"


def tool_source(config: Config) -> ToolSource:
    extras = set(config.github.extras)
    uses_aws = (
        config.target == "aws"
        or config.artifacts.startswith("s3://")
        or config.state.startswith("dynamodb://")
    )
    if uses_aws:
        extras.add("aws")
    if config.state.startswith("postgresql"):
        extras.add("postgres")
    tool = config.github.tool
    git_url = tool if tool and tool.startswith("git+") else None
    version = None if git_url else (tool or __version__)
    return ToolSource(version, git_url, tuple(sorted(extras)), runner_python(config))


def tool_requirements(extras: tuple[str, ...]) -> list[str]:
    """lambda-promote's own requirements (its installed metadata) for ``extras``."""
    lines: list[str] = []
    for line in metadata.requires("lambda-promote") or []:
        requirement, _, marker = line.partition(";")
        if marker.strip():
            only = _EXTRA_ONLY.match(marker)
            if only is None or only.group(1) not in extras:
                continue
        lines.append(requirement.strip().replace(" ", ""))
    return sorted(dict.fromkeys(lines), key=str.lower)


# --- the lock file -------------------------------------------------------------------------------
def lock_header(source: ToolSource) -> str:
    lines = [
        "lambda-promote and every package it needs, for .github/workflows/promote.yml, pinned",
        f"by hash. Written by `lambda-promote github workflow` (lambda-promote {__version__}) with",
        "`uv pip compile --generate-hashes`; `lambda-promote github workflow --relock` resolves",
        "again (newer releases, new hashes): review that diff like code.",
        f"tool: {source.label}",
        f"python: {source.python} on {RUNNER_PLATFORM}",
        f"inputs: {source.fingerprint()}",
    ]
    return "".join(f"# {line}\n" for line in lines)


def lock_state(path: Path, source: ToolSource) -> str:
    """``current``, ``missing``, ``stale`` (other inputs) or ``unhashed`` (edited by hand)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return "missing"
    found = _FINGERPRINT.search(text)
    if found is None or found.group(1) != source.fingerprint():
        return "stale"
    pinned = [ln for ln in text.splitlines() if ln and not ln[0].isspace() and ln[0] != "#"]
    if not pinned or any(not ln.endswith("\\") for ln in pinned):
        return "unhashed"
    return "current"


def compile_lock(source: ToolSource, *, uv: str | None = None, timeout: float = 300) -> str:
    """Resolve the lock with uv against the configured package index (network)."""
    from lambda_promote.build.deps import find_uv

    command = [
        uv or find_uv(),
        "pip",
        "compile",
        "--generate-hashes",
        "--no-header",
        "--quiet",
        "--python-version",
        source.python,
        "--python-platform",
        RUNNER_PLATFORM,
        "-",
    ]
    try:
        done = subprocess.run(
            command,
            input="\n".join(source.lock_inputs()) + "\n",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=_uv_environ(),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PromoteError(
            f"could not resolve the lock for {source.label}: {exc}",
            hint="uv needs the package index; run again with network access",
            code="lock_failed",
        ) from None
    if done.returncode != 0:
        raise PromoteError(
            f"could not resolve {source.label} for Python {source.python}: "
            + (done.stderr.strip().splitlines() or ["uv failed"])[-1],
            hint=_unresolvable_hint(source),
            code="lock_failed",
        )
    return lock_header(source) + done.stdout.replace("-r -", "the tool's requirements")


def _unresolvable_hint(source: ToolSource) -> str:
    if source.git_url is None:
        return (
            f"is lambda-promote {source.version} released on your package index? If not, set "
            "`github: {tool: git+https://HOST/OWNER/lambda-promote@COMMIT_SHA}` in promote.yaml"
        )
    return "check the package index (uv uses UV_INDEX_URL / uv.toml like pip uses pip.conf)"


def _uv_environ() -> dict[str, str]:
    import os

    # Resolving for another Python needs no interpreter download: never let uv try.
    return {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
