"""Changing a care household from the console's "Flag for care" form keeps what the form does
not show (a real headless Chromium): the console sent a whole new profile, so raising an
away grandmother's quiet hours ended her trip (a wellbeing check and a message to her
daughter while she was on holiday), wiped the contacts and sensors left blank, and put her
waking hours back to the defaults."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.console.test_console_residents_browser import signed_in
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]

DAUGHTER = {"name": "Zhao Min", "relation": "daughter", "target": "https://gateway.example/n?to=d"}


def test_raising_the_quiet_hours_keeps_her_trip_contacts_sensors_and_waking_hours(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    hub = operator_hub
    zhao = hub.call(
        "POST", "/api/v1/households", json={"name": "Zhao", "location": "Building 2/Floor 3/301"}
    )
    motion = {"id": "b2-301-motion", "kind": "motion", "location": "Building 2/Floor 3/301"}
    hub.call("POST", "/api/v1/devices", json=motion)
    care = f"/api/v1/households/{zhao['id']}/care"
    hub.call(
        "PUT",
        care,
        json={
            "consent": {"by": "Zhao Min (daughter, guardian)"},
            "contacts": [DAUGHTER],
            "device_ids": ["b2-301-motion"],
            "quiet_hours": 6,
            "waking_from": "06:00:00",
            "waking_until": "21:30:00",
        },
    )
    # A trip under way: two weeks from now (at most a month ahead is accepted).
    trip_end = (datetime.now(UTC) + timedelta(days=14)).replace(microsecond=0).isoformat()
    hub.call("POST", f"{care}/away", json={"until": trip_end})
    before = hub.call("GET", care)

    errors: list[str] = []
    desk = signed_in(browser, hub, errors, "op.wang")
    desk.locator('[data-nav="care"]').click()
    form = desk.locator("form#flag-care")
    form.locator('[name="household_id"]').select_option(str(zhao["id"]))
    form.locator('[name="consent_by"]').fill("Zhao Min (daughter, guardian)")
    form.locator('[name="quiet_hours"]').fill("10")
    form.locator("button").click()
    expect(desk.locator("#toast")).to_contain_text("Care settings saved")

    after = hub.call("GET", care)
    assert after["quiet_hours"] == 10
    assert after["away_until"] == before["away_until"]
    assert after["status"] == "away"
    assert after["contacts"] == before["contacts"]
    assert after["device_ids"] == ["b2-301-motion"]
    assert (after["waking_from"], after["waking_until"]) == ("06:00:00", "21:30:00")
    desk.screenshot(path=screenshots / "care-edited.png", full_page=True)
    assert errors == []
