"""The console in a real headless Chromium (Debian's, driven by Playwright) on a real stack.

`linli hub` and `linli edge` run as processes on a private Mosquitto; a resident's SOS press
is published to the edge's broker with `mosquitto_pub`. An operator signs in on a desk screen
and on a phone, watches the press arrive live, opens the case, acknowledges it, and sees the
new state on the case page, on the other screen's board and on the site plan. Screenshots go
to ``$LINLI_TEST_ARTEFACTS/<test name>/`` (default: the test's tmp).
"""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from devices.discovery import discovered_id
from devices.kinds import DeviceKind
from devices.registry import Device
from devices.topics import DeviceChannel, device_topic, zigbee_topic
from linli.brokers import MosquittoProcess
from tests.browser import UI_TIMEOUT_MS
from tests.conftest import missing
from tests.e2e.stack import Stack, dumps, mosquitto_pub
from tests.polling import wait_until

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]

SOS = Device(id="b3-1201-sos", kind=DeviceKind.SOS_BUTTON, location="Building 3/Floor 12/Unit 1201")
CO = Device(id="b3-1201-co", kind=DeviceKind.CO, location="Building 3/Floor 12/Unit 1201")
LEAK = Device(id="b1-bike-leak", kind=DeviceKind.WATER_LEAK, location="Building 1/Basement/Bikes")
OPERATOR = "op.wang"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A running hub and edge on SQLite with three devices in two buildings."""
    if MosquittoProcess.executable() is None:
        missing("mosquitto")
    running = Stack(tmp_path, [SOS, CO, LEAK], f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    with running.started():
        yield running


def add_operator(stack: Stack) -> None:
    """Create the operator the console pages sign in as."""
    body = {"username": OPERATOR, "password": PASSWORD, "role": "operator"}
    created = stack.api.post("/users", json=body)
    assert created.status_code == 201, created.text


def console_page(
    browser: Browser, stack: Stack, *, phone: bool, screenshot: Path | None = None
) -> Page:
    """Open the console in a new browser context, as a phone or a desk screen."""
    viewport = (
        ViewportSize(width=390, height=844) if phone else ViewportSize(width=1280, height=900)
    )
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"http://127.0.0.1:{stack.http_port}/console")
    # Nothing is shown before signing in; a wrong password is refused on the form.
    form = page.locator("form#sign-in")
    expect(form).to_be_visible()
    expect(page.locator(".card")).to_have_count(0)
    form.locator('[name="username"]').fill(OPERATOR)
    form.locator('[name="password"]').fill("not the password")
    form.locator("button").click()
    expect(page.locator("#sign-in-error")).to_contain_text("wrong username or password")
    if screenshot is not None:
        page.screenshot(path=screenshot)
    form.locator('[name="password"]').fill(PASSWORD)
    form.locator("button").click()
    expect(page.locator("#who")).to_contain_text(f"{OPERATOR} · operator")
    expect(page.locator("#link")).to_have_attribute("data-state", "live")
    assert errors == []
    return page


def test_an_sos_appears_live_is_acknowledged_and_changes_everywhere(
    stack: Stack, browser: Browser, screenshots: Path
) -> None:
    add_operator(stack)
    desk = console_page(browser, stack, phone=False)
    phone = console_page(browser, stack, phone=True, screenshot=screenshots / "0-phone-sign-in.png")
    port = stack.local_broker.port
    # A reading from the CO detector in the same flat, for the chart around the incident.
    mosquitto_pub(port, device_topic(CO.id, DeviceChannel.STATE), dumps({"co_ppm": 12}))
    mosquitto_pub(port, device_topic(SOS.id, DeviceChannel.EVENT), dumps({"event": "press"}))

    # Live: the alert in the stream and an open case on the board, with no reload.
    expect(desk.locator(f'.stream-list [data-device-id="{SOS.id}"]')).to_be_visible()
    card = desk.locator('.card[data-status="open"]')
    expect(card).to_have_count(1)
    expect(card).to_contain_text("sos")
    expect(card).to_contain_text("Building 3/Floor 12/Unit 1201")
    expect(phone.locator('.card[data-status="open"]')).to_have_count(1)
    desk.screenshot(path=screenshots / "1-board-live.png", full_page=True)
    # The filters narrow the board and give it back.
    desk.select_option('select[name="priority"]', "low")
    expect(desk.locator(".card")).to_have_count(0)
    desk.select_option('select[name="priority"]', "")
    desk.select_option('select[name="site"]', "Building 3")
    desk.select_option('select[name="kind"]', "sos")
    expect(card).to_have_count(1)
    desk.locator('input[name="text"]').fill("b1-bike")
    expect(desk.locator(".card")).to_have_count(0)
    desk.locator('input[name="text"]').fill("1201")
    expect(card).to_have_count(1)

    card.click()
    expect(desk.locator("#case-status")).to_have_text("open")
    expect(desk.locator("#case-team")).to_have_text("nobody yet")  # no roster in this stack
    expect(desk.locator('.timeline [data-event="opened"]')).to_be_visible()
    # The edge forwards telemetry every 5 s; the chart shows the flat's CO once it is in.
    wait_until(
        lambda: stack.api.get(f"/console/cases/{card_id(desk)}/readings").json()["samples"],
        timeout=20,
        what="the CO reading in the console history",
    )
    desk.reload()
    expect(desk.locator('svg.chart[data-reading="co_ppm"]')).to_be_visible()
    desk.screenshot(path=screenshots / "2-case-open.png", full_page=True)

    acknowledge = desk.locator('form[data-action="acknowledge"]')
    acknowledge.locator('[name="note"]').fill("patrol on the way")
    acknowledge.locator("button").click()
    expect(desk.locator("#case-status")).to_have_text("acknowledged")
    expect(desk.locator('.timeline [data-event="acknowledged"]')).to_contain_text(
        "patrol on the way"
    )
    desk.screenshot(path=screenshots / "3-case-acknowledged.png", full_page=True)

    # Everywhere: the other screen's board changed by itself (live stream), and the API agrees.
    expect(phone.locator('.card[data-status="acknowledged"]')).to_have_count(1)
    expect(phone.locator('.card[data-status="open"]')).to_have_count(0)
    phone.screenshot(path=screenshots / "4-phone-board.png", full_page=True)
    [case] = stack.get("/cases")
    assert case["status"] == "acknowledged"
    desk.locator('[data-nav="board"]').click()
    expect(desk.locator('.card[data-status="acknowledged"]')).to_have_count(1)

    # The site plan: the button is an alarm with a hazard mark; the leak sensor is not.
    phone.locator('[data-nav="plan"]').click()
    expect(phone.locator(f'g.device[data-device-id="{SOS.id}"]')).to_have_attribute(
        "data-state", "alarm"
    )
    expect(phone.locator(f'g.device[data-device-id="{SOS.id}"] circle.hazard')).to_have_count(1)
    expect(phone.locator(f'g.device[data-device-id="{LEAK.id}"] circle.hazard')).to_have_count(0)
    phone.screenshot(path=screenshots / "5-phone-plan.png", full_page=True)

    phone.locator('[data-nav="devices"]').click()
    expect(phone.locator(f'tr[data-device-id="{CO.id}"]')).to_be_visible()
    # How long it may be silent, as the edge's status said (stop 40): a real edge's deadline.
    expect(phone.locator(f'tr[data-device-id="{CO.id}"] .checkin')).to_have_text(
        re.compile(r"^offline after [0-9.]+ h \((default|configured)\)$")
    )
    # The edge's own health, below the devices: online, nothing dropped or refused.
    edge = phone.locator(f'tr[data-edge-id="{stack.edge_id}"]')
    expect(edge).to_have_attribute("data-state", "online")
    expect(edge.locator('td[data-count="dropped"]')).to_have_text("0 dropped")
    # A detector nobody registered raises a fire (edge.discovery, stop 41): the hub registered
    # it from the alarm, and the list asks for it to be placed.
    name = "0x00158d0001d64498"
    mosquitto_pub(port, zigbee_topic(name), dumps({"smoke": True, "battery": 100}))
    discovered = discovered_id(stack.edge_id, name)
    wait_until(
        lambda: any(d["id"] == discovered for d in stack.get("/devices")),
        what="the discovered detector at the hub",
    )
    phone.reload()
    expect(phone.locator(f'tr[data-device-id="{discovered}"] .unplaced')).to_have_text("not placed")
    expect(phone.locator(f'tr[data-device-id="{CO.id}"] .unplaced')).to_have_count(0)
    phone.screenshot(path=screenshots / "6-phone-devices.png", full_page=True)
    assert sorted(path.name for path in screenshots.iterdir()) == [
        "0-phone-sign-in.png",
        "1-board-live.png",
        "2-case-open.png",
        "3-case-acknowledged.png",
        "4-phone-board.png",
        "5-phone-plan.png",
        "6-phone-devices.png",
    ]


def card_id(page: Page) -> str:
    """Return the id of the case the page shows."""
    value = page.locator("article.case-page").get_attribute("data-case-id")
    assert value is not None
    return value


def test_the_live_panel_starts_with_the_recent_alerts(
    stack: Stack, browser: Browser, screenshots: Path
) -> None:
    add_operator(stack)
    # A press and a leak before anyone opens the console.
    port = stack.local_broker.port
    mosquitto_pub(port, device_topic(SOS.id, DeviceChannel.EVENT), dumps({"event": "press"}))
    mosquitto_pub(port, device_topic(LEAK.id, DeviceChannel.STATE), dumps({"water_leak": True}))
    wait_until(lambda: len(stack.get("/alerts")) >= 2, what="both alerts at the hub")

    desk = console_page(browser, stack, phone=False)
    stream = desk.locator(".stream-list")
    expect(stream.locator(f'[data-device-id="{SOS.id}"]')).to_be_visible()
    expect(stream.locator(f'[data-device-id="{LEAK.id}"]')).to_be_visible()
    expect(stream).not_to_contain_text("Waiting for alerts")
    # A live alert joins them on top, once.
    mosquitto_pub(port, device_topic(CO.id, DeviceChannel.STATE), dumps({"co_alarm": True}))
    expect(stream.locator("li").first).to_have_attribute("data-device-id", CO.id)
    expect(stream.locator(f'[data-device-id="{SOS.id}"]')).to_have_count(1)
    desk.screenshot(path=screenshots / "recent-alerts.png", full_page=True)


def test_a_press_before_the_fire_goes_into_the_fire_case_live(
    tmp_path: Path, browser: Browser, screenshots: Path
) -> None:
    """A resident presses SOS, then the smoke detector in the same building trips: the
    operator watching the SOS case sees it closed, merged into the fire case, and follows the
    link to it; the press is part of the fire case."""
    if MosquittoProcess.executable() is None:
        missing("mosquitto")
    smoke = Device(id="b3-f12-smoke", kind=DeviceKind.SMOKE, location="Building 3/Floor 12")
    stack = Stack(tmp_path, [SOS, smoke], f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    with stack.started():
        add_operator(stack)
        desk = console_page(browser, stack, phone=False)
        port = stack.local_broker.port
        mosquitto_pub(port, device_topic(SOS.id, DeviceChannel.EVENT), dumps({"event": "press"}))
        card = desk.locator('.card[data-status="open"]')
        expect(card).to_have_count(1)
        card.click()
        expect(desk.locator("#case-status")).to_have_text("open")
        pressed = card_id(desk)

        mosquitto_pub(port, device_topic(smoke.id, DeviceChannel.STATE), dumps({"smoke": True}))
        # Live, without a reload: the SOS case the operator is on went into the fire case.
        expect(desk.locator("#case-status")).to_have_text("closed")
        expect(desk.locator('.timeline [data-event="merged"]')).to_be_visible()
        link = desk.locator("#merged-into")
        expect(link).to_be_visible()
        desk.screenshot(path=screenshots / "1-sos-merged.png", full_page=True)
        link.click()
        expect(desk.locator('.timeline [data-event="merged_in"]')).to_be_visible()
        fire = card_id(desk)
        assert fire != pressed
        expect(link).to_have_count(0)
        desk.screenshot(path=screenshots / "2-fire-case.png", full_page=True)

        cases = {str(case["id"]): case for case in stack.get("/cases")}
        assert (cases[pressed]["status"], cases[pressed]["merged_into"]) == ("closed", int(fire))
        assert sorted(cases[fire]["kinds"]) == ["smoke", "sos"]
        assert cases[fire]["merged_into"] is None
        assert [a["case_id"] for a in stack.get("/alerts")] == [int(fire), int(fire)]
