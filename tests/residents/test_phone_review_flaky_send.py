"""Found by an outside review of the phone page on a flaky mobile connection.

- A report sent while the phone was offline said only "提交失败：" (failed:) and nothing else:
  not whether it was sent, not what to do.
- A report answered by a proxy's 502 page (HTML, not JSON) showed nothing at all: the page
  tried to read the answer as JSON and stopped; the resident was left looking at the form.
- While a report with photos was on its way the send button only went grey, with no word:
  on a slow line a resident tapped back and left, not knowing whether it was sent.
- A rating sent offline vanished without a word.

Now each says in Chinese that it was not sent and to try again; the button says "sending";
sending again (same ``submission_id``) makes exactly one request.
"""

from pathlib import Path

from playwright.sync_api import Browser, Route, expect

from tests.residents.test_phone_page_browser import Hub, hub, phone, photo
from tests.residents.test_phone_review_large_text import finished_request

__all__ = ["hub"]


def test_a_report_not_sent_says_so_and_is_sent_once_on_retry(
    hub: Hub, browser: Browser, tmp_path: Path
) -> None:
    household = hub.call(
        "POST",
        "/api/v1/households",
        json={"name": "王家 Wang family", "location": "Building 3/Floor 12/Unit 1201"},
    )
    page, _errors = phone(browser, hub.url + household["link"])
    page.locator("#new").click()
    page.locator("label.chip", has_text="维修").click()
    page.locator("textarea[name=text]").fill("楼道灯坏了")
    page.locator("input[name=photos]").set_input_files([photo(tmp_path / "a.jpg", (90, 120, 160))])

    page.context.set_offline(True)
    page.locator("#send").click()
    expect(page.locator("#form-error")).to_contain_text("没有发出")
    expect(page.locator("#form-error")).to_contain_text("再")
    page.context.set_offline(False)

    def gateway_error(route: Route) -> None:
        route.fulfill(status=502, content_type="text/html", body="<h1>502 Bad Gateway</h1>")

    page.route("**/requests", gateway_error)
    page.locator("#form-error").evaluate("p => { p.hidden = true; p.textContent = ''; }")
    page.locator("#send").click()
    expect(page.locator("#form-error")).to_contain_text("没有发出")
    page.unroute("**/requests")

    held: list[Route] = []

    def hold_the_send(route: Route) -> None:
        if route.request.method == "POST":
            held.append(route)
        else:
            route.continue_()

    page.route("**/requests", hold_the_send)
    page.locator("#send").click()
    expect(page.locator("#send")).to_be_disabled()
    expect(page.locator("#send")).to_contain_text("正在发送")
    expect(page.locator("#form-error")).to_be_hidden()
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator("#detail .progress li.now")).to_have_text("已派单")
    [request] = hub.call("GET", "/api/v1/requests")["items"]
    assert request["text"] == "楼道灯坏了"


def test_a_rating_not_sent_says_so(hub: Hub, browser: Browser) -> None:
    household = finished_request(hub)
    page, _errors = phone(browser, hub.url + household["link"])
    page.locator("#list .card").click()
    page.locator("label[for=star5]").click()
    page.context.set_offline(True)
    page.locator("#rating button[type=submit]").click()
    expect(page.locator("#rating [role=alert]")).to_contain_text("没有发出")
    page.context.set_offline(False)
    page.locator("#rating button[type=submit]").click()
    expect(page.locator("#detail .rated")).to_contain_text("★★★★★")
