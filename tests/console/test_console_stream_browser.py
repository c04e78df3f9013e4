"""The console's live stream in a real headless Chromium: a dead connection is noticed, and no
case is lost to a reconnect.

A hub runs in-process under uvicorn on SQLite (no MQTT), with the operator ``op.wang``
(``operator_hub``). For the dead connection, the page reaches the hub through a TCP proxy the
test can freeze: it stops carrying bytes but keeps its connections open, as a laptop lid, a
proxy or a network blip leave them (the hub's heartbeats stop arriving, and EventSource itself
notices nothing).
"""

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Page, Route, ViewportSize, expect

from hub.cases.rules import CaseStatus
from hub.live.events import CaseChanged, EventBus
from hub.store import HubStore
from tests.browser import UI_TIMEOUT_MS
from tests.console.test_console_residents_browser import PASSWORD
from tests.hub.factories import make_alert, make_device
from tests.hub.test_events import case_view
from tests.hub.test_live_relay_half_open import FreezingProxy
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]

SILENT_NOTICED_MS = 30_000
"""The page says its stream is dead within this (it waits three 5 s heartbeats)."""


@pytest.fixture
def proxy(operator_hub: Hub) -> Iterator[FreezingProxy]:
    running = FreezingProxy(operator_hub.port)
    try:
        yield running
    finally:
        running.close()


def console_at(browser: Browser, base_url: str, errors: list[str]) -> Page:
    """Return a console page at ``base_url`` signed in as ``op.wang``, its stream live."""
    context = browser.new_context(viewport=ViewportSize(width=1280, height=900))
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base_url}/console")
    form = page.locator("form#sign-in")
    form.locator('[name="username"]').fill("op.wang")
    form.locator('[name="password"]').fill(PASSWORD)
    form.locator("button").click()
    expect(page.locator("#who")).to_contain_text("op.wang · operator")
    expect(page.locator("#link")).to_have_text("live")
    return page


def test_a_dead_stream_is_shown_and_what_it_missed_comes_back(
    operator_hub: Hub, proxy: FreezingProxy, browser: Browser, screenshots: Path
) -> None:
    operator_hub.staff_site("g-b3", "B3", ["Building 3"])
    errors: list[str] = []
    page = console_at(browser, proxy.url, errors)

    proxy.freeze()
    # Not a calm "live" screen over a stream that carries nothing.
    expect(page.locator("#link")).to_have_attribute("data-state", "down", timeout=SILENT_NOTICED_MS)
    expect(page.locator("#link")).to_have_text("disconnected")
    page.screenshot(path=screenshots / "1-disconnected.png")

    case_id = operator_hub.log_request("Building 3", "Water coming through the ceiling")
    proxy.thaw()
    expect(page.locator("#link")).to_have_text("live", timeout=SILENT_NOTICED_MS)
    # What happened meanwhile is on the board, and announced as a live one would be.
    expect(page.locator(f'.board [data-case-id="{case_id}"]')).to_be_visible()
    expect(page.locator("#toast")).to_contain_text("New")
    page.screenshot(path=screenshots / "2-back.png")
    assert errors == []


def test_a_case_that_comes_live_while_the_board_reloads_stays(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    operator_hub.staff_site("g-b3", "B3", ["Building 3"])
    errors: list[str] = []
    held: list[tuple[Route, object]] = []
    reads = 0

    def hold_the_second_read(route: Route) -> None:
        # The first read is the page's start; the second, the one the stream's opening makes.
        nonlocal reads
        reads += 1
        if reads == 2:
            held.append((route, route.fetch()))  # read now, before the case exists
        else:
            route.continue_()

    context = browser.new_context(viewport=ViewportSize(width=1280, height=900))
    context.route(lambda url: urlparse(url).path == "/api/v1/cases", hold_the_second_read)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{operator_hub.url}/console")
    form = page.locator("form#sign-in")
    form.locator('[name="username"]').fill("op.wang")
    form.locator('[name="password"]').fill(PASSWORD)
    form.locator("button").click()
    expect(page.locator("#link")).to_have_text("live")
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while not held:
        assert time.monotonic() < deadline, "the page did not read its cases again"
        page.wait_for_timeout(50)

    case_id = operator_hub.log_request("Building 3", "Smell of gas on the stairs")
    card = page.locator(f'.board [data-case-id="{case_id}"]')
    expect(card).to_be_visible()  # live

    route, response = held[0]
    route.fulfill(response=response)  # type: ignore[arg-type]
    page.wait_for_timeout(1500)
    expect(card).to_be_visible(timeout=1000)
    page.screenshot(path=screenshots / "1-kept.png")
    assert errors == []


def test_a_case_opened_during_a_blip_is_announced(
    operator_hub: Hub, proxy: FreezingProxy, browser: Browser
) -> None:
    operator_hub.staff_site("g-b3", "B3", ["Building 3"])
    errors: list[str] = []
    page = console_at(browser, proxy.url, errors)

    # A short blip: the connection is cut and EventSource connects again by itself.
    proxy.freeze()
    case_id = operator_hub.log_request("Building 3", "Smoke in the bin room")
    proxy.thaw()
    expect(page.locator(f'.board [data-case-id="{case_id}"]')).to_be_visible()
    expect(page.locator("#toast")).to_contain_text("New")
    expect(page.locator("#link")).to_have_text("live")
    assert errors == []


def test_a_screen_that_fell_behind_reads_alerts_and_cases_again(
    operator_hub: Hub, browser: Browser
) -> None:
    """The hub dropped events for this screen (it fell behind, or the hub's relay lost touch):
    the alert panel is read again too, and a case it did not hear of is announced."""
    errors: list[str] = []
    page = console_at(browser, operator_hub.url, errors)
    store: HubStore = operator_hub.app.state.store
    store.fleet.register_device(make_device())
    # Committed, but the screen never hears of it: then the hub tells it it missed events.
    result = store.intake.ingest_alerts([make_alert()], store.db.clock())
    bus: EventBus = operator_hub.app.state.events
    operator_hub.server.servers[0].get_loop().call_soon_threadsafe(bus.report_lost, 1)

    expect(page.locator(f'.stream-list [data-alert-id="{result.new[0].id}"]')).to_be_visible()
    expect(page.locator(f'.board [data-case-id="{result.cases_opened[0].id}"]')).to_be_visible()
    expect(page.locator("#toast")).to_contain_text("New")
    assert errors == []


def test_a_screen_comes_back_after_the_hub_was_unreachable_for_a_while(
    operator_hub: Hub, proxy: FreezingProxy, browser: Browser
) -> None:
    """A reverse proxy answers 502 while the hub restarts: EventSource gives up on an HTTP
    error, and the page must keep trying until the hub answers again."""
    operator_hub.staff_site("g-b3", "B3", ["Building 3"])
    errors: list[str] = []
    page = console_at(browser, proxy.url, errors)
    context = page.context

    def bad_gateway(route: Route) -> None:
        route.fulfill(status=502, body="Bad Gateway")

    def api_path(url: str) -> bool:
        return urlparse(url).path.startswith("/api/v1/")

    context.route(api_path, bad_gateway)
    proxy.freeze()
    proxy.thaw()  # the stream's connection is cut; EventSource meets the 502 and gives up
    expect(page.locator("#link")).to_have_attribute("data-state", "down")
    page.wait_for_timeout(5000)  # the page's own retries meet the 502 too
    context.unroute(api_path, bad_gateway)

    case_id = operator_hub.log_request("Building 3", "Fire alarm bell ringing")
    expect(page.locator("#link")).to_have_text("live", timeout=SILENT_NOTICED_MS)
    expect(page.locator(f'.board [data-case-id="{case_id}"]')).to_be_visible()
    assert errors == []


def test_a_case_opened_that_comes_after_its_change_does_not_undo_it(
    operator_hub: Hub, browser: Browser
) -> None:
    """Two hub workers: the one that opened a case sends it round after the one whose alert
    joined it a moment later (each sends when it can): the screen keeps the later case."""
    errors: list[str] = []
    page = console_at(browser, operator_hub.url, errors)
    opened = case_view(9001)
    joined = case_view(9001, status=CaseStatus.ACKNOWLEDGED).model_copy(update={"alert_count": 2})
    events = [
        CaseChanged(type="case_updated", case=joined),
        CaseChanged(type="case_opened", case=opened),
    ]
    bus: EventBus = operator_hub.app.state.events
    operator_hub.server.servers[0].get_loop().call_soon_threadsafe(bus.publish_all, events)

    expect(page.locator("#toast")).to_contain_text("New")
    page.wait_for_timeout(500)  # both events handled
    expect(page.locator('.board [data-case-id="9001"]')).to_have_attribute(
        "data-status", "acknowledged"
    )
    assert errors == []


def test_a_change_that_comes_after_a_later_one_does_not_undo_it(
    operator_hub: Hub, browser: Browser
) -> None:
    """Two hub workers change one case a moment apart (an operator acknowledges it on one, an
    alert joins it on the other), and their relays send the changes in the other order: the
    screen keeps the case of the higher version, as the hub holds it."""
    errors: list[str] = []
    page = console_at(browser, operator_hub.url, errors)
    opened = case_view(9002)
    acknowledged = case_view(9002, status=CaseStatus.ACKNOWLEDGED).model_copy(
        update={"version": 3, "alert_count": 2}
    )
    earlier = opened.model_copy(update={"version": 2, "alert_count": 2})
    bus: EventBus = operator_hub.app.state.events
    loop = operator_hub.server.servers[0].get_loop()
    loop.call_soon_threadsafe(bus.publish_all, [CaseChanged(type="case_opened", case=opened)])
    card = page.locator('.board [data-case-id="9002"]')
    expect(card).to_have_attribute("data-status", "open")
    events = [
        CaseChanged(type="case_updated", case=acknowledged),
        CaseChanged(type="case_updated", case=earlier),
    ]
    loop.call_soon_threadsafe(bus.publish_all, events)
    page.wait_for_timeout(500)  # both events handled
    expect(card).to_have_attribute("data-status", "acknowledged")
    assert errors == []
