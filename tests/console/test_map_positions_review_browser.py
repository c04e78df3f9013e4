"""An outside review of the console's map and the responders on it, in a real headless
Chromium: a patrol's fix "give or take 2 km" (a cell tower's, a phone indoors) was drawn as the
same precise dot as a GPS fix, and listed "Building 3, 80 m" as if he were at its door; and when
the hub stopped answering (its server down, the control room's link cut) the map went on showing
the patrol as fresh, "30 s ago", for as long as the screen stayed on, though dispatch had long
stopped counting his position. A hub served in-process by uvicorn on SQLite; the page's clock is
Playwright's, moved by the test."""

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from hub.auth.repository import AuthStore
from hub.auth.rules import Role, new_secret
from tests.console.test_console_residents_browser import OPERATOR, PASSWORD, signed_in
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]

METRE_LAT = 1 / 111_195
MAP = [
    {"place": "Building 3", "lat": 39.93900, "lon": 116.40600},
    {"place": "Boiler Room", "lat": 39.93850, "lon": 116.40600, "kind": "hazard_source"},
]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A hub whose site has building 3 and the boiler room 55.6 m south of it on its map, the
    patrol ``patrol-li`` on the roster, and an operator account."""
    running = Hub(tmp_path)
    running.start()
    try:
        site = {"id": "lanyuan", "name": "Lanyuan", "edge_ids": ["e1"], "map": MAP}
        running.call("PUT", "/api/v1/sites/lanyuan", json=site)
        patrol = {"id": "patrol-li", "site_id": "lanyuan", "name": "Li", "role": "security"}
        running.call("PUT", "/api/v1/responders/patrol-li", json=patrol)
        account = {"username": OPERATOR, "password": PASSWORD, "role": "operator"}
        running.call("POST", "/api/v1/users", json=account)
        yield running
    finally:
        running.stop()


def post_fix(hub: Hub, metres_north: float, accuracy_m: float, at: datetime) -> None:
    """Post patrol-li's OwnTracks location ``metres_north`` of building 3, as his app does."""
    auth: AuthStore = hub.app.state.auth_store
    token = new_secret()
    auth.issue_api_token(token, "patrol-li", Role.RESPONDER)
    basic = base64.b64encode(f"patrol-li:{token}".encode()).decode()
    fix: dict[str, Any] = {
        "_type": "location",
        "lat": 39.93900 + metres_north * METRE_LAT,
        "lon": 116.40600,
        "tst": int(at.timestamp()),
        "acc": accuracy_m,
    }
    posted = httpx.post(
        f"{hub.url}/api/v1/owntracks", json=fix, headers={"authorization": f"Basic {basic}"}
    )
    assert posted.status_code == 200, posted.text


def centre_y(page: Page, selector: str) -> float:
    box = page.locator(selector).bounding_box()
    assert box is not None
    return box["y"] + box["height"] / 2


def test_a_vague_fix_is_drawn_and_listed_as_vague(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    post_fix(hub, 80, 2_000, datetime.now(UTC))  # a cell tower's: "80 m, give or take 2 km"

    errors: list[str] = []
    page = signed_in(browser, hub, errors)
    page.locator('[data-nav="map"]').click()
    row = page.locator('table.responders tr[data-responder="patrol-li"]')
    expect(row).to_contain_text("Building 3, 80 m ±2000 m")
    # Drawn with the circle he may be anywhere in, to the map's scale: 2 km, where building 3
    # and the boiler room are 55.6 m apart.
    circle = page.locator('g.responder[data-responder="patrol-li"] circle.accuracy')
    expect(circle).to_have_count(1)
    box = circle.bounding_box()
    assert box is not None
    per_metre = (
        centre_y(page, 'g.place[data-place="Boiler Room"] polygon')
        - centre_y(page, 'g.place[data-place="Building 3"] rect')
    ) / 55.6
    assert box["width"] / 2 == pytest.approx(2_000 * per_metre, rel=0.02)
    # Its label says so too: the circle may be larger than the map shown.
    label = page.locator('g.responder[data-responder="patrol-li"] text')
    expect(label).to_have_text("patrol-li ±2000 m")
    page.screenshot(path=screenshots / "1-vague-fix.png", full_page=True)

    # A GPS fix to 5 m at the door: its circle hardly bigger than the dot, listed as it is.
    post_fix(hub, 10, 5, datetime.now(UTC))
    page.reload()
    page.locator('[data-nav="map"]').click()
    expect(row).to_contain_text("Building 3, 10 m ±5 m")
    expect(label).to_have_text("patrol-li")
    assert errors == []


def test_a_map_the_hub_no_longer_answers_for_does_not_show_positions_as_fresh(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    now = datetime.now(UTC)
    post_fix(hub, 80, 10, now)
    errors: list[str] = []
    page = signed_in(browser, hub, errors)
    page.clock.install(time=now)
    page.locator('[data-nav="map"]').click()
    dot = page.locator('g.responder[data-responder="patrol-li"]')
    expect(dot).to_have_attribute("data-fresh", "true")

    hub.stop()  # the hub's server goes down; the control room's screen stays on
    page.clock.run_for(11 * 60_000)  # past dispatch's 10 min
    expect(dot).to_have_attribute("data-fresh", "false")
    row = page.locator('table.responders tr[data-responder="patrol-li"]')
    expect(row).to_contain_text("too old to dispatch by")
    expect(page.locator("#map-stale")).to_contain_text("The hub has not answered")
    page.screenshot(path=screenshots / "1-hub-gone.png", full_page=True)
    assert errors == []
