"""Fixtures of the console tests: a folder for screenshots (the browser is ``tests.browser``'s)."""

import os
from pathlib import Path

import pytest


@pytest.fixture
def screenshots(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """Return the folder for this test's screenshots: $LINLI_TEST_ARTEFACTS/<test> or tmp."""
    root = os.environ.get("LINLI_TEST_ARTEFACTS")
    folder = Path(root) / request.node.name if root else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
