"""Fixtures of the console tests: Debian's Chromium and a folder for screenshots."""

import os
from pathlib import Path

import pytest

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


@pytest.fixture
def chromium() -> Path:
    """Return Debian's Chromium (fail on CI, skip elsewhere, when it is not installed)."""
    if not CHROMIUM.exists():
        missing(f"Chromium at {CHROMIUM} (Debian package chromium)")
    return CHROMIUM


@pytest.fixture
def screenshots(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """Return the folder for this test's screenshots: $LINLI_TEST_ARTEFACTS/<test> or tmp."""
    root = os.environ.get("LINLI_TEST_ARTEFACTS")
    folder = Path(root) / request.node.name if root else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
