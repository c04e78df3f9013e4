"""Found by an outside review of the phone page's times, in a real Chromium at phone size whose
time zone is America/New_York while the community is in Asia/Shanghai.

- Every time (a request's "reported at", its preferred window, a planned visit, a note's time)
  was told in the phone's zone: a visit at 15:00 in the community read 02:00, a day earlier.
- "Tomorrow morning 8–12" was reckoned on the phone's calendar and clock: sent from a phone on
  New York time it asked the plumber for 21:00–01:00 community time, the wrong day.
- A note's writer read "Zhang · maintenance" on the Chinese page (the hub's role word).

Now the page serves the community's zone (``<body data-zone>``, its site's, else the roster's
default) and tells and reckons every time in it, whatever the phone is set to.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from hub.auth.rules import Role, new_secret
from tests.browser import UI_TIMEOUT_MS
from tests.hub.conftest import FakeClock
from tests.residents.test_phone_page_browser import Hub, staffed_hub

pytestmark = [pytest.mark.slow]

NOW = datetime(2026, 12, 7, 22, 30, tzinfo=UTC)
"""06:30 on 8 December in the community (Shanghai); 17:30 on 7 December in New York."""


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A hub whose clock stands at ``NOW``, with a staffed site in Asia/Shanghai."""
    yield from staffed_hub(tmp_path, FakeClock(NOW))


def far_phone(browser: Browser, url: str, zone: str = "America/New_York") -> tuple[Page, list[str]]:
    """Open ``url`` on a phone set to ``zone`` whose clock reads ``NOW``."""
    context = browser.new_context(
        viewport=ViewportSize(width=390, height=844),
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id=zone,
    )
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.clock.install(time=NOW)
    page.goto(url)
    return page, errors


def household(hub: Hub) -> dict[str, str]:
    """Create the Wang family's household in the site; return it with its link."""
    made: dict[str, str] = hub.call(
        "POST",
        "/api/v1/households",
        json={"name": "王家", "location": "Building 3/Floor 12/Unit 1201"},
    )
    return made


def test_times_read_in_the_communitys_zone_on_a_phone_set_to_another(
    hub: Hub, browser: Browser
) -> None:
    home = household(hub)
    body = {
        "household_id": home["id"],
        "category": "repair",
        "text": "厨房水管漏水",
        # 14:00–18:00 on 8 December in Shanghai.
        "preferred_from": "2026-12-08T06:00:00Z",
        "preferred_until": "2026-12-08T10:00:00Z",
    }
    opened = hub.call("POST", "/api/v1/requests", json=body)
    request_id, case_id = opened["request"]["id"], opened["case_id"]
    token = new_secret()
    hub.app.state.auth_store.issue_api_token(token, "plumber-1", Role.RESPONDER)
    plumber = {"authorization": f"Bearer {token}"}
    hub.call("POST", f"/api/v1/cases/{case_id}/accept", json={}, headers=plumber)
    # The visit at 15:00 on 8 December in Shanghai.
    hub.call(
        "POST",
        f"/api/v1/requests/{request_id}/updates",
        data={"note": "下午三点上门", "visit_at": "2026-12-08T07:00:00Z"},
        headers=plumber,
    )
    page, errors = far_phone(browser, hub.url + home["link"])
    expect(page.locator("body")).to_have_attribute("data-zone", "Asia/Shanghai")
    # Reported at 06:30 on 8 December, community time (New York: 17:30 on the 7th).
    expect(page.locator("#list .card small")).to_have_text("12月8日 06:30")
    page.locator("#list .card").click()
    facts = page.locator("#detail dd")
    expect(facts.nth(1)).to_have_text("12月8日 15:00")
    expect(facts.nth(2)).to_have_text("12月8日 14:00 – 12月8日 18:00")
    note = page.locator("#detail .updates small").first
    expect(note).to_contain_text("12月8日 06:30")
    expect(note).to_contain_text("Zhang · 维修师傅")
    expect(note).not_to_contain_text("maintenance")
    assert errors == []


def test_tomorrow_morning_is_the_communitys_tomorrow_morning(hub: Hub, browser: Browser) -> None:
    home = household(hub)
    page, errors = far_phone(browser, hub.url + home["link"])
    page.locator("#new").click()
    page.locator("label.chip", has_text="维修").click()
    page.locator("textarea[name=text]").fill("楼道灯不亮")
    options = page.locator("select[name=window] option")
    # 06:30 in the community: this afternoon and tonight are still ahead there.
    expect(options).to_have_count(5)
    page.locator("select[name=window]").select_option("tomorrow_am")
    page.locator("#send").click()
    expect(page.locator("#detail .progress li.now")).to_have_text("已派单")
    [request] = hub.call("GET", "/api/v1/requests")["items"]
    # 08:00–12:00 on 9 December in Shanghai, not 08:00–12:00 on 8 December in New York.
    assert request["preferred_from"] == "2026-12-09T00:00:00Z"
    assert request["preferred_until"] == "2026-12-09T04:00:00Z"
    expect(page.locator("#detail dd").last).to_have_text("12月9日 08:00 – 12月9日 12:00")
    assert errors == []


def test_a_household_of_no_site_reads_the_default_zone(hub: Hub, browser: Browser) -> None:
    made = hub.call(
        "POST", "/api/v1/households", json={"name": "李家", "location": "Elsewhere/Unit 1"}
    )
    page, errors = far_phone(browser, hub.url + made["link"], zone="UTC")
    expect(page.locator("body")).to_have_attribute("data-zone", "Asia/Shanghai")
    assert errors == []


def test_the_page_serves_its_sites_zone(hub: Hub) -> None:
    site = {"id": "lanyuan", "name": "Lanyuan", "timezone": "Asia/Tokyo"}
    hub.call("PUT", "/api/v1/sites/lanyuan", json=site)
    home = household(hub)
    page = httpx.get(hub.url + home["link"], timeout=10)
    assert page.status_code == 200
    assert 'data-zone="Asia/Tokyo"' in page.text


def test_the_not_fixed_deadline_is_shown_in_the_communitys_time(hub: Hub, browser: Browser) -> None:
    """The rating form offered "问题没有解决" (not fixed) with no word of until when."""
    home = household(hub)
    body = {"household_id": home["id"], "category": "repair", "text": "门锁坏了"}
    case_url = f"/api/v1/cases/{hub.call('POST', '/api/v1/requests', json=body)['case_id']}"
    hub.call("POST", f"{case_url}/accept", json={})
    hub.call("POST", f"{case_url}/resolve", json={"resolution": "real", "note": "换了新锁"})
    page, errors = far_phone(browser, hub.url + home["link"])
    page.locator("#list .card").click()
    # Seven days after the resolution at NOW: 06:30 on 15 December in the community.
    not_fixed = page.locator("#rating label.check")
    expect(not_fixed).to_have_text("问题没有解决（可选至 12月15日 06:30）")
    assert errors == []
