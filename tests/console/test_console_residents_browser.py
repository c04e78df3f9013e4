"""The console's residents' views in a real headless Chromium: requests with their stage and
rating, a phone call logged for a household, care households, a notice and its read receipts.

A hub runs in-process under uvicorn on SQLite (no MQTT), as for the phone page's test. An
operator signs in at a desk screen, logs a call, flags a grandmother for care and marks her
away, sends a water shut-off notice to building 2 and sees who read it. Screenshots go to
``$LINLI_TEST_ARTEFACTS/<test name>/`` (default: the test's tmp), like the console's other
browser tests.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.browser import UI_TIMEOUT_MS
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]

OPERATOR = "op.li"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A running hub with a staffed site and three households in two buildings."""
    running = Hub(tmp_path)
    running.start()
    try:
        running.staff_site("g-courtyard", "Courtyard", ["Building 2", "Building 3"])
        running.call(
            "POST",
            "/api/v1/users",
            json={"username": OPERATOR, "password": PASSWORD, "role": "operator"},
        )
        yield running
    finally:
        running.stop()


def signed_in(
    browser: Browser, hub: Hub, errors: list[str], username: str = OPERATOR, role: str = "operator"
) -> Page:
    """Return a desk screen's page of the console, signed in as ``username`` (with
    ``PASSWORD``), whose account has ``role``; the page's errors go to ``errors``."""
    context = browser.new_context(viewport=ViewportSize(width=1280, height=900))
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{hub.url}/console")
    form = page.locator("form#sign-in")
    form.locator('[name="username"]').fill(username)
    form.locator('[name="password"]').fill(PASSWORD)
    form.locator("button").click()
    expect(page.locator("#who")).to_contain_text(f"{username} · {role}")
    return page


def test_requests_care_and_notices_in_the_console(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    wang = hub.call(
        "POST", "/api/v1/households", json={"name": "Wang", "location": "Building 3/Floor 12/1201"}
    )
    zhao = hub.call(
        "POST", "/api/v1/households", json={"name": "Zhao", "location": "Building 2/Floor 3/301"}
    )
    li = hub.call(
        "POST", "/api/v1/households", json={"name": "Li", "location": "Building 2/Floor 5/502"}
    )
    errors: list[str] = []
    desk = signed_in(browser, hub, errors)

    # Requests: log a phone call for the Wang family; it is dispatched at once.
    desk.locator('[data-nav="requests"]').click()
    form = desk.locator("form#log-request")
    form.locator('[name="household_id"]').select_option(str(wang["id"]))
    form.locator('[name="category"]').select_option("repair")
    form.locator('[name="text"]').fill("Stair light broken on floor 12 (phone call)")
    form.locator("button").click()
    row = desk.locator("tr[data-request-id]")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-stage", "assigned")
    expect(row).to_contain_text("plumber-1 (service)")
    expect(row).to_contain_text("operator")
    # Fixed, and rated 4/5 on the family's page: the console shows the rating.
    [request] = hub.call("GET", "/api/v1/requests")["items"]
    hub.call(
        "POST",
        f"/api/v1/cases/{request['case_id']}/resolve",
        json={"resolution": "real", "note": "New bulb"},
    )
    rated = hub.api.post(f"/r/{wang['token']}/requests/{request['id']}/rating", json={"score": 4})
    assert rated.status_code == 200, rated.text
    desk.reload()
    expect(row).to_have_attribute("data-stage", "done")
    expect(row.locator(".rating")).to_have_text("★★★★☆")
    desk.screenshot(path=screenshots / "1-requests.png", full_page=True)

    # Care: Grandma Zhao flagged, with consent and her daughter as contact, then away.
    desk.locator('[data-nav="care"]').click()
    care = desk.locator("form#flag-care")
    care.locator('[name="household_id"]').select_option(str(zhao["id"]))
    care.locator('[name="consent_by"]').fill("Zhao Min (daughter, guardian)")
    care.locator('[name="contact_name"]').fill("Zhao Min")
    care.locator('[name="contact_relation"]').fill("daughter")
    care.locator('[name="contact_target"]').fill("https://gateway.example/notify?to=daughter")
    care.locator("button").click()
    zhao_row = desk.locator(f'tr[data-household-id="{zhao["id"]}"]')
    expect(zhao_row).to_contain_text("Zhao Min (daughter) · webhook")
    expect(zhao_row).to_contain_text("Zhao Min (daughter, guardian)")
    expect(zhao_row).to_have_attribute("data-care-status", "not_watched")  # no sensors yet
    # Away for two weeks (at most a month ahead is accepted: hub.care.rules.MAX_AWAY).
    trip_end = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
    zhao_row.locator('input[name="until"]').fill(trip_end)
    zhao_row.locator("form.away button").click()
    expect(zhao_row).to_have_attribute("data-care-status", "away")
    assert hub.call("GET", f"/api/v1/households/{zhao['id']}/care")["away_until"] is not None
    desk.screenshot(path=screenshots / "2-care.png", full_page=True)

    # Notices: a water shut-off to building 2, read by one of its two households.
    desk.locator('[data-nav="notices"]').click()
    send = desk.locator("form#send-notice")
    send.locator('[name="scope"]').select_option("building")
    send.locator('[name="where"]').fill("Building 2")
    send.locator('[name="category"]').select_option("water_shutoff")
    send.locator('[name="title"]').fill("停水通知 Water shut-off")
    send.locator('[name="body"]').fill("Tomorrow 9:00-12:00, pipe works in building 2.")
    send.locator("button").click()
    notice = desk.locator("article[data-notice-id]")
    expect(notice).to_have_count(1)
    expect(notice.locator(".read-count")).to_contain_text("read by 0 of 2")
    notice_id = notice.get_attribute("data-notice-id")
    read = hub.api.post(f"/r/{zhao['token']}/notices/{notice_id}/read")
    assert read.status_code == 200
    desk.reload()
    expect(notice.locator(".read-count")).to_contain_text("read by 1 of 2")
    expect(notice.locator(f'[data-household-id="{zhao["id"]}"]')).to_have_attribute(
        "data-read", "yes"
    )
    expect(notice.locator(f'[data-household-id="{li["id"]}"]')).to_have_attribute("data-read", "no")
    expect(notice.locator(f'[data-household-id="{wang["id"]}"]')).to_have_count(0)
    desk.screenshot(path=screenshots / "3-notices.png", full_page=True)
    assert errors == []
