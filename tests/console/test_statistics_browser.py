"""The console's statistics in a real headless Chromium: a street's month (PRODUCT.md scenario
13) with a repair nobody finished in time among the overdue ones, grouped by community and by
street, as an operator scoped to the street's two communities sees it.

A hub runs in-process under uvicorn on SQLite (no MQTT), on a clock the test moves, with a
resident's request due within 2 s instead of 48 h, so that one climbs to the street when the
test moves the clock past it (the test fires the deadlines as the hub's supervisor would: it
runs beside the MQTT ingest, which this hub has not). Screenshots go to
``$LINLI_TEST_ARTEFACTS/<test name>/``.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from hub.store import HubStore
from tests.console.test_console_residents_browser import PASSWORD, signed_in
from tests.hub.conftest import FakeClock
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]

OPERATOR = "street.wu"
SITES = {"lanyuan": ("Jiaodaokou", "Lanyuan"), "meiyuan": ("Jiaodaokou", "Meiyuan"),
         "heping": ("Dongsi", "Heping")}  # fmt: skip


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A hub with three communities of two streets, each with a grid and a plumber; requests
    are due within 2 s; a street operator scoped to Jiaodaokou's two communities."""
    running = Hub(tmp_path, clock=FakeClock(datetime.now(UTC)), resolve_within_s={"request": 2.0})
    running.start()
    try:
        for site_id, (street, place) in SITES.items():
            running.put_community(site_id, street, place)
        account = {"username": OPERATOR, "password": PASSWORD, "role": "operator",
                   "sites": ["lanyuan", "meiyuan"]}  # fmt: skip
        running.call("POST", "/api/v1/users", json=account)
        yield running
    finally:
        running.stop()


def test_a_streets_month_in_the_console(hub: Hub, browser: Browser, screenshots: Path) -> None:
    fixed = hub.log_request(SITES["lanyuan"][1], "Tap drips")
    hub.call(
        "POST", f"/api/v1/cases/{fixed}/resolve", json={"resolution": "real", "note": "washer"}
    )
    pipe = hub.log_request(SITES["meiyuan"][1], "Pipe knocks")
    hub.call("POST", f"/api/v1/cases/{pipe}/resolve", json={"resolution": "real", "note": "bled"})
    stuck = hub.log_request(SITES["lanyuan"][1], "Stair light broken")
    elsewhere = hub.log_request(SITES["heping"][1], "Gate squeaks")
    hub.call(
        "POST", f"/api/v1/cases/{elsewhere}/resolve", json={"resolution": "real", "note": "oil"}
    )

    # What the hub's supervisor task does (it runs beside the MQTT ingest, which this hub
    # has not): fire the deadlines due, here once the hub's clock has passed the 2 s. (On the
    # wall clock, a slow start on a busy machine let the resolved requests be overdue too.)
    store: HubStore = hub.app.state.store
    assert hub.clock is not None
    assert [case.id for case in store.deadlines.fire_due_timers(hub.clock.advance(3))] == [stuck]

    errors: list[str] = []
    page = signed_in(browser, hub, errors, OPERATOR)

    page.locator('[data-nav="statistics"]').click()
    table = page.locator("table.statistics")
    # By community: the street's two, not Dongsi's Heping.
    expect(table.locator("tbody tr")).to_have_count(2)
    lanyuan = table.locator('tr[data-group="lanyuan"]')
    expect(lanyuan.locator('[data-figure="opened"]')).to_have_text("2")
    expect(lanyuan.locator('[data-figure="resolved"]')).to_have_text("1")
    expect(lanyuan.locator('[data-figure="overdue"]')).to_have_text("1 (50 %)")
    expect(table.locator('tr[data-group="meiyuan"] [data-figure="overdue"]')).to_have_text(
        "0 (0 %)"
    )
    total = table.locator('tr[data-group="total"]')
    expect(total.locator('[data-figure="opened"]')).to_have_text("3")
    expect(total.locator('[data-figure="false-alarms"]')).to_have_text("0 %")
    overdue = page.locator("table.overdue tbody tr")
    expect(overdue).to_have_count(1)
    expect(overdue).to_have_attribute("data-case-id", str(stuck))
    expect(overdue).to_contain_text("Jiaodaokou")
    expect(overdue).to_contain_text("lanyuan · g-lanyuan")
    page.screenshot(path=screenshots / "1-by-community.png", full_page=True)

    # By street: one street, the operator's own.
    period = page.locator("form#statistics-period")
    period.locator('[name="by"]').select_option("street")
    period.locator("button").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator('tr[data-group="Jiaodaokou"] [data-figure="opened"]')).to_have_text("3")
    # The overdue case opens the case page.
    overdue.locator("a").click()
    expect(page).to_have_url(f"{hub.url}/console#/case/{stuck}")
    page.screenshot(path=screenshots / "2-overdue-case.png", full_page=True)

    # A month with nothing in it.
    page.locator('[data-nav="statistics"]').click()
    period.locator('[name="month"]').fill("2020-01")
    period.locator("button").click()
    expect(total.locator('[data-figure="opened"]')).to_have_text("0")
    expect(page.locator("#no-overdue")).to_be_visible()
    assert errors == []
