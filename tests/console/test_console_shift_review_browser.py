"""An outside review of the console by a night-shift operator, in a real headless
Chromium against a hub served in-process (SQLite, no MQTT; live events put on the hub's own
bus, as its intake does): the keyboard keeps its place in the alert panel through a storm; an
alert whose case is not on this screen is read on its own site's clock; a screen opened late
counts a sensor's night of repeats as its case does; a resolved case can be reopened, and
closing it says it is for good; a case taken on whose responder declined says nobody is going.
"""

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, ViewportSize, expect

from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import AlertReason
from hub.auth.repository import AuthStore
from hub.auth.rules import Role, new_secret
from hub.cases.views import AlertView, CaseMemberView
from hub.live.events import AlertReceived, CaseChanged
from tests.browser import UI_TIMEOUT_MS
from tests.console.conftest import START
from tests.console.test_console_burst_browser import publish
from tests.console.test_console_night_review_browser import sign_in
from tests.console.test_console_stream_browser import console_at
from tests.hub.test_events import case_view
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]


def raised(
    n: int, device: str, kind: AlertKind, *, edge: str = "e1", case_id: int | None = None
) -> AlertReceived:
    return AlertReceived(
        alert=AlertView(
            id=f"shift-{n:05d}",
            edge_id=edge,
            device_id=device,
            kind=kind,
            state=AlertState.RAISED,
            severity=Severity.CRITICAL if kind is AlertKind.SOS else Severity.MEDIUM,
            ts=START + timedelta(milliseconds=n),
            detected_at=START,
            received_at=START,
            case_id=case_id,
            location=f"3号楼/B1/{device}",
            reason=AlertReason(rule="flag"),
        )
    )


def test_the_keyboard_keeps_its_row_in_the_alert_panel_while_alerts_keep_coming(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    """An operator tabbing through the live alerts (no mouse at the wall desk) is on the SOS
    row; a flapping sensor's next alerts redraw the panel: the keyboard stays on the SOS row
    (it had fallen back to the page's start, the next Enter opening nothing)."""
    errors: list[str] = []
    page = console_at(browser, operator_hub.url, errors)
    publish(
        operator_hub,
        [raised(1, "1201-sos", AlertKind.SOS, case_id=7), raised(2, "pump", AlertKind.WATER_LEAK)],
    )
    sos = page.locator('.stream-list [data-device-id="1201-sos"] a')
    expect(sos).to_be_visible()
    sos.focus()
    page.evaluate("() => { document.getElementById('stream').firstElementChild.__old = true; }")
    publish(operator_hub, [raised(n, "pump", AlertKind.WATER_LEAK) for n in range(3, 9)])
    expect(page.locator('.stream-list [data-device-id="pump"]')).to_contain_text("×7")
    page.wait_for_function("() => !document.getElementById('stream').firstElementChild.__old")
    assert page.evaluate("() => document.activeElement.closest('li')?.dataset.deviceId") == (
        "1201-sos"
    )
    page.keyboard.press("Enter")  # the keyboard opens the SOS it is on
    expect(page).to_have_url(f"{operator_hub.url}/console#/case/7")
    page.screenshot(path=screenshots / "1-keyboard-on-the-sos.png")
    assert errors == []


def test_an_alert_of_a_case_not_on_this_screen_is_read_on_its_sites_clock(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    """Two communities on two clocks (a street office watching Shanghai and Kashgar's sites),
    a desk PC left on New York time: an alert of no case on this screen (its case not read, or
    none yet) is shown on its edge's site's clock, not on the PC's (alerts carry no site: it
    had been New York's time, hours off, beside the other alerts' site times)."""
    shanghai = {"id": "lanyuan", "name": "兰苑", "timezone": "Asia/Shanghai", "edge_ids": ["e1"]}
    kashgar = {"id": "kashi", "name": "喀什", "timezone": "Asia/Kolkata", "edge_ids": ["e2"]}
    operator_hub.call("PUT", "/api/v1/sites/lanyuan", json=shanghai)
    operator_hub.call("PUT", "/api/v1/sites/kashi", json=kashgar)
    context = browser.new_context(
        viewport=ViewportSize(width=1366, height=768), timezone_id="America/New_York"
    )
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, f"{operator_hub.url}/console")

    publish(operator_hub, [raised(1, "kashi-smoke", AlertKind.SMOKE, edge="e2", case_id=99)])
    row = page.locator('.stream-list [data-device-id="kashi-smoke"]')
    ts = START + timedelta(milliseconds=1)
    expect(row).to_contain_text(ts.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%H:%M:%S"))
    page.screenshot(path=screenshots / "2-site-clock.png")
    assert errors == []


def test_a_case_resolved_by_mistake_is_reopened_and_closing_says_it_is_for_good(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    """A leak resolved as a false alarm, and the resident calls back: the water is still
    coming. The page of a resolved case had offered nothing ("This case is finished."), so the
    console could not undo a resolve the hub allows undoing; and "Close", which the hub makes
    final, must not be one keypress away without saying so."""
    case_id = operator_hub.log_request("Building 3", "厨房水管漏水")
    resolved = {"note": "误报", "resolution": "false_alarm"}
    operator_hub.call("POST", f"/api/v1/cases/{case_id}/resolve", json=resolved)
    errors: list[str] = []
    page = console_at(browser, operator_hub.url, errors)
    page.goto(f"{operator_hub.url}/console#/case/{case_id}")
    expect(page.locator("#case-status")).to_have_text("resolved")

    reopen = page.locator('form[data-action="reopen"]')
    reopen.locator('[name="note"]').fill("住户来电: 还在漏水")
    page.screenshot(path=screenshots / "3-resolved-reopen-or-close.png")
    reopen.locator("button").press("Enter")  # keyboard only
    expect(page.locator("#case-status")).to_have_text("open")
    assert operator_hub.call("GET", f"/api/v1/cases/{case_id}")["status"] == "open"

    operator_hub.call("POST", f"/api/v1/cases/{case_id}/resolve", json=resolved)
    page.reload()
    expect(page.locator("#case-status")).to_have_text("resolved")
    close = page.locator('form[data-action="close"]')
    expect(close).to_contain_text("for good: a closed case cannot be reopened")
    close.locator("button").click()  # not ticked: the browser stops it, the case stays
    assert close.locator("input[type=checkbox]").evaluate("(box) => box.validity.valid") is False
    assert operator_hub.call("GET", f"/api/v1/cases/{case_id}")["status"] == "resolved"
    close.locator("input[type=checkbox]").check()
    close.locator("button").click()
    expect(page.locator("#case-status")).to_have_text("closed")
    expect(page.locator('form[data-action="reopen"]')).to_have_count(0)
    assert errors == []


def test_a_screen_opened_late_counts_a_sensors_repeats_as_its_case_does(
    operator_hub: Hub, browser: Browser
) -> None:
    """The pump-room leak sensor has flapped 300 times into one case since midnight; the day
    operator opens the console at 7: its row must say ×300, not the ×1 this screen has seen
    (which reads as a fresh, single alert)."""
    errors: list[str] = []
    page = console_at(browser, operator_hub.url, errors)
    view = case_view(8, kind=AlertKind.WATER_LEAK, device_id="pump")
    member = CaseMemberView(
        device_id="pump",
        kind=AlertKind.WATER_LEAK,
        alert_count=300,
        first_alert_at=START - timedelta(hours=7),
        last_alert_at=START,
    )
    view = view.model_copy(update={"members": [member], "alert_count": 300})
    publish(operator_hub, [CaseChanged(type="case_opened", case=view)])
    expect(page.locator('.board [data-case-id="8"]')).to_contain_text("300 alerts")
    publish(operator_hub, [raised(1, "pump", AlertKind.WATER_LEAK, case_id=8)])
    repeats = page.locator('.stream-list [data-device-id="pump"] .repeats')
    expect(repeats).to_have_text(" ×300")
    expect(repeats).to_have_attribute("title", "300 alerts from this device in case #8")
    assert errors == []


def answer(hub: Hub, responder: str, case_id: int, action: str) -> None:
    """``responder`` answers a case from their phone (a token of theirs, as the app holds)."""
    store: AuthStore = hub.app.state.auth_store
    token = new_secret()
    store.issue_api_token(token, responder, Role.RESPONDER)
    response = httpx.post(
        f"{hub.url}/api/v1/cases/{case_id}/{action}",
        json={},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text


def test_a_case_taken_on_whose_responder_declined_says_nobody_is_going(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    """A leak taken on (the resident told someone is coming), dispatched to the one plumber
    on call, who declines from his phone: the case is back to open with nobody on it. Its
    card had read as a fresh open case (nothing said a resident is waiting for someone who is
    not coming); its page said "Team: nobody yet"."""
    operator_hub.staff_site("g-b3", "B3", ["Building 3"])
    case_id = operator_hub.log_request("Building 3", "厨房水管漏水")
    operator_hub.call("POST", f"/api/v1/cases/{case_id}/acknowledge", json={})
    errors: list[str] = []
    page = console_at(browser, operator_hub.url, errors)
    card = page.locator(f'.board [data-case-id="{case_id}"]')
    expect(card).to_have_attribute("data-status", "dispatched")
    expect(card).to_contain_text("nobody going (1 asked)")

    answer(operator_hub, "plumber-1", case_id, "decline")
    expect(card).to_have_attribute("data-status", "open")
    expect(card.locator(".pill.nobody-going")).to_have_text("nobody going (declined)")
    page.screenshot(path=screenshots / "4-declined.png")
    card.click()
    expect(page.locator("#case-team")).to_have_text("nobody: plumber-1 declined")
    assert errors == []
