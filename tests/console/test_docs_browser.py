"""The API docs render in a real headless Chromium with every request off this machine refused.

A community's network may have no internet: ``/docs`` must not need a CDN. The hub runs
in-process under uvicorn on SQLite (no MQTT); the browser context aborts any request that
is not to the hub and records it. The docs are for signed-in users: a browser that is not
signed in is sent to the console's sign-in.
"""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Route, expect, sync_playwright

from hub.app import create_app
from hub.auth.routes import SESSION_COOKIE
from hub.settings import HubSettings
from linli.brokers import free_port
from tests.browser import CHROMIUM_FLAGS

pytestmark = pytest.mark.slow

BOOTSTRAP = "lnl_docs-browser-bootstrap-0123456789abcdef"


@pytest.fixture
def hub_url(tmp_path: Path) -> Iterator[str]:
    """Serve a hub (SQLite, no MQTT) on a free port for one test."""
    settings = HubSettings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        start_ingest=False,
        bootstrap_token=BOOTSTRAP,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="hub-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the hub did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_docs_render_the_operations_with_the_network_closed(
    hub_url: str, chromium: Path, screenshots: Path
) -> None:
    outside: list[str] = []

    def only_the_hub(route: Route) -> None:
        if route.request.url.startswith(hub_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            context = browser.new_context()
            context.route("**/*", only_the_hub)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(hub_url)  # the root is the console
            expect(page.locator("form#sign-in")).to_be_visible()
            page.goto(f"{hub_url}/docs")  # not signed in: the console's sign-in
            expect(page.locator("form#sign-in")).to_be_visible()
            context.add_cookies([{"name": SESSION_COOKIE, "value": BOOTSTRAP, "url": hub_url}])
            page.goto(f"{hub_url}/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("Linli hub")
            operations = page.locator(".opblock")
            expect(operations.first).to_be_visible(timeout=15_000)
            assert operations.count() > 20
            expect(
                page.locator('.opblock-summary-path[data-path="/api/v1/devices"]').first
            ).to_be_visible()
            page.screenshot(path=screenshots / "docs-offline.png")
            assert errors == []
        finally:
            browser.close()
    assert outside == []
