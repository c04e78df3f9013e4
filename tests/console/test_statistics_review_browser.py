"""The console's statistics under review, in a real headless Chromium: grouped by street, two
districts' streets of one name (新华街道) are two rows, each with its district; a community's
id is shown as the roster spells it. A hub in-process under uvicorn on SQLite, unscoped (the
city's operator)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.console.test_console_residents_browser import OPERATOR, PASSWORD, signed_in
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]

SITES = {"lan_yuan": ("新华街道", "东城区", "兰园"), "zhuyuan": ("新华街道", "西城区", "竹园")}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A hub with two communities, each on a 新华街道 of its own district, and an operator."""
    running = Hub(tmp_path)
    running.start()
    try:
        for site_id, (street, district, place) in SITES.items():
            running.put_community(site_id, street, place)
            site = {"id": site_id, "name": place, "street": street, "district": district}
            running.call("PUT", f"/api/v1/sites/{site_id}", json=site)
        account = {"username": OPERATOR, "password": PASSWORD, "role": "operator"}
        running.call("POST", "/api/v1/users", json=account)
        yield running
    finally:
        running.stop()


def test_two_districts_streets_of_one_name_are_two_rows(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    hub.log_request("兰园", "Tap drips")
    hub.log_request("竹园", "Pipe knocks")
    hub.log_request("竹园", "Gate squeaks")

    errors: list[str] = []
    page = signed_in(browser, hub, errors)
    page.locator('[data-nav="statistics"]').click()
    table = page.locator("table.statistics")
    # By community: the id as the roster has it.
    expect(table.locator('tr[data-group="lan_yuan"] th')).to_have_text("lan_yuan")

    period = page.locator("form#statistics-period")
    period.locator('[name="by"]').select_option("street")
    period.locator("button").click()
    expect(table.locator("tbody tr")).to_have_count(2)
    east = table.locator('tr[data-group="新华街道"][data-district="东城区"]')
    west = table.locator('tr[data-group="新华街道"][data-district="西城区"]')
    expect(east.locator('[data-figure="opened"]')).to_have_text("1")
    expect(west.locator('[data-figure="opened"]')).to_have_text("2")
    expect(west.locator("th")).to_have_text("新华街道 (西城区)")
    page.screenshot(path=screenshots / "1-two-xinhua-streets.png", full_page=True)
    assert errors == []
