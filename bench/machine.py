"""What a result file says about where it was measured: the machine (CPU, cores, memory, OS,
Python) and the version of every tool compared, read when the run starts."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": _os_name(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "python_path": sys.executable,
    }


def load_average() -> str:
    """The 1/5/15-minute load: other work on the machine shows up in every timing."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def command_version(argv: list[str]) -> str | None:
    """The first line a tool prints for ``--version`` (None when it cannot run)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return text[0] if done.returncode == 0 and text else None


def versions(*, uv: str | None, sam: str | None, chalice: str | None) -> dict[str, str | None]:
    return {
        "lambda-promote": package_version("lambda-promote"),
        "uv": command_version([uv, "--version"]) if uv else None,
        "sam": command_version([sam, "--version"]) if sam else None,
        "chalice": command_version([chalice, "--version"]) if chalice else None,
        "moto": package_version("moto"),
        "boto3": package_version("boto3"),
        "SQLAlchemy": package_version("SQLAlchemy"),
    }
