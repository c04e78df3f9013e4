"""A case page says how its devices' cases were judged before (PRODUCT.md: learning from how
operators close cases, to fight alert fatigue), in a real headless Chromium: the zone history
an alarm operator reads before deciding. A detector judged false or nuisance in at least half
of three or more cases is said to be often false, to have it checked.

Before, the page listed the device ids only; the record was on the devices page alone, where
nobody handling a case at night looks.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from devices.kinds import AlertKind, DeviceKind
from hub.store import HubStore
from tests.console.test_console_stream_browser import console_at
from tests.hub.factories import make_alert, make_device
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]


def judged_case(hub: Hub, device_id: str, kind: AlertKind, resolution: str | None) -> int:
    """Open a case by an alert of ``device_id``; resolve it as ``resolution`` and close it
    (None: leave it open); return its id. The clock moves on an hour after each."""
    store: HubStore = hub.app.state.store
    assert hub.clock is not None
    now = store.db.clock()
    result = store.intake.ingest_alerts([make_alert(device_id=device_id, kind=kind, ts=now)], now)
    assert result.cases_opened, result
    case_id = result.cases_opened[0].id
    if resolution is not None:
        url = f"/api/v1/cases/{case_id}"
        hub.call("POST", f"{url}/resolve", json={"note": "checked", "resolution": resolution})
        hub.call("POST", f"{url}/close", json={})
    hub.clock.advance(timedelta(hours=1).total_seconds())
    return case_id


def test_a_case_page_says_how_its_detectors_cases_were_judged_before(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    store: HubStore = operator_hub.app.state.store
    store.fleet.register_device(
        make_device("smoke-7", kind=DeviceKind.SMOKE, location="Building 2/Floor 3/Kitchen")
    )
    store.fleet.register_device(
        make_device("smoke-8", kind=DeviceKind.SMOKE, location="Building 5/Floor 4/Kitchen")
    )
    for resolution in ("false_alarm", "nuisance", "test", "real", "false_alarm"):
        judged_case(operator_hub, "smoke-7", AlertKind.SMOKE, resolution)
    judged_case(operator_hub, "smoke-8", AlertKind.SMOKE, "real")
    fire = judged_case(operator_hub, "smoke-7", AlertKind.SMOKE, None)
    other = judged_case(operator_hub, "smoke-8", AlertKind.SMOKE, None)

    errors: list[str] = []
    page = console_at(browser, operator_hub.url, errors)
    page.goto(f"{operator_hub.url}/console#/case/{fire}")
    record = page.locator('#case-devices [data-device="smoke-7"]')
    # Four judged (the test is left out), three of them false or nuisance.
    expect(record).to_have_text(
        "smoke-7 · 4 cases judged, 3 false or nuisance · often false: have it checked"
    )
    page.screenshot(path=screenshots / "often-false.png")

    page.goto(f"{operator_hub.url}/console#/case/{other}")
    expect(page.locator('#case-devices [data-device="smoke-8"]')).to_have_text(
        "smoke-8 · 1 case judged, 0 false or nuisance"
    )
    assert errors == []
