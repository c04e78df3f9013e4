"""The map's places lead to their most urgent case, and the map follows the live stream (a real
headless Chromium against a hub served in-process on SQLite, with the dense community of
tests/console/map_review_community.py).

Before, a place led to the whole site plan whatever was open there, and the map re-read every
unfinished case (five reads of up to 10 000 each) every 15 s, showing a new SOS only then."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Request, expect

from devices.kinds import AlertKind, Severity
from hub.cases.changes import CaseChanges
from tests.console.map_review_community import Community, running_community
from tests.console.test_console_map_review_browser import MONITOR, map_on
from tests.hub.factories import make_alert

pytestmark = [pytest.mark.slow]


def press_sos(community: Community, device_id: str) -> int:
    """Send ``device_id``'s SOS in as the MQTT ingest does (stored, then reported on the live
    stream by the hub's ``CaseChanges``); return the case it opened."""
    now = datetime.now(UTC)
    alert = make_alert(device_id=device_id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=now)
    result = community.store.intake.ingest_alerts([alert], now)
    changes: CaseChanges = community.hub.app.state.case_changes
    loop = community.hub.server.servers[0].get_loop()
    loop.call_soon_threadsafe(changes.alerts_stored, result)
    [case] = result.cases_opened
    return case.id


@pytest.fixture
def lanyuan(tmp_path: Path) -> Iterator[Community]:
    yield from running_community(tmp_path)


def test_a_place_leads_to_its_most_urgent_case(
    lanyuan: Community, browser: Browser, screenshots: Path
) -> None:
    """By priority (Building 8's SOS before its smoke detector's low battery), then the one
    nobody has answered yet, the longest waiting first (Building 9's two leaks, medium, before
    its low battery); a place with no unfinished case leads to the site plan."""
    hub, cases = lanyuan.hub, lanyuan.cases
    page, errors = map_on(browser, lanyuan, MONITOR)
    b8 = page.locator('svg.map g.place[data-place="Building 8"]')
    b9 = page.locator('svg.map g.place[data-place="Building 9"]')
    gate = page.locator('svg.map g.place[data-place="North Gate"]')
    expect(b8).to_have_attribute("data-leads-to", f"#/case/{cases['b8-sos']}")
    expect(b8).to_have_attribute("aria-label", re.compile("opens its critical SOS case$"))
    expect(b9).to_have_attribute("data-leads-to", f"#/case/{cases['b9-leak-2']}")  # opened first

    # The first leak taken on: the other one, nobody's yet, comes first.
    hub.call("POST", f"/api/v1/cases/{cases['b9-leak-2']}/acknowledge", json={})
    # The gate's only case resolved: it leads to the site plan.
    hub.call(
        "POST",
        f"/api/v1/cases/{cases['gate-door']}/resolve",
        json={"resolution": "real", "note": "closed"},
    )
    page.reload()
    expect(b9).to_have_attribute("data-leads-to", f"#/case/{cases['b9-leak-5']}")
    expect(gate).to_have_attribute("data-leads-to", "#/plan")
    expect(gate).to_have_attribute("aria-label", re.compile("opens the site plan$"))
    # Both leaks taken on: the longest waiting again (its low battery still waits behind them).
    hub.call("POST", f"/api/v1/cases/{cases['b9-leak-5']}/acknowledge", json={})
    page.reload()
    expect(b9).to_have_attribute("data-leads-to", f"#/case/{cases['b9-leak-2']}")
    page.screenshot(path=screenshots / "1-places-lead-to-cases.png")

    # By mouse, and by keyboard.
    b8.click()
    expect(page).to_have_url(re.compile(f"#/case/{cases['b8-sos']}$"))
    page.go_back()
    b9.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"#/case/{cases['b9-leak-2']}$"))
    page.go_back()
    gate.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#/plan$"))
    assert errors == []


def test_the_map_follows_the_stream_without_reading_every_case_again(
    lanyuan: Community, browser: Browser
) -> None:
    """An SOS pressed in Building 9 while the operator watches the map is ringed, listed first
    and led to as it comes on the stream; resolved, it leaves; and the map reads no list of
    cases for it (positions and devices' states keep their own slower reading)."""
    page, errors = map_on(browser, lanyuan, MONITOR)
    reads: list[str] = []

    def read(request: Request) -> None:
        if "/api/v1/cases" in request.url:
            reads.append(request.url)

    page.on("request", read)
    b9 = page.locator('svg.map g.place[data-place="Building 9"]')
    expect(b9.locator(".hazard")).to_have_count(0)
    case_id = press_sos(lanyuan, "b9-batt")
    expect(b9.locator(".hazard")).to_have_count(1)
    expect(b9).to_have_attribute("data-leads-to", f"#/case/{case_id}")
    expect(page.locator("#map-cases a").first).to_have_attribute("href", f"#/case/{case_id}")
    lanyuan.hub.call(
        "POST", f"/api/v1/cases/{case_id}/resolve", json={"resolution": "real", "note": "ok"}
    )
    expect(b9.locator(".hazard")).to_have_count(0)
    expect(page.locator(f'#map-cases a[href="#/case/{case_id}"]')).to_have_count(0)
    assert [url for url in reads if "status=" in url] == []
    assert errors == []
