"""The site plan under review, in a real headless Chromium: Lanyuan and Zhuyuan each have a
"Building 3" with a smoke detector on its floor 12; a fire in Zhuyuan's must show as Zhuyuan's
Building 3 in alarm, Lanyuan's calm beside it, each named with its community (one building,
its floor holding both detectors, before)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from hub.store import HubStore
from tests.console.test_console_residents_browser import signed_in
from tests.console.test_map_review_browser import hub  # noqa: F401 - the two-site hub
from tests.hub.factories import make_alert
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]


def test_each_communitys_building_3_is_its_own_on_the_plan(
    hub: Hub,  # noqa: F811
    browser: Browser,
    screenshots: Path,
) -> None:
    store: HubStore = hub.app.state.store
    now = datetime.now(UTC)
    store.intake.ingest_alerts([make_alert(device_id="zhuyuan-b3-smoke", ts=now)], now)

    errors: list[str] = []
    page = signed_in(browser, hub, errors)
    page.locator('[data-nav="plan"]').click()
    zhuyuan = page.locator('g.plan-building[data-site="zhuyuan"][data-building="Building 3"]')
    lanyuan = page.locator('g.plan-building[data-site="lanyuan"][data-building="Building 3"]')
    expect(zhuyuan.locator("text.building")).to_have_text("Zhuyuan · Building 3 ⚠ 1")
    expect(lanyuan.locator("text.building")).to_have_text("Lanyuan · Building 3")
    expect(zhuyuan.locator("g.device")).to_have_count(1)
    expect(zhuyuan.locator('g.device[data-device-id="zhuyuan-b3-smoke"]')).to_have_attribute(
        "data-state", "alarm"
    )
    expect(lanyuan.locator("g.device")).to_have_count(1)
    expect(lanyuan.locator('g.device[data-device-id="lanyuan-b3-smoke"]')).to_have_attribute(
        "data-site", "lanyuan"
    )
    assert lanyuan.locator("g.device").get_attribute("data-state") != "alarm"
    page.screenshot(path=screenshots / "1-two-building-3s-on-the-plan.png", full_page=True)
    assert errors == []
