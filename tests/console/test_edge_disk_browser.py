"""An edge whose SD card refuses its writes, as the console's device health page shows it (a
real headless Chromium): the edge keeps alarming with its stores in memory (stop 47), which a
power cut would lose, so the operator must see which card to replace."""

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from hub.store import HubStore
from tests.console.test_console_residents_browser import signed_in
from tests.hub.factories import make_status
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]


def test_an_edge_with_stores_in_memory_is_shown_failing_until_it_says_otherwise(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    store: HubStore = operator_hub.app.state.store
    failing = make_status().model_copy(update={"in_memory": ["outbox", "access"]})
    store.fleet.record_edge_status(failing, store.db.clock())

    errors: list[str] = []
    page = signed_in(browser, operator_hub, errors, "op.wang")
    page.locator('[data-nav="devices"]').click()
    edge = page.locator(f'tr[data-edge-id="{failing.edge_id}"]')
    expect(edge.locator(".disk-failing")).to_have_text("disk failing: outbox, access in memory")
    page.screenshot(path=screenshots / "edge-disk-failing.png", full_page=True)

    # The card replaced: the edge's next status has everything on disk again.
    store.fleet.record_edge_status(make_status(), store.db.clock())
    page.reload()
    expect(edge).to_have_attribute("data-state", "online")
    expect(edge.locator(".disk-failing")).to_have_count(0)
    assert errors == []


def test_the_last_will_keeps_what_the_edge_last_said(operator_hub: Hub) -> None:
    """An edge that goes offline with its card failing still shows it: the last will (set at
    connect) says nothing of the disk."""
    store: HubStore = operator_hub.app.state.store
    failing = make_status().model_copy(update={"in_memory": ["outbox"]})
    store.fleet.record_edge_status(failing, store.db.clock())
    store.fleet.record_edge_status(
        make_status().model_copy(update={"state": "offline"}), store.db.clock()
    )
    (edge,) = store.fleet.list_edges()
    assert edge.state == "offline"
    assert edge.in_memory == ["outbox"]
