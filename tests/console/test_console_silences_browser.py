"""Silences in the console (a real headless Chromium, a hub under uvicorn): the Silences page
sets a drill and ends it, says what the hub refuses, warns that life-safety kinds are silenced
unless kinds are chosen, and reads a time typed in as the site's; the case board says "On test"
while any silence is in force, and keeps saying it right without a reload.

Before, the console showed nothing of silences: a night-shift operator did not know that
Building 3 was on test until 16:00 and its smoke alarms swallowed, and only curl set or ended
one.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from devices.kinds import AlertKind, Severity
from hub.store import HubStore
from tests.browser import UI_TIMEOUT_MS
from tests.console.test_console_residents_browser import OPERATOR, PASSWORD, hub
from tests.hub.factories import make_alert, make_device
from tests.residents.test_phone_page_browser import Hub

__all__ = ["hub"]  # a running hub with a staffed site (Building 2, Building 3) and an operator

pytestmark = [pytest.mark.slow]

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the site's clock (the roster's default)


def desk(browser: Browser, hub: Hub, errors: list[str], username: str = OPERATOR) -> Page:
    """A 1366×768 laptop's console, on a clock the test moves, signed in as ``username``."""
    context = browser.new_context(viewport=ViewportSize(width=1366, height=768))
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.clock.install()
    page.goto(f"{hub.url}/console")
    form = page.locator("form#sign-in")
    form.locator('[name="username"]').fill(username)
    form.locator('[name="password"]').fill(PASSWORD)
    form.locator("button").click()
    expect(page.locator("#who")).to_contain_text(username)
    return page


def silence(hub: Hub, target: str, reason: str, **more: Any) -> dict[str, Any]:
    ends = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    body = {"scope": "place", "target": target, "ends_at": ends, "reason": reason, **more}
    result: dict[str, Any] = hub.call("POST", "/api/v1/silences", json=body)
    return result


def on_site_clock(value: str) -> str:
    """How the console shows a silence's time of today or another day: on the site's clock, to
    the minute."""
    moment = datetime.fromisoformat(value).astimezone(SHANGHAI)
    today = datetime.now(SHANGHAI).date()
    return moment.strftime("%H:%M" if moment.date() == today else "%Y-%m-%d %H:%M")


def test_an_operator_sets_a_drill_sees_it_on_the_board_and_ends_it(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    errors: list[str] = []
    page = desk(browser, hub, errors)
    page.locator("#silences-nav").click()
    expect(page.locator("#silences-active tbody")).to_have_text("None.")
    form = page.locator("form#set-silence")
    # What is silenced, said before it is sent: no kind chosen, every kind but life-safety;
    # a life-safety kind chosen, loudly, an SOS loudest.
    warning = page.locator("#silence-warning")
    expect(warning).to_contain_text("every kind but the life-safety ones is silenced")
    form.locator('input[value="smoke"]').check()
    expect(warning).to_have_text(
        "Life-safety alarms silenced: smoke from there will open no case and page no one."
    )
    form.locator('input[value="sos"]').check()
    expect(warning).to_contain_text("SOS is silenced: a resident pressing the button")
    form.locator('input[value="sos"]').uncheck()
    form.locator('input[value="smoke"]').uncheck()
    form.locator('input[value="water_leak"]').check()
    expect(warning).to_be_hidden()
    form.locator('input[value="water_leak"]').uncheck()

    # A 422's field errors in words; nothing is set.
    form.locator('[name="target"]').fill("   ")
    form.locator('[name="reason"]').fill("fire drill")
    form.locator("button[type=submit]").click()
    expect(page.locator("#silences-error")).to_have_text(
        "target: String should have at least 1 character"
    )
    assert hub.call("GET", "/api/v1/silences")["items"] == []

    # Until 16:00 tomorrow on the site's clock (Shanghai), whatever the desk PC's clock says.
    tomorrow = datetime.now(SHANGHAI).date() + timedelta(days=1)
    form.locator('[name="target"]').fill("Building 3")
    form.locator('[name="duration"]').select_option("at")
    expect(form).to_contain_text("on Asia/Shanghai clock")
    form.locator('[name="ends_at"]').fill(f"{tomorrow.isoformat()}T16:00")
    form.locator("button[type=submit]").click()
    expect(page.locator("#toast")).to_contain_text("On test: Building 3 until")
    [stored] = hub.call("GET", "/api/v1/silences?active=true")["items"]
    sixteen = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 16, tzinfo=SHANGHAI)
    assert datetime.fromisoformat(stored["ends_at"]) == sixteen
    assert (stored["target"], stored["kinds"], stored["created_by"]) == (
        "Building 3",
        [],
        OPERATOR,
    )
    row = page.locator(f'#silences-active tr[data-silence-id="{stored["id"]}"]')
    expect(row).to_contain_text("every kind but life-safety")
    expect(row).to_contain_text(on_site_clock(stored["ends_at"]))
    expect(row).to_contain_text("fire drill")
    expect(row).to_contain_text(OPERATOR)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=screenshots / "silences-page.png")

    # The board says so, one line, linking to the Silences page.
    page.locator('[data-nav="board"]').click()
    banner = page.locator("#silence-banner")
    expect(banner).to_have_text(
        f"On test: Building 3 (every kind but life-safety) until"
        f" {on_site_clock(stored['ends_at'])}"
        " — fire drill"
    )
    page.screenshot(path=screenshots / "board-on-test.png")
    # The words are the hub's: a water leak there is swallowed, a fire is not.
    store: HubStore = hub.app.state.store
    store.fleet.register_device(make_device())
    now = datetime.now(UTC)
    fire = make_alert(kind=AlertKind.SMOKE, ts=now)
    leak = make_alert(kind=AlertKind.WATER_LEAK, severity=Severity.MEDIUM, ts=now)
    taken = store.intake.ingest_alerts([fire, leak], store.db.clock())
    assert taken.silenced == [leak.id]
    assert [case.kind for case in taken.cases_opened] == [AlertKind.SMOKE]
    banner.locator("a").click()
    expect(page).to_have_url(f"{hub.url}/console#/silences")

    # End now, asked first: the hub has it ended, the page lists it as over.
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button.end").click()
    expect(page.locator("#toast")).to_have_text("Silence of Building 3 ended")
    expect(page.locator("#silences-active tbody")).to_have_text("None.")
    assert hub.call("GET", "/api/v1/silences?active=true")["items"] == []
    [ended] = hub.call("GET", "/api/v1/silences")["items"]
    assert ended["ended_by"] == OPERATOR
    page.locator('[data-nav="board"]').click()
    expect(page.locator(".board-page")).to_be_visible()
    expect(page.locator("#silence-banner")).to_be_hidden()
    assert errors == []


def test_the_board_banner_follows_silences_without_a_reload(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    errors: list[str] = []
    page = desk(browser, hub, errors)
    banner = page.locator("#silence-banner")
    expect(page.locator(".board-page")).to_be_visible()
    expect(banner).to_be_hidden()
    # Another operator (curl, another desk) puts Building 3 on test: shown at the next reading.
    drill = silence(hub, "Building 3", "fire drill", kinds=["smoke", "heat"])
    page.clock.fast_forward("00:31")
    expect(banner).to_contain_text("On test: Building 3 (heat, smoke) until")
    # Many at once: a few lines, and how many more.
    for number in range(1, 4):
        silence(hub, f"Building 2/Floor {number}", f"boiler service {number}")
    page.clock.fast_forward("00:31")
    expect(banner.locator("li")).to_have_count(4)
    expect(banner.locator("li").last).to_have_text("and 1 more on test")
    page.screenshot(path=screenshots / "board-many-on-test.png")
    # Ended elsewhere: gone at the next reading, not left on until a reload.
    for item in hub.call("GET", "/api/v1/silences?active=true")["items"]:
        hub.call("POST", f"/api/v1/silences/{item['id']}/end")
    page.clock.fast_forward("00:31")
    expect(banner).to_be_hidden()
    assert drill["id"] > 0
    assert errors == []


def test_who_may_not_set_silences_is_not_offered_the_page_and_a_403_is_shown(
    hub: Hub, browser: Browser
) -> None:
    hub.call("PUT", "/api/v1/sites/meiyuan", json={"id": "meiyuan", "name": "Meiyuan"})
    for username, role, sites in (
        ("patrol.chen", "responder", None),
        ("op.meiyuan", "operator", ["meiyuan"]),
    ):
        account = {"username": username, "password": PASSWORD, "role": role, "sites": sites}
        hub.call("POST", "/api/v1/users", json=account)
    silence(hub, "Building 3", "fire drill")
    errors: list[str] = []
    responder = desk(browser, hub, errors, "patrol.chen")
    # A responder sees the drill on the board (alarms there are swallowed) but sets none.
    expect(responder.locator("#silence-banner")).to_contain_text("On test: Building 3")
    expect(responder.locator("#silences-nav")).to_be_hidden()
    responder.goto(f"{hub.url}/console#/silences")
    expect(responder.locator("#silences-active tbody tr")).to_have_count(1)
    expect(responder.locator("form#set-silence")).to_have_count(0)
    expect(responder.locator("button.end")).to_have_count(0)

    # An operator of another site: the hub's refusal as it says it.
    other = desk(browser, hub, errors, "op.meiyuan")
    expect(other.locator("#silences-nav")).to_be_visible()
    other.locator("#silences-nav").click()
    form = other.locator("form#set-silence")
    form.locator('[name="target"]').fill("Building 3")
    form.locator('[name="reason"]').fill("drill")
    form.locator("button[type=submit]").click()
    expect(other.locator("#silences-error")).to_have_text(
        "a silence of place Building 3 reaches outside your sites"
    )
    assert len(hub.call("GET", "/api/v1/silences")["items"]) == 1
    assert errors == []
