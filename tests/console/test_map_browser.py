"""The console's map in a real headless Chromium: a site's places where its roster's map puts
them, building 3 red with a fire, and the patrol where his phone (OwnTracks) last said he was,
80 m from it (PRODUCT.md, "The map"; scenario 15). A hub served in-process by uvicorn on SQLite;
screenshots in ``$LINLI_TEST_ARTEFACTS/<test name>/``."""

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from hub.auth.repository import AuthStore
from hub.auth.rules import Role, new_secret
from hub.store import HubStore
from tests.console.test_console_residents_browser import OPERATOR, PASSWORD, signed_in
from tests.hub.factories import make_alert, make_device
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]

BUILDING_3 = {"place": "Building 3", "lat": 39.93900, "lon": 116.40600}
MAP = [
    BUILDING_3,
    {"place": "Boiler Room", "lat": 39.93850, "lon": 116.40630, "kind": "hazard_source"},
    {"place": "Main Gate", "lat": 39.93830, "lon": 116.40550, "kind": "key_place"},
]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A hub whose site has a map, a patrol on the roster, building 3's smoke detector and the
    boiler room's gas detector, and an operator account."""
    running = Hub(tmp_path)
    running.start()
    try:
        site = {"id": "lanyuan", "name": "Lanyuan", "edge_ids": ["e1"], "map": MAP}
        running.call("PUT", "/api/v1/sites/lanyuan", json=site)
        patrol = {"id": "patrol-near", "site_id": "lanyuan", "name": "Li", "role": "security"}
        running.call("PUT", "/api/v1/responders/patrol-near", json=patrol)
        for device in (
            make_device("b3-1201-smoke"),
            make_device("boiler-gas", kind="gas", location="Boiler Room"),  # type: ignore[arg-type]
        ):
            running.call("POST", "/api/v1/devices", json=device.model_dump(mode="json"))
        account = {"username": OPERATOR, "password": PASSWORD, "role": "operator"}
        running.call("POST", "/api/v1/users", json=account)
        yield running
    finally:
        running.stop()


def legend_colour(page: Page, section: str) -> str:
    """Return the colour the alarm swatch of ``section``'s legend is drawn in."""
    swatch = page.locator(f"{section} .legend .swatch.alarm")
    expect(swatch).to_be_visible()
    colour: str = swatch.evaluate("e => getComputedStyle(e).backgroundColor")
    return colour


def test_the_map_shows_the_fire_and_the_patrol_near_it(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    store: HubStore = hub.app.state.store
    now = datetime.now(UTC)
    [fire] = store.intake.ingest_alerts([make_alert(ts=now)], now).cases_opened
    auth: AuthStore = hub.app.state.auth_store
    token = new_secret()
    auth.issue_api_token(token, "patrol-near", Role.RESPONDER)
    basic = base64.b64encode(f"patrol-near:{token}".encode()).decode()
    north = 39.93900 + 80 / 111_195  # 80 m north of building 3
    fix = {"_type": "location", "lat": north, "lon": BUILDING_3["lon"],
           "tst": int(now.timestamp()), "acc": 8, "tid": "LI"}  # fmt: skip
    posted = httpx.post(
        f"{hub.url}/api/v1/owntracks", json=fix, headers={"authorization": f"Basic {basic}"}
    )
    assert posted.status_code == 200, posted.text
    assert posted.json() == []

    errors: list[str] = []
    page = signed_in(browser, hub, errors)
    page.locator('[data-nav="map"]').click()
    building = page.locator('g.place[data-place="Building 3"]')
    expect(building).to_have_attribute("data-state", "alarm")
    boiler = page.locator('g.place[data-place="Boiler Room"]')
    expect(boiler).to_have_count(1)
    expect(boiler).to_have_class("place hazard_source")
    assert boiler.get_attribute("data-state") not in {"alarm", "none"}  # its detector, calm
    expect(page.locator('g.place[data-place="Main Gate"]')).to_have_attribute("data-state", "none")
    patrol = page.locator('g.responder[data-responder="patrol-near"]')
    expect(patrol).to_have_attribute("data-fresh", "true")
    expect(page.locator('table.responders tr[data-responder="patrol-near"]')).to_contain_text(
        "Building 3, 80 m"
    )
    page.screenshot(path=screenshots / "1-map.png", full_page=True)
    # The legend's colours are classes (the page's policy refuses inline styles): on the map,
    # and on the site plan a place leads to.
    assert legend_colour(page, ".map-page") == "rgb(214, 39, 40)"
    # A place with an unfinished case leads to it; one with none, to the site plan.
    building.click()
    expect(page).to_have_url(f"{hub.url}/console#/case/{fire.id}")
    page.go_back()
    page.locator('g.place[data-place="Main Gate"]').click()
    expect(page).to_have_url(f"{hub.url}/console#/plan")
    expect(page.locator('svg[aria-label="Site plan"]')).to_be_visible()
    assert legend_colour(page, ".plan-page:not(.map-page)") == "rgb(214, 39, 40)"
    assert errors == []
