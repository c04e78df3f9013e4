"""Found by an outside review of the site plan and the map, as a duty officer who must tell an
SOS from a leak, in a real headless Chromium on a 1366×768 laptop:

* every kind outside life safety, security and faults showed "alarm", red as an SOS: with
  seven pipes leaking, Building 8's SOS was one red dot (one red square) among eight. A leak
  is now "property", blue, with a wave mark; the SOS red with an exclamation mark, ringed;
* a responder on the roster whose phone never reported was on neither the map nor its
  Responders table: the duty officer thought nobody was there. They are listed, "no position
  reported", with their shifts (the roster does not say who is on call now).

A hub served in-process by uvicorn on SQLite; screenshots in
``$LINLI_TEST_ARTEFACTS/<test name>/``."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from devices.kinds import AlertKind, DeviceKind, Severity
from tests.console.map_review_community import PLACES, Community
from tests.console.test_console_map_review_browser import console_on
from tests.console.test_console_residents_browser import OPERATOR, PASSWORD
from tests.hub.factories import make_device
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]

LAPTOP = ViewportSize(width=1366, height=768)
LEAKS = ["1号楼", "2号楼", "3号楼", "4号楼", "Building 5", "Building 6", "Building 7"]
SOS = "b8-601-sos"
RED = "rgb(214, 39, 40)"
BLUE = "rgb(0, 114, 178)"


@pytest.fixture
def lanyuan(tmp_path: Path) -> Iterator[Community]:
    """Lanyuan with seven buildings' pipes leaking and an SOS pressed in Building 8; one patrol
    whose phone reports, one with OwnTracks off, a night plumber and one no longer active."""
    running = Hub(tmp_path)
    running.start()
    try:
        site = {"id": "lanyuan", "name": "Lanyuan", "edge_ids": ["e1"], "map": PLACES}
        running.call("PUT", "/api/v1/sites/lanyuan", json=site)
        night = [{"days": [0, 1, 2, 3, 4], "start": "22:00:00", "end": "06:00:00"}]
        for rid, role, more in (
            ("patrol-li", "security", {}),
            ("patrol-sun", "security", {}),
            ("plumber-2", "maintenance", {"shifts": night}),
            ("patrol-left", "security", {"active": False}),
        ):
            body = {"id": rid, "site_id": "lanyuan", "name": rid.title(), "role": role, **more}
            running.call("PUT", f"/api/v1/responders/{rid}", json=body)
        devices = [
            (f"leak-{n}", DeviceKind.WATER_LEAK, f"{place}/B1/pump room", AlertKind.WATER_LEAK)
            for n, place in enumerate(LEAKS, 1)
        ]
        devices.append((SOS, DeviceKind.SOS_BUTTON, "Building 8/Floor 6/601", AlertKind.SOS))
        for device_id, kind, location, _ in devices:
            device = make_device(device_id, kind=kind, location=location, edge_id="e1")
            running.call("POST", "/api/v1/devices", json=device.model_dump(mode="json"))
        account = {"username": OPERATOR, "password": PASSWORD, "role": "operator"}
        running.call("POST", "/api/v1/users", json=account)
        community = Community(running)
        now = datetime.now(UTC)
        for device_id, _, _, alert in devices:
            severity = Severity.CRITICAL if alert is AlertKind.SOS else Severity.MEDIUM
            assert community.raise_alert(device_id, alert, severity, now) is not None
        community.post_fix("patrol-li", 42, 37, 8, now)  # at Building 5's door
        yield community
    finally:
        running.stop()


def laptop(browser: Browser, community: Community) -> tuple[Page, list[str]]:
    """Return the console on a 1366×768 laptop, signed in as the operator."""
    return console_on(browser, community, LAPTOP)


def fill_of(page: Page, selector: str) -> str:
    """Return the colour ``selector``'s first element is painted in (fill or background)."""
    colour: str = page.locator(selector).first.evaluate(
        "e => { const style = getComputedStyle(e);"
        " return e instanceof SVGElement ? style.fill : style.backgroundColor; }"
    )
    return colour


def test_an_sos_among_seven_leaks_stands_out_on_the_plan_and_the_map(
    lanyuan: Community, browser: Browser, screenshots: Path
) -> None:
    page, errors = laptop(browser, lanyuan)
    page.locator('[data-nav="plan"]').click()
    expect(page.locator('svg[aria-label="Site plan"]')).to_be_visible()
    leaks = page.locator('g.device[data-state="property"]')
    expect(leaks).to_have_count(7)
    sos = page.locator(f'g.device[data-device-id="{SOS}"]')
    expect(sos).to_have_attribute("data-state", "alarm")
    expect(page.locator('g.device[data-state="alarm"]')).to_have_count(1)
    # Told apart by a shape as well as by colour: the SOS's "!" and ring, each leak's waves.
    expect(sos.locator('path.mark[data-mark="alarm"]')).to_have_count(1)
    expect(sos.locator("circle.hazard")).to_have_count(1)
    expect(leaks.locator('path.mark[data-mark="property"]')).to_have_count(7)
    expect(leaks.locator("circle.hazard")).to_have_count(0)
    assert fill_of(page, f'g.device[data-device-id="{SOS}"] circle') == RED
    assert fill_of(page, 'g.device[data-state="property"] circle') == BLUE
    # The legend says it in words, each swatch with its mark and its count.
    legend = page.locator(".plan-page .legend")
    expect(legend.locator('li[data-state="alarm"]')).to_have_text("!alarm (SOS, fire, CO, gas) (1)")
    expect(legend.locator('li[data-state="property"]')).to_have_text("≈property (water leak) (7)")
    assert fill_of(page, ".plan-page .legend .swatch.property") == BLUE
    assert fill_of(page, ".plan-page .legend .swatch.wellbeing") == "rgb(204, 121, 167)"
    expect(sos.locator("title")).to_contain_text("alarm (SOS, fire, CO, gas)")
    page.screenshot(path=screenshots / "1-plan-sos-among-leaks.png")

    page.locator('[data-nav="map"]').click()
    expect(page.locator("svg.map")).to_be_visible()
    building_8 = page.locator('svg.map g.place[data-place="Building 8"]')
    expect(building_8).to_have_attribute("data-state", "alarm")
    expect(building_8.locator('path.mark[data-mark="alarm"]')).to_have_count(1)
    for name in LEAKS:
        place = page.locator(f'svg.map g.place[data-place="{name}"]')
        expect(place).to_have_attribute("data-state", "property")
        expect(place.locator('path.mark[data-mark="property"]')).to_have_count(1)
        expect(place).to_have_attribute(
            "aria-label",
            f"{name} (building, lanyuan): property (water leak), 1 open case;"
            " opens its medium water leak case",  # where a place leads, since 2026-12-08
        )
    assert fill_of(page, 'svg.map g.place[data-place="Building 8"] rect') == RED
    assert fill_of(page, 'svg.map g.place[data-place="1号楼"] rect') == BLUE
    expect(page.locator('.map-page .legend li[data-state="property"]')).to_have_text(
        "≈property (water leak)"
    )
    page.screenshot(path=screenshots / "2-map-sos-among-leaks.png")
    assert errors == []


def test_a_responder_whose_phone_never_reported_is_listed_on_the_map(
    lanyuan: Community, browser: Browser, screenshots: Path
) -> None:
    page, errors = laptop(browser, lanyuan)
    page.locator('[data-nav="map"]').click()
    table = page.locator("table.responders")
    expect(table.locator('tr[data-responder="patrol-li"]')).to_contain_text("Building 5")
    expect(table.locator('tr[data-responder="patrol-li"]')).not_to_have_attribute(
        "data-position", "none"
    )
    sun = table.locator('tr[data-responder="patrol-sun"]')
    expect(sun).to_have_attribute("data-position", "none")
    expect(sun).to_contain_text("no position reported · always on call")
    expect(table.locator('tr[data-responder="plumber-2"]')).to_contain_text(
        "no position reported · on call Mon Tue Wed Thu Fri 22:00–06:00"
    )
    # One no longer active is on call never: not listed.
    expect(table.locator('tr[data-responder="patrol-left"]')).to_have_count(0)
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(page.locator("#no-position-note")).to_contain_text(
        "2 responders on the roster with no position reported"
    )
    # Nor drawn: the hub has no position of theirs.
    expect(page.locator('svg.map g.responder[data-responder="patrol-sun"]')).to_have_count(0)
    table.scroll_into_view_if_needed()
    page.screenshot(path=screenshots / "3-map-responders.png")
    assert errors == []
