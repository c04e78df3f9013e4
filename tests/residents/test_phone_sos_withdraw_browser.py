"""The phone page's "I'm OK, it was a mistake" (我没事，是误按), in a real Chromium at 360×640.

Before, an SOS once sent could not be taken back from the page: a grandchild's press sent
responders running and the operator could not tell it from an emergency. Now, from the hub's
word that the SOS was sent until its case is resolved, the page offers 我没事，是误按; a second,
deliberate tap ("确定吗？") tells the staff. It reads as told only when the hub says so; a
take-back that did not get there says so. The case stays open, with the household's line.
"""

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.residents.test_phone_page_browser import Hub, hub
from tests.residents.test_phone_review_large_text import problems, small_phone
from tests.residents.test_phone_review_sos import household_page, press_sos, sos_cases

__all__ = ["hub"]

TOLD = "已告知工作人员：您说是误按。工作人员可能仍会打电话确认。"


def case_lines(hub: Hub, case_id: object) -> list[dict[str, object]]:
    """Return the household's take-back lines on the case."""
    events: list[dict[str, object]] = hub.call("GET", f"/api/v1/cases/{case_id}")["events"]
    return [e for e in events if "took the SOS back" in str(e["note"] or "")]


def withdraw_posts(page: Page) -> list[str]:
    """Collect the take-backs the page posts, from now on."""
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.url.endswith("/withdraw") else None)
    return posts


def test_a_mistaken_sos_is_taken_back_after_are_you_sure_and_the_case_stays_open(
    hub: Hub, browser: Browser
) -> None:
    page, errors = household_page(hub, browser, fake_clock=True)
    posts = withdraw_posts(page)
    expect(page.locator("#withdraw")).to_be_hidden()  # nothing sent, nothing to take back

    page.locator("#sos").tap()
    page.clock.run_for(5000)  # the countdown runs out: help is called
    expect(page.locator("#zh")).to_contain_text("求助已发出")
    [case] = sos_cases(hub)
    expect(page.locator("#sos-withdraw")).to_have_text("我没事，是误按")

    # One tap only asks; "no" sends nothing.
    page.locator("#sos-withdraw").tap()
    expect(page.locator("#withdraw-confirm")).to_be_visible()
    expect(page.locator("#withdraw-confirm")).to_contain_text("确定吗？")
    page.locator("#withdraw-no").tap()
    expect(page.locator("#withdraw-confirm")).to_be_hidden()
    page.clock.run_for(3000)
    assert posts == []
    assert case_lines(hub, case["id"]) == []

    # The deliberate second tap tells the staff; the hub's word is what the page shows.
    page.locator("#sos-withdraw").tap()
    page.locator("#withdraw-yes").tap()
    expect(page.locator("#zh")).to_have_text(TOLD)
    expect(page.locator("#en")).to_contain_text("it was a mistake")
    expect(page.locator("#withdraw")).to_be_hidden()
    assert len(posts) == 1
    [line] = case_lines(hub, case["id"])
    assert "says it was a mistake" in str(line["note"])
    assert hub.call("GET", f"/api/v1/cases/{case['id']}")["status"] == "open"

    # The poll keeps it, until the operator, having called back, resolves it.
    page.clock.run_for(3000)
    expect(page.locator("#zh")).to_have_text(TOLD)
    resolved = {"resolution": "false_alarm", "note": "called back: the grandson pressed it"}
    hub.call("POST", f"/api/v1/cases/{case['id']}/resolve", json=resolved)
    page.clock.run_for(3000)
    expect(page.locator("#zh")).to_have_text("已处理")
    expect(page.locator("#withdraw")).to_be_hidden()
    assert errors == []


def test_a_take_back_that_did_not_reach_the_hub_never_reads_as_told(
    hub: Hub, browser: Browser
) -> None:
    page, errors = household_page(hub, browser)
    press_sos(page)
    expect(page.locator("#zh")).to_contain_text("求助已发出")
    [case] = sos_cases(hub)

    def gateway_error(route: Route) -> None:
        route.fulfill(status=502, content_type="text/html", body="<h1>502 Bad Gateway</h1>")

    page.route("**/withdraw", gateway_error)
    page.locator("#sos-withdraw").tap()
    page.locator("#withdraw-yes").tap()
    expect(page.locator("#withdraw-failed")).to_be_visible()
    expect(page.locator("#withdraw-failed")).to_contain_text("没有告知工作人员")
    expect(page.locator("#zh")).to_contain_text("求助已发出")
    expect(page.locator("#status")).not_to_contain_text("已告知")
    assert case_lines(hub, case["id"]) == []

    # Offline, the same; in English with the page's switch.
    page.unroute("**/withdraw")
    page.locator("#lang").tap()
    expect(page.locator("#sos-withdraw")).to_have_text("I'm OK, it was a mistake")
    page.context.set_offline(True)
    page.locator("#sos-withdraw").tap()
    expect(page.locator("#withdraw-confirm")).to_contain_text("Are you sure?")
    page.locator("#withdraw-yes").tap()
    expect(page.locator("#withdraw-failed")).to_contain_text("Staff were NOT told")
    assert case_lines(hub, case["id"]) == []

    # Back online, one more try gets there.
    page.context.set_offline(False)
    page.locator("#sos-withdraw").tap()
    page.locator("#withdraw-yes").tap()
    expect(page.locator("#zh")).to_have_text(TOLD)
    expect(page.locator("#withdraw-failed")).to_be_hidden()
    assert len(case_lines(hub, case["id"])) == 1
    assert errors == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_take_back_fits_a_small_phone_with_large_text(
    hub: Hub, browser: Browser, lang: str
) -> None:
    household = hub.call(
        "POST", "/api/v1/households", json={"name": "赵奶奶", "location": "Building 3/2/201"}
    )
    page = small_phone(browser, 32, hub.url + household["link"], lang)
    press_sos(page)
    expect(page.locator("#sos-withdraw")).to_be_visible()
    found = {"offered": problems(page)}
    page.locator("#sos-withdraw").tap()
    expect(page.locator("#withdraw-confirm")).to_be_visible()
    found["asked"] = problems(page)
    page.locator("#withdraw-yes").tap()
    expect(page.locator("#withdraw")).to_be_hidden()
    expect(page.locator("#zh")).to_have_text(TOLD)
    found["told"] = problems(page)
    assert found == {"offered": [], "asked": [], "told": []}
