"""Silences in the console, live (a real headless Chromium, a hub under uvicorn): the alert
panel shows a silenced alert "on test", not as an alarm; a silence set or ended at another desk
reaches this one's banner and Silences page at once (the stream's ``silence_changed``); a
place's silence is shown on its site's clock; a silence not started yet is cancelled, not
"ended now".

Before: the panel showed a drill's smoke alarms like a fire; another desk's silence reached the
banner only at its next 30 s reading and the Silences page never (until reopened); a place
silence's times were on the browser's clock when sites' zones differ; and the button of a
coming silence said "End now".
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect

from devices.kinds import AlertKind, Severity
from hub.live.events import EventBus, events_of
from hub.store import HubStore
from tests.console.test_console_residents_browser import hub
from tests.console.test_console_silences_browser import desk, on_site_clock, silence
from tests.hub.factories import make_alert, make_device
from tests.residents.test_phone_page_browser import Hub

__all__ = ["hub"]  # a running hub with a staffed site (Building 2, Building 3) and an operator

pytestmark = [pytest.mark.slow]


def _ingest_and_stream(hub: Hub, alerts: list[Any]) -> Any:
    """Take ``alerts`` in as the intake does and put what it did on the live stream."""
    store: HubStore = hub.app.state.store
    taken = store.intake.ingest_alerts(alerts, store.db.clock())
    bus: EventBus = hub.app.state.events
    hub.server.servers[0].get_loop().call_soon_threadsafe(bus.publish_all, events_of(taken))
    return taken


def test_the_alert_panel_shows_a_silenced_alert_on_test_not_as_an_alarm(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    errors: list[str] = []
    page = desk(browser, hub, errors)
    drill = silence(hub, "Building 3", "fire drill, 10:00-10:30", kinds=["smoke"])
    store: HubStore = hub.app.state.store
    store.fleet.register_device(make_device())  # b3-1201-smoke, Building 3
    store.fleet.register_device(make_device("b2-smoke", location="Building 2/Floor 1/101"))
    now = datetime.now(UTC)
    drilled = make_alert(kind=AlertKind.SMOKE, ts=now)
    real = make_alert(device_id="b2-smoke", kind=AlertKind.SMOKE, severity=Severity.HIGH, ts=now)
    taken = _ingest_and_stream(hub, [drilled, real])
    assert taken.silenced == [drilled.id]

    on_test = page.locator(f'.stream-list li[data-alert-id="{drilled.id}"]')
    expect(on_test).to_have_class("alert on-test")
    expect(on_test).to_contain_text("on test")
    expect(on_test).to_have_attribute(
        "title", f"On test (silence {drill['id']}): fire drill, 10:00-10:30"
    )
    alarm = page.locator(f'.stream-list li[data-alert-id="{real.id}"]')
    expect(alarm).to_have_class("alert high")
    page.screenshot(path=screenshots / "alert-panel-on-test.png")

    # Read again from the hub (a reload, a screen opened later): the same.
    page.reload()
    expect(page.locator(f'.stream-list li[data-alert-id="{drilled.id}"]')).to_have_class(
        "alert on-test"
    )
    expect(page.locator(f'.stream-list li[data-alert-id="{real.id}"]')).to_have_class("alert high")
    assert errors == []


def test_a_silence_set_and_ended_at_another_desk_shows_here_at_once(
    hub: Hub, browser: Browser
) -> None:
    errors: list[str] = []
    board = desk(browser, hub, errors)
    banner = board.locator("#silence-banner")
    expect(board.locator(".board-page")).to_be_visible()
    listing = desk(browser, hub, errors)
    listing.locator("#silences-nav").click()
    expect(listing.locator("#silences-active tbody")).to_have_text("None.")
    # The banner's 30 s reading just happened: what shows before the next came by the stream.
    board.clock.fast_forward("00:31")
    expect(banner).to_be_hidden()

    drill = silence(hub, "Building 3", "fire drill", kinds=["smoke", "heat"])
    expect(banner).to_contain_text("On test: Building 3 (heat, smoke) until")
    row = listing.locator(f'#silences-active tr[data-silence-id="{drill["id"]}"]')
    expect(row).to_contain_text("fire drill")
    # The form someone is filling in at the listing desk is left as it is.
    listing.locator('form#set-silence [name="reason"]').fill("half typed")

    hub.call("POST", f"/api/v1/silences/{drill['id']}/end")
    expect(banner).to_be_hidden()
    expect(listing.locator("#silences-active tbody")).to_have_text("None.")
    expect(listing.locator('form#set-silence [name="reason"]')).to_have_value("half typed")
    assert errors == []


def test_a_place_silence_shows_on_its_sites_clock_and_a_coming_one_is_cancelled(
    hub: Hub, browser: Browser
) -> None:
    # A second site on another clock: the sites no longer share one zone.
    hub.call(
        "PUT",
        "/api/v1/sites/berlin",
        json={"id": "berlin", "name": "Berlin", "timezone": "Europe/Berlin"},
    )
    starts = datetime.now(UTC) + timedelta(hours=3)
    coming = silence(
        hub,
        "Building 3",
        "boiler service",
        starts_at=starts.isoformat(),
        ends_at=(starts + timedelta(hours=1)).isoformat(),
    )
    assert coming["site_id"] == "lanyuan"
    errors: list[str] = []
    page = desk(browser, hub, errors)
    page.locator("#silences-nav").click()
    row = page.locator(f'#silences-coming tr[data-silence-id="{coming["id"]}"]')
    # On Lanyuan's clock (Shanghai), not this screen's (UTC here): 8 hours apart.
    expect(row).to_contain_text(on_site_clock(coming["starts_at"]))
    expect(row).to_contain_text(on_site_clock(coming["ends_at"]))
    utc = datetime.fromisoformat(coming["starts_at"]).astimezone(ZoneInfo("UTC"))
    expect(row).not_to_contain_text(utc.strftime("%H:%M"))

    button = row.locator("button.end")
    expect(button).to_have_text("Cancel")
    page.once("dialog", lambda dialog: dialog.accept())
    button.click()
    expect(page.locator("#toast")).to_have_text("Silence of Building 3 cancelled")
    expect(page.locator("#silences-coming tbody")).to_have_text("None.")
    trail = hub.call("GET", "/api/v1/audit?limit=100")["items"]
    [entry] = [e for e in trail if e["action"] == "silence_ended"]
    assert entry["detail"]["cancelled"] is True
    assert errors == []
