"""Chromium for the browser tests (DESIGN §7: "web UI: Chromium driven by Playwright"): Debian's
``chromium`` (the Makefile installs it), driven by Playwright's Python package through
``executable_path`` — never a browser Playwright downloads. Each test gets a fresh profile;
the flags keep Chromium off the network (this machine reaches no Google host).
Screenshots go to ``$LAMBDA_PROMOTE_TEST_ARTIFACTS`` (default: pytest's base temp
``artifacts/``), kept after the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def artifacts_dir(factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("LAMBDA_PROMOTE_TEST_ARTIFACTS")
    folder = Path(configured) if configured else factory.getbasetemp() / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Any]:
    """A Chromium page with a fresh profile; skipped, saying why, without Chromium."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed: `make test` installs Debian's chromium package")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright (the Python package) is not installed: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 860},
        )
        context.set_default_timeout(30_000)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
