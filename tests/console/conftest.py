"""Fixtures of the console tests: a folder for screenshots (the browser is ``tests.browser``'s),
and a hub on a clock the test moves, with an operator to sign in as."""

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.console.test_console_residents_browser import PASSWORD
from tests.hub.conftest import FakeClock
from tests.residents.test_phone_page_browser import Hub

START = datetime.now(UTC).replace(microsecond=0)
"""When ``operator_hub``'s clock starts: now (the console's session cookie is checked by the
browser against the real time)."""


@pytest.fixture
def screenshots(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """Return the folder for this test's screenshots: $LINLI_TEST_ARTEFACTS/<test> or tmp."""
    root = os.environ.get("LINLI_TEST_ARTEFACTS")
    folder = Path(root) / request.node.name if root else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def operator_hub(tmp_path: Path) -> Iterator[Hub]:
    """Return a hub running in-process under uvicorn on SQLite (no MQTT), on a ``FakeClock``
    from ``START``, with the operator ``op.wang`` (password ``PASSWORD``)."""
    running = Hub(tmp_path, clock=FakeClock(START))
    running.start()
    try:
        account = {"username": "op.wang", "password": PASSWORD, "role": "operator"}
        running.call("POST", "/api/v1/users", json=account)
        yield running
    finally:
        running.stop()
