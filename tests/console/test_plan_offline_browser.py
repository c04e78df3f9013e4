"""The site plan in a real headless Chromium: a detector gone quiet past its check-in deadline
is a fault, though nobody raised ``device_offline`` (its edge is down too); one of a slow kind
whose edge learnt it wakes once a day is not, after the same hours.

A hub runs in-process under uvicorn on SQLite (no MQTT), on a clock the test moves; an edge's
status and readings are recorded as its uplink would. Screenshots go to
``$LINLI_TEST_ARTEFACTS/<test name>/``.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from devices.kinds import DeviceKind
from devices.messages import Checkin, TelemetryBatch, TelemetryPoint
from devices.payloads import Readings
from hub.store import HubStore
from tests.console.conftest import START
from tests.console.test_console_residents_browser import signed_in
from tests.hub.factories import make_device, make_status
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]


def test_a_detector_gone_quiet_is_a_fault_on_the_plan(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    hub = operator_hub
    store: HubStore = hub.app.state.store
    assert hub.clock is not None
    smoke = make_device("b3-smoke", kind=DeviceKind.SMOKE, location="Building 3/Floor 2/Unit 201")
    flood = make_device("b3-flood", kind=DeviceKind.WATER_LEAK, location="Building 3/Basement")
    status = make_status(devices=[smoke, flood]).model_copy(
        update={
            "ts": START,
            "checkins": {
                "b3-flood": Checkin(
                    deadline_s=26 * 3600, source="learned", learned_interval_s=86_400
                )
            },
        }
    )
    store.fleet.record_edge_status(status, START)
    store.fleet.record_telemetry(
        TelemetryBatch(
            edge_id="e1",
            points=[
                TelemetryPoint(device_id="b3-smoke", ts=START, readings=Readings(smoke=False)),
                TelemetryPoint(device_id="b3-flood", ts=START, readings=Readings(water_leak=False)),
            ],
        )
    )
    errors: list[str] = []
    page = signed_in(browser, hub, errors, "op.wang")
    page.locator('[data-nav="plan"]').click()
    smoke_dot = page.locator('g.device[data-device-id="b3-smoke"]')
    flood_dot = page.locator('g.device[data-device-id="b3-flood"]')
    expect(smoke_dot).to_have_attribute("data-state", "ok")
    expect(flood_dot).to_have_attribute("data-state", "ok")

    # Two hours without a word from either, and no case: the smoke detector (the console's
    # hour, its edge gave no deadline) is a fault; the once-a-day leak sensor is not.
    hub.clock.advance(timedelta(hours=2).total_seconds())
    page.reload()
    expect(smoke_dot).to_have_attribute("data-state", "fault")
    expect(smoke_dot.locator("title")).to_contain_text("nothing heard past its check-in deadline")
    expect(flood_dot).to_have_attribute("data-state", "ok")
    page.screenshot(path=screenshots / "plan-quiet-detector.png", full_page=True)

    # A day and more later, past its learned 26 h, the leak sensor too (signed in afresh:
    # the console's session has expired meanwhile).
    hub.clock.advance(timedelta(hours=25).total_seconds())
    page = signed_in(browser, hub, errors, "op.wang")
    page.locator('[data-nav="plan"]').click()
    expect(page.locator('g.device[data-device-id="b3-flood"]')).to_have_attribute(
        "data-state", "fault"
    )
    assert errors == []
