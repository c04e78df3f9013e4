"""Fixtures of the browser tests (console, documentation, the residents' phone page): Debian's
Chromium, launched headless through Playwright with no browser download."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.conftest import missing

CHROMIUM = Path(os.environ.get("LINLI_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Flags that let Chromium run headless here as root with no network beyond loopback."""

UI_TIMEOUT_MS = 15_000
"""How long a page assertion waits: generous, the machine is shared and slow."""


@pytest.fixture
def chromium() -> Path:
    """Return Debian's Chromium (fail on CI, skip elsewhere, when it is not installed)."""
    if not CHROMIUM.exists():
        missing(f"Chromium at {CHROMIUM} (Debian package chromium)")
    return CHROMIUM


@pytest.fixture
def browser(chromium: Path) -> Iterator[Browser]:
    """Launch Debian's Chromium headless through Playwright."""
    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()
