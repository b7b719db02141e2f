"""The dependency layer: ``requirements.txt`` installed with uv for Lambda's platform.

uv resolves and installs wheels for the function's ``runtime`` and ``architecture`` (not the
build machine's), so an arm64 build works from an x86-64 laptop without docker. Only wheels
are accepted: building an sdist here would compile for the wrong machine.

The installed folder is cached under ``<cache>/deps/<key>``, keyed by the requirements bytes
and the platform, and moved into place by one rename, so a present folder is always complete
and a source-only change reuses it without running uv.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from lambda_promote.errors import BuildError

# Lambda's OS per runtime: python3.12+ run on Amazon Linux 2023 (glibc 2.34), older ones on
# Amazon Linux 2 (glibc 2.26, so manylinux2014 = glibc 2.17 wheels).
_AL2023_RUNTIMES = frozenset({"python3.12", "python3.13"})
_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}
DEFAULT_UV_TIMEOUT = 900.0


def python_version(runtime: str) -> str:
    """``python3.12`` → ``3.12``."""
    return runtime.removeprefix("python")


def platform_tag(runtime: str, architecture: str) -> str:
    """The ``uv --python-platform`` value for a Lambda runtime and architecture."""
    machine = _MACHINE[architecture]
    glibc = "manylinux_2_34" if runtime in _AL2023_RUNTIMES else "manylinux2014"
    return f"{machine}-{glibc}"


class DependencyInstaller(Protocol):
    """Installs ``requirements`` into the empty folder ``target`` for a Lambda platform."""

    def __call__(
        self, requirements: Path, target: Path, *, platform: str, python_version: str
    ) -> None: ...


def find_uv() -> str:
    """The uv binary shipped by the ``uv`` package, else the one on PATH."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    if found is None:
        raise BuildError(
            "uv is needed to install the function's requirements and was not found",
            hint="install it with 'pip install uv' (it is a dependency of lambda-promote)",
        )
    return found


class UvInstaller:
    """Runs ``uv pip install --target`` for another platform, capturing its output."""

    def __init__(self, uv: str | None = None, *, timeout: float = DEFAULT_UV_TIMEOUT) -> None:
        self.uv = uv
        self.timeout = timeout

    def __call__(
        self, requirements: Path, target: Path, *, platform: str, python_version: str
    ) -> None:
        uv = self.uv or find_uv()
        command = [
            uv, "pip", "install",
            "--target", str(target),
            "--python-platform", platform,
            "--python-version", python_version,
            # Any interpreter will do for a --target install; naming ours stops uv from
            # looking for (or downloading) one.
            "--python", sys.executable,
            "--only-binary", ":all:",
            "--no-compile-bytecode",
            # Copies, not links into uv's cache, so cleaning that cache cannot break ours.
            "--link-mode", "copy",
            "--no-progress", "--color", "never",
            "-r", str(requirements),
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env=_uv_env(),
                check=False,
            )
        except FileNotFoundError:
            raise BuildError(
                f"could not run uv at {uv}", hint="install it with 'pip install uv'"
            ) from None
        except subprocess.TimeoutExpired:
            raise BuildError(
                f"uv did not finish installing {requirements.name} within {self.timeout:.0f}s",
                hint="check the network and the package index, then build again",
            ) from None
        if done.returncode != 0:
            raise _install_failed(done.stderr or done.stdout, requirements, platform)


def _uv_env() -> dict[str, str]:
    # uv keeps its own cache and index settings (UV_CACHE_DIR, UV_INDEX_URL, …); only
    # bytecode compilation is forced off since .pyc files are excluded anyway.
    env = dict(os.environ)
    env.pop("UV_COMPILE_BYTECODE", None)
    return env


def _install_failed(output: str, requirements: Path, platform: str) -> BuildError:
    tail = "\n".join(output.strip().splitlines()[-12:])
    if "no usable wheels" in output or "no wheels" in output:
        hint = (
            f"only wheels can be installed for another platform ({platform}); pin a version "
            "that ships a manylinux wheel for it, or use a pure-Python alternative"
        )
    elif "not found in the package registry" in output:
        hint = f"check the package names and versions in {requirements.name}"
    else:
        hint = f"fix {requirements.name} (uv's own message is above) and build again"
    return BuildError(f"installing {requirements.name} for {platform} failed:\n{tail}", hint=hint)


def dependency_key(requirements: bytes, *, runtime: str, architecture: str, fmt: int) -> str:
    """What the installed layer depends on: change any of it and uv runs again."""
    digest = hashlib.sha256()
    for part in (str(fmt), runtime, architecture, platform_tag(runtime, architecture)):
        digest.update(part.encode() + b"\0")
    digest.update(requirements)
    return digest.hexdigest()


def ensure_dependencies(
    requirements: Path,
    *,
    key: str,
    runtime: str,
    architecture: str,
    cache_dir: Path,
    installer: DependencyInstaller,
    progress: Callable[[str], None],
) -> Path:
    """The installed dependency folder for ``key``, installing it only when absent."""
    final = cache_dir / "deps" / key
    if final.is_dir():
        progress(
            f"reusing dependencies for {runtime} {architecture} ({requirements.name} unchanged)"
        )
        return final
    progress(f"installing dependencies for {runtime} {architecture} with uv…")
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{key[:12]}.", suffix=".tmp"))
    try:
        installer(
            requirements,
            staging,
            platform=platform_tag(runtime, architecture),
            python_version=python_version(runtime),
        )
        try:
            staging.rename(final)
        except OSError:
            if not final.is_dir():
                raise
            # Another build installed the same layer meanwhile; theirs is as good as ours.
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final
