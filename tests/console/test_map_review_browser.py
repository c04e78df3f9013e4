"""The console's map under review, in a real headless Chromium: two communities that both have
a "Building 3" (every estate numbers its buildings from 1), and a fire in one must paint that
community's building red, not the other's; a building spelt on the roster's map with a
full-width digit (３号楼) is the devices' 3号楼, as the hub places cases; a roster place at
0, 0 is listed, not drawn; and the map shown follows a fire that opens and is resolved. A hub
served in-process by uvicorn on SQLite."""

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Route, expect

from hub.auth.repository import AuthStore
from hub.auth.rules import Role, new_secret
from hub.store import HubStore
from tests.console.test_console_residents_browser import OPERATOR, PASSWORD, signed_in
from tests.hub.factories import make_alert, make_device
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]

LANYUAN_MAP = [
    {"place": "Building 3", "lat": 39.93900, "lon": 116.40600},
    # Typed on the roster with a Chinese input method's full-width digit.
    {"place": "３号楼", "lat": 39.93950, "lon": 116.40650},
]
ZHUYUAN_MAP = [{"place": "Building 3", "lat": 39.94500, "lon": 116.41200}]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A hub with Lanyuan (edge e1) and Zhuyuan (edge e2), each with its Building 3 on its
    map and a smoke detector there, Lanyuan's 3号楼 (on its map as ３号楼) with one, and an
    operator account."""
    running = Hub(tmp_path)
    running.start()
    try:
        for site_id, edge, places in (
            ("lanyuan", "e1", LANYUAN_MAP),
            ("zhuyuan", "e2", ZHUYUAN_MAP),
        ):
            site = {"id": site_id, "name": site_id.title(), "edge_ids": [edge], "map": places}
            running.call("PUT", f"/api/v1/sites/{site_id}", json=site)
            device = make_device(f"{site_id}-b3-smoke", edge_id=edge)
            running.call("POST", "/api/v1/devices", json=device.model_dump(mode="json"))
        # The same building as the hub reads it (devices/location.py: places compare folded).
        device = make_device("lanyuan-3hao-smoke", location="3号楼/2单元/201", edge_id="e1")
        running.call("POST", "/api/v1/devices", json=device.model_dump(mode="json"))
        account = {"username": OPERATOR, "password": PASSWORD, "role": "operator"}
        running.call("POST", "/api/v1/users", json=account)
        yield running
    finally:
        running.stop()


def test_a_fire_is_drawn_in_its_own_communitys_building(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    store: HubStore = hub.app.state.store
    now = datetime.now(UTC)
    fire = make_alert(device_id="zhuyuan-b3-smoke", ts=now)
    [case] = store.intake.ingest_alerts([fire], now).cases_opened
    assert case.site_id == "zhuyuan"

    errors: list[str] = []
    page = signed_in(browser, hub, errors)
    page.locator('[data-nav="map"]').click()
    zhuyuan = page.locator('g.place[data-site="zhuyuan"][data-place="Building 3"]')
    lanyuan = page.locator('g.place[data-site="lanyuan"][data-place="Building 3"]')
    expect(zhuyuan).to_have_attribute("data-state", "alarm")
    assert lanyuan.get_attribute("data-state") not in {"alarm", "none"}  # its own detector, calm
    page.screenshot(path=screenshots / "1-two-building-3s.png", full_page=True)
    assert errors == []


def test_a_place_on_the_map_is_its_devices_place_however_spelt(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    store: HubStore = hub.app.state.store
    now = datetime.now(UTC)
    fire = make_alert(device_id="lanyuan-3hao-smoke", ts=now)
    store.intake.ingest_alerts([fire], now)

    errors: list[str] = []
    page = signed_in(browser, hub, errors)
    page.locator('[data-nav="map"]').click()
    building = page.locator('g.place[data-site="lanyuan"][data-place="３号楼"]')
    expect(building).to_have_attribute("data-state", "alarm")
    page.screenshot(path=screenshots / "1-full-width.png", full_page=True)
    assert errors == []


def test_a_place_at_0_0_on_the_roster_is_listed_not_drawn(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    placeholder = {"place": "Building 9", "lat": 0.0, "lon": 0.0}  # coordinates still to come
    site = {
        "id": "lanyuan",
        "name": "Lanyuan",
        "edge_ids": ["e1"],
        "map": [*LANYUAN_MAP, placeholder],
    }
    hub.call("PUT", "/api/v1/sites/lanyuan", json=site)

    errors: list[str] = []
    page = signed_in(browser, hub, errors)
    page.locator('[data-nav="map"]').click()
    expect(page.locator('g.place[data-site="zhuyuan"]')).to_have_count(1)
    # The real places, some 60 m to 900 m apart, are drawn apart, not squeezed into one dot
    # by a map stretched to the Gulf of Guinea.
    boxes = [
        page.locator(
            f'g.place[data-site="{site_id}"][data-place="{name}"] > :not(title, text)'
        ).first.bounding_box()
        for site_id, name in (
            ("lanyuan", "Building 3"),
            ("lanyuan", "３号楼"),
            ("zhuyuan", "Building 3"),
        )
    ]
    centres = {
        (round(b["x"] + b["width"] / 2), round(b["y"] + b["height"] / 2)) for b in boxes if b
    }
    assert len(centres) == 3
    expect(page.locator("#unplaced")).to_contain_text("Building 9 (lanyuan)")
    expect(page.locator('g.place[data-place="Building 9"]')).to_have_count(0)
    page.screenshot(path=screenshots / "1-placeholder.png", full_page=True)
    assert errors == []


def test_the_map_shown_follows_a_fire_that_opens_and_is_resolved(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    errors: list[str] = []
    page = signed_in(browser, hub, errors)
    page.clock.install(time=datetime.now(UTC))  # the page's timers, moved by the test
    page.locator('[data-nav="map"]').click()
    building = page.locator('g.place[data-site="zhuyuan"][data-place="Building 3"]')
    expect(building).to_have_attribute("data-state", "silent")  # never heard from yet

    # A fire opens while the operator watches the map: it turns red without a reload.
    store: HubStore = hub.app.state.store
    now = datetime.now(UTC)
    [case] = store.intake.ingest_alerts(
        [make_alert(device_id="zhuyuan-b3-smoke", ts=now)], now
    ).cases_opened
    page.clock.run_for(20_000)
    expect(building).to_have_attribute("data-state", "alarm")
    page.screenshot(path=screenshots / "1-fire-opened.png", full_page=True)

    # Resolved: no longer red.
    body = {"resolution": "real", "note": "put out"}
    hub.call("POST", f"/api/v1/cases/{case.id}/resolve", json=body)
    page.clock.run_for(20_000)
    expect(building).not_to_have_attribute("data-state", "alarm")
    assert errors == []


def test_a_patrols_fix_from_home_is_listed_and_the_map_stays_the_communitys(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    patrol = {"id": "patrol-home", "site_id": "lanyuan", "name": "Li", "role": "security"}
    hub.call("PUT", "/api/v1/responders/patrol-home", json=patrol)
    auth: AuthStore = hub.app.state.auth_store
    token = new_secret()
    auth.issue_api_token(token, "patrol-home", Role.RESPONDER)
    basic = base64.b64encode(f"patrol-home:{token}".encode()).decode()
    home = 39.93900 + 20_000 / 111_195  # his last fix, off shift: 20 km north
    fix = {"_type": "location", "lat": home, "lon": 116.40600,
           "tst": int(datetime.now(UTC).timestamp()), "acc": 10, "tid": "LI"}  # fmt: skip
    posted = httpx.post(
        f"{hub.url}/api/v1/owntracks", json=fix, headers={"authorization": f"Basic {basic}"}
    )
    assert posted.status_code == 200, posted.text

    errors: list[str] = []
    page = signed_in(browser, hub, errors)
    page.locator('[data-nav="map"]').click()
    row = page.locator('table.responders tr[data-responder="patrol-home"]')
    expect(row).to_contain_text("３号楼, 19944 m")  # the nearer of its site's two
    # The community's two buildings some 70 m apart are drawn apart: the map is the
    # community's, not a 20 km one with the community a dot at its foot.
    first, second = (
        page.locator(f'g.place[data-site="lanyuan"][data-place="{name}"] rect').bounding_box()
        for name in ("Building 3", "３号楼")
    )
    assert first is not None
    assert second is not None
    assert abs(first["x"] - second["x"]) + abs(first["y"] - second["y"]) > 20
    expect(row).to_contain_text("off the map")
    expect(page.locator('g.responder[data-responder="patrol-home"]')).to_have_count(0)
    page.screenshot(path=screenshots / "1-fix-from-home.png", full_page=True)
    assert errors == []


def test_the_map_stops_drawing_once_the_session_ended(hub: Hub, browser: Browser) -> None:
    errors: list[str] = []
    page = signed_in(browser, hub, errors)
    page.clock.install(time=datetime.now(UTC))
    page.locator('[data-nav="map"]').click()
    expect(page.locator('g.place[data-site="zhuyuan"]')).to_have_count(1)

    page.context.clear_cookies()  # the session ended (it expired, or was revoked)
    page.clock.run_for(20_000)
    expect(page.locator("form#sign-in")).to_be_visible()
    page.locator("#username").fill(OPERATOR)
    for _ in range(3):  # each tick's answers come in before the clock moves on
        page.clock.run_for(16_000)
        page.wait_for_load_state("networkidle")
    # What the operator had typed is still there: the map's refresh is over.
    expect(page.locator("#username")).to_have_value(OPERATOR)


def test_a_refusal_that_comes_late_does_not_wipe_what_the_operator_types(
    hub: Hub, browser: Browser
) -> None:
    """The map asks three things at once; after the session ended each is refused, and each
    refusal showed the sign-in form again. One answered late (a loaded hub, a slow phone link)
    replaced the form the operator had begun typing in: the CI run of stop 49 failed so."""
    errors: list[str] = []
    page = signed_in(browser, hub, errors)
    page.clock.install(time=datetime.now(UTC))
    page.locator('[data-nav="map"]').click()
    expect(page.locator('g.place[data-site="zhuyuan"]')).to_have_count(1)

    held: list[Route] = []

    def hold(route: Route) -> None:  # its answer comes when the test says
        held.append(route)

    page.route("**/console/site-plan", hold)
    page.context.clear_cookies()
    page.clock.run_for(16_000)
    expect(page.locator("form#sign-in")).to_be_visible()  # from the other two refusals
    page.locator("#username").fill(OPERATOR)
    assert len(held) == 1
    held[0].continue_()  # refused: the session has ended
    page.wait_for_load_state("networkidle")
    expect(page.locator("#sign-in-error")).to_have_text("Your session ended: sign in again.")
    expect(page.locator("#username")).to_have_value(OPERATOR)
