"""A night shift on the console in a real headless Chromium: a fire on floor 12, residents
pressing SOS, a flapping water sensor, two operators on one case, a screen left open for hours.

A hub runs in-process under uvicorn on SQLite (no MQTT), with the operator ``op.wang``
(``operator_hub``). Live events are put on the hub's own event bus, as its intake does.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, Route, ViewportSize, expect

from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import AlertReason
from hub.cases.rules import CaseStatus
from hub.cases.views import AlertView, CaseView
from hub.live.events import AlertReceived, CaseChanged, EventBus, HubEvent
from hub.store import HubStore
from tests.browser import UI_TIMEOUT_MS
from tests.console.conftest import START
from tests.console.test_console_burst_browser import publish
from tests.console.test_console_residents_browser import PASSWORD
from tests.console.test_console_stream_browser import console_at
from tests.hub.factories import make_alert, make_device
from tests.hub.test_events import case_view
from tests.hub.test_live_relay_half_open import FreezingProxy
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]

FLAPS = 150
"""Alerts from the one flapping water sensor, after the SOS."""


def sign_in(page: Page, url: str) -> None:
    page.goto(url)
    form = page.locator("form#sign-in")
    form.locator('[name="username"]').fill("op.wang")
    form.locator('[name="password"]').fill(PASSWORD)
    form.locator("button").click()
    expect(page.locator("#link")).to_have_text("live")


def page_behind_the_hub(
    browser: Browser, hub: Hub, case_id: int, timezone: str | None = None
) -> Page:
    """Open a case's page, signed in as op.wang, on a screen that hears nothing live (a moment
    behind the hub: what another operator does meanwhile is not shown until it reads again)."""
    context = browser.new_context(
        viewport=ViewportSize(width=1280, height=900), timezone_id=timezone
    )

    def no_stream(route: Route) -> None:
        route.abort()

    context.route(lambda url: urlparse(url).path == "/api/v1/stream", no_stream)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.goto(f"{hub.url}/console#/case/{case_id}")
    form = page.locator("form#sign-in")
    form.locator('[name="username"]').fill("op.wang")
    form.locator('[name="password"]').fill(PASSWORD)
    form.locator("button").click()
    return page


def alert_event(n: int, kind: AlertKind, severity: Severity, device: str, case_id: int) -> HubEvent:
    return AlertReceived(
        alert=AlertView(
            id=f"night-{n:05d}",
            edge_id="e1",
            device_id=device,
            kind=kind,
            state=AlertState.RAISED if n % 2 else AlertState.CLEARED,
            severity=severity,
            ts=START + timedelta(milliseconds=n),
            detected_at=START,
            received_at=START,
            case_id=case_id,
            location="3号楼/B1/水泵房" if kind is AlertKind.WATER_LEAK else "3号楼/12层/1201",
            reason=AlertReason(rule="flag"),
        )
    )


def test_an_sos_stays_in_the_live_list_through_a_flapping_sensors_storm(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    errors: list[str] = []
    page = console_at(browser, operator_hub.url, errors)
    sos = alert_event(1, AlertKind.SOS, Severity.CRITICAL, "1201-sos", 7)
    storm = [
        alert_event(n, AlertKind.WATER_LEAK, Severity.MEDIUM, "b1-pump-leak", 8)
        for n in range(2, 2 + FLAPS)
    ]
    publish(operator_hub, [sos, *storm])

    rows = page.locator(".stream-list li")
    expect(page.locator('.stream-list [data-device-id="b1-pump-leak"]')).to_contain_text(
        f"×{FLAPS}"
    )
    # The resident's SOS is still there to be seen, not pushed out by the sensor's repeats.
    expect(page.locator('.stream-list [data-device-id="1201-sos"]')).to_be_visible()
    assert rows.count() <= 50
    page.screenshot(path=screenshots / "1-storm.png")
    assert errors == []


def test_a_case_resolved_by_another_operator_is_shown_resolved_when_this_one_acts(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    site = {"id": "lanyuan", "name": "兰苑", "timezone": "Asia/Shanghai"}
    operator_hub.call("PUT", "/api/v1/sites/lanyuan", json=site)
    case_id = operator_hub.log_request("Building 3", "楼道有烟味")  # nobody on duty: open
    page = page_behind_the_hub(browser, operator_hub, case_id, timezone="America/New_York")
    expect(page.locator("#case-status")).to_have_text("open")
    # On the site's clock (its only site's: the case has none), not the desk PC's.
    opened = page.locator(".facts dt:text-is('Opened') + dd")
    expect(opened).to_have_text(START.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M:%S"))

    body = {"note": "已处理, 烟味来自厨房", "resolution": "false_alarm"}
    operator_hub.call("POST", f"/api/v1/cases/{case_id}/resolve", json=body)
    page.locator('form[data-action="acknowledge"] button').click()

    expect(page.locator("#toast")).to_contain_text("resolved")
    # The page shows the case as it is now, not the open case the operator thought it was.
    expect(page.locator("#case-status")).to_have_text("resolved")
    expect(page.locator('form[data-action="acknowledge"]')).to_have_count(0)
    page.screenshot(path=screenshots / "2-resolved-meanwhile.png")


def test_times_are_the_sites_and_the_board_says_who_is_going_and_how_long_ago(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    site = {"id": "lanyuan", "name": "兰苑", "timezone": "Asia/Shanghai"}
    operator_hub.call("PUT", "/api/v1/sites/lanyuan", json=site)
    # A desk PC left on New York time (or a kiosk on UTC): the site's clock is Shanghai's.
    context = browser.new_context(
        viewport=ViewportSize(width=1280, height=900), timezone_id="America/New_York"
    )
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.clock.install(time=START)
    sign_in(page, f"{operator_hub.url}/console")

    view: CaseView = case_view(41, kind=AlertKind.SMOKE, status=CaseStatus.ACKNOWLEDGED)
    view = view.model_copy(
        update={
            "priority": Severity.CRITICAL,
            "location": "兰苑/3号楼/12层",
            "site_id": "lanyuan",
            "opened_at": START,
            "updated_at": START,
            "last_alert_at": START,
            "escalation_level": 2,
        }
    )
    publish(operator_hub, [CaseChanged(type="case_opened", case=view)])
    card = page.locator('.board [data-case-id="41"]')
    expect(card).to_contain_text("兰苑/3号楼/12层")
    # Taken on, but nobody on the way: that must show on the card, as must the escalation.
    expect(card).to_contain_text("nobody going")
    expect(card).to_contain_text("escalated 2")

    # Half an hour of nothing new (the clock moves; no timer is run early, no event comes).
    page.clock.set_system_time(START + timedelta(minutes=30))
    expect(card).to_contain_text("last 30 min ago")  # not the "1 s ago" it said when drawn
    shanghai = START.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
    expect(card).to_contain_text(shanghai)
    page.screenshot(path=screenshots / "3-card.png")


def opened_case(case_id: int, kind: AlertKind, priority: Severity, place: str) -> HubEvent:
    view = case_view(case_id, kind=kind, device_id=f"d{case_id}")
    view = view.model_copy(update={"priority": priority, "location": place})
    return CaseChanged(type="case_opened", case=view)


def test_new_cases_together_are_told_by_the_most_urgent_not_the_latest(
    operator_hub: Hub, browser: Browser
) -> None:
    errors: list[str] = []
    page = console_at(browser, operator_hub.url, errors)
    sos = opened_case(50, AlertKind.SOS, Severity.CRITICAL, "3号楼/12层/1201 王奶奶")
    detectors = [
        opened_case(n, AlertKind.SMOKE, Severity.HIGH, f"3号楼/{n - 40}层") for n in range(51, 57)
    ]
    publish(operator_hub, [sos, *detectors])
    expect(page.locator("#toast")).to_contain_text("New cases: 7")
    expect(page.locator("#toast")).to_contain_text("sos at 3号楼/12层/1201 王奶奶")
    assert errors == []


def test_live_changes_keep_the_operators_place_on_the_board_and_in_a_note(
    operator_hub: Hub, browser: Browser
) -> None:
    """A fire case changes every second: a redraw must not take the keyboard away from the
    card the operator is on, nor from the note they are typing (the next keys went nowhere)."""
    errors: list[str] = []
    page = console_at(browser, operator_hub.url, errors)
    publish(operator_hub, [opened_case(61, AlertKind.SMOKE, Severity.CRITICAL, "3号楼/12层")])
    publish(operator_hub, [opened_case(62, AlertKind.SMOKE, Severity.HIGH, "3号楼/11层")])
    card = page.locator('.board [data-case-id="62"]')
    card.focus()
    mark = "() => { document.getElementById('board').firstElementChild.__old = true; }"
    page.evaluate(mark)
    update = case_view(61, device_id="d61").model_copy(update={"version": 2, "alert_count": 9})
    publish(operator_hub, [CaseChanged(type="case_updated", case=update)])
    expect(page.locator('.board [data-case-id="61"]')).to_contain_text("9 alerts")
    page.wait_for_function("() => !document.getElementById('board').firstElementChild.__old")
    assert page.evaluate("() => document.activeElement.dataset.caseId") == "62"

    case_id = operator_hub.log_request("Building 3", "12层走廊有烟")
    page.goto(f"{operator_hub.url}/console#/case/{case_id}")
    note = page.locator('form[data-action="acknowledge"] [name="note"]')
    note.click()
    page.keyboard.type("已通知")
    page.evaluate("() => { document.querySelector('.case-page').__old = true; }")
    view = operator_hub.call("GET", f"/api/v1/cases/{case_id}")
    fields = {k: v for k, v in view.items() if k in CaseView.model_fields}
    changed = CaseView.model_validate({**fields, "version": fields["version"] + 1})
    publish(operator_hub, [CaseChanged(type="case_updated", case=changed)])
    page.wait_for_function("() => !document.querySelector('.case-page').__old")
    page.keyboard.type("保安")
    expect(note).to_have_value("已通知保安")
    assert errors == []


def test_a_board_that_is_not_live_says_so_over_the_list(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    proxy = FreezingProxy(operator_hub.port)
    try:
        context = browser.new_context(viewport=ViewportSize(width=1280, height=900))
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.clock.install(time=START)
        sign_in(page, f"{proxy.url}/console")
        expect(page.locator("#stale")).to_be_hidden()

        proxy.freeze()
        page.clock.fast_forward("00:20")  # three heartbeats missed
        expect(page.locator("#link")).to_have_text("disconnected")
        # Over the list itself, not only a word in the corner: the cases shown may be old.
        banner = page.locator("#stale")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("Not live since")
        page.screenshot(path=screenshots / "4-not-live.png")

        proxy.thaw()
        expect(page.locator("#link")).to_have_text("live")
        expect(banner).to_be_hidden()
    finally:
        proxy.close()


def test_a_list_that_could_not_be_read_again_says_so_and_is_read_when_it_can(
    operator_hub: Hub, browser: Browser
) -> None:
    """The hub told the screen it missed events, but reading the cases again failed (an
    overloaded hub answers 503): the page must not sit on the old list under "live"."""
    errors: list[str] = []
    page = console_at(browser, operator_hub.url, errors)
    context = page.context

    def unavailable(route: Route) -> None:
        route.fulfill(status=503, json={"detail": "busy"})

    def cases_path(url: str) -> bool:
        return urlparse(url).path == "/api/v1/cases"

    context.route(cases_path, unavailable)
    store: HubStore = operator_hub.app.state.store
    store.fleet.register_device(make_device())
    result = store.intake.ingest_alerts([make_alert()], store.db.clock())  # never heard live
    bus: EventBus = operator_hub.app.state.events
    operator_hub.server.servers[0].get_loop().call_soon_threadsafe(bus.report_lost, 1)

    banner = page.locator("#stale")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("out of date")
    context.unroute(cases_path, unavailable)
    # Read again by itself once the hub answers: the case it missed is on the board.
    expect(page.locator(f'.board [data-case-id="{result.cases_opened[0].id}"]')).to_be_visible(
        timeout=30_000
    )
    expect(banner).to_be_hidden()
    assert errors == []
