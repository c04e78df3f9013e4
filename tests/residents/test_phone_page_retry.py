"""Found by an outside review: the phone page's "send" retried after its answer was lost (the
hub took the report, the phone never heard back) opened a second request and a second case
for the one leak. The page names each report; sent again, it is the same request.

A real Chromium: the first answer is dropped on its way back to the page, the resident sees
"could not send" and taps "send" again.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Route, expect

from tests.residents.test_phone_page_browser import Hub, hub, phone

__all__ = ["hub"]


def test_a_report_sent_again_after_a_lost_answer_is_one_request(
    hub: Hub,
    browser: Browser,
) -> None:
    household = hub.call(
        "POST",
        "/api/v1/households",
        json={"name": "王家 Wang family", "location": "Building 3/Floor 12/Unit 1201"},
    )
    page, errors = phone(browser, hub.url + household["link"])
    lost: list[int] = []

    def lose_the_first_answer(route: Route) -> None:
        if route.request.method != "POST" or lost:
            route.continue_()
            return
        answer = route.fetch()  # the hub takes the report...
        lost.append(answer.status)
        route.abort("connectionreset")  # ...and the phone never hears back

    page.route("**/requests", lose_the_first_answer)
    page.locator("#new").click()
    page.locator("label.chip", has_text="维修").click()
    page.locator("textarea[name=text]").fill("卫生间天花板漏水，一直在滴")
    page.locator("#send").click()
    expect(page.locator("#form-error")).to_be_visible()
    assert lost == [201]
    page.locator("#send").click()
    expect(page.locator("#detail .progress li.now")).to_have_text("已派单")

    requests = hub.call("GET", "/api/v1/requests")["items"]
    assert len(requests) == 1
    assert len(hub.call("GET", "/api/v1/cases")["items"]) == 1
    assert errors == []


def test_the_form_offers_only_visit_windows_still_ahead(
    hub: Hub,
    browser: Browser,
) -> None:
    """At 19:30 the page offered "this afternoon 14–18": the hub refused the report (the
    window is over) with an English message the resident could not act on."""
    household = hub.call(
        "POST",
        "/api/v1/households",
        json={"name": "王家 Wang family", "location": "Building 3/Floor 12/Unit 1201"},
    )
    page, errors = phone(browser, "about:blank")
    # 19:30 in the community (the page reckons its windows in the site's zone, not the phone's).
    evening = datetime.now(ZoneInfo("Asia/Shanghai")).replace(
        hour=19, minute=30, second=0, microsecond=0
    )
    page.clock.set_fixed_time(evening)
    page.goto(hub.url + household["link"])
    page.locator("#new").click()
    offered = page.locator("select[name=window] option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    assert offered == ["any", "tonight", "tomorrow_am", "tomorrow_pm"]
    assert errors == []
