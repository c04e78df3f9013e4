"""Found by an outside review of what the phone page says when the hub refuses, in a real
Chromium at phone size, on a page otherwise in Chinese.

- A rating whose comment was too long (a 422 with FastAPI's field list) read "评价没有发出，请检查
  网络后再点一次“提交评价”": the resident was told to check the network and tap again, for ever.
- A rating sent after the work had been rated (a 409) read the same "check the network", with
  the hub's English "(this request has been rated already)" glued on.
- A photo too large read "(photo 1: the photo is too large: more than 10 MB, the most the hub
  takes)" in English inside the Chinese sentence; a whole send over the hub's ceiling (413)
  showed "the request is too large: at most 62914560 bytes", a number without a unit.
- Too many sends (a 429 from a proxy in front of the hub) read "check the network".
- A link replaced by the office (every answer a 404) read "网络不通" (no network) in the banner,
  and the next list refresh emptied the household's requests to "还没有诉求" (no requests yet).

Now each refusal reads as a plain Chinese sentence chosen by its status and the hub's known
reasons; the hub's own words stay, small, on a line of their own ("详情：…", ``.reason``); a
replaced link says so, and what the page showed stays.
"""

import json
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Locator, Page, Route, expect

from hub.requests.rules import MAX_TEXT
from tests.residents.test_phone_page_browser import Hub, hub, phone
from tests.residents.test_phone_review_large_text import problems, small_phone

__all__ = ["hub"]


def sentence(node: Locator) -> str:
    """Return what a message says before its small line of the hub's own words."""
    said: str = node.evaluate("n => n.firstChild ? n.firstChild.textContent : ''")
    return said


def no_english(text: str) -> bool:
    """Whether ``text`` has no Latin letter but the names of photo files and their sizes."""
    for name in ("JPEG", "PNG", "MB"):
        text = text.replace(name, "")
    return not any("a" <= c.lower() <= "z" for c in text)


def too_long(box: Locator, text: str) -> None:
    """Type more than the hub takes into ``box``: its ``maxlength`` (the hub's limit) taken
    away first, as on a page from before the box had one, or a hub whose limit is lower."""
    box.evaluate("n => n.removeAttribute('maxlength')")
    box.fill(text)


def done_request(hub: Hub) -> tuple[dict[str, str], int]:
    """Return a household whose leak was fixed and resolved, and the request's id."""
    home: dict[str, str] = hub.call(
        "POST", "/api/v1/households", json={"name": "刘奶奶", "location": "Building 3/Unit 402"}
    )
    body = {"household_id": home["id"], "category": "repair", "text": "水龙头漏水"}
    opened = hub.call("POST", "/api/v1/requests", json=body)
    case_url = f"/api/v1/cases/{opened['case_id']}"
    hub.call("POST", f"{case_url}/accept", json={})
    hub.call("POST", f"{case_url}/resolve", json={"resolution": "real", "note": "修好了"})
    request_id: int = opened["request"]["id"]
    return home, request_id


def open_rating(hub: Hub, browser: Browser, home: dict[str, str]) -> tuple[Page, list[str]]:
    """Open the household's page (its timers held) on its done request's rating form."""
    page, errors = phone(browser, hub.url + home["link"], fake_clock=True)
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)
    page.locator("#list .card").click()
    expect(page.locator("#rating")).to_be_visible()
    return page, errors


def test_a_rating_comment_too_long_is_not_told_as_a_network_fault(
    hub: Hub, browser: Browser
) -> None:
    home, _ = done_request(hub)
    page, errors = open_rating(hub, browser, home)
    page.locator("label[for=star4]").click()
    too_long(page.locator("#rating textarea"), "很好" * 1001)
    page.locator("#rating button[type=submit]").click()
    problem = page.locator("#rating .error")
    expect(problem).to_contain_text("评价的话太长")
    said = sentence(problem)
    assert "检查网络" not in said, said
    assert no_english(said), said
    expect(problem.locator(".reason")).to_contain_text("comment")
    assert errors == []


def test_a_rating_sent_after_one_was_taken_says_it_is_rated(hub: Hub, browser: Browser) -> None:
    home, request_id = done_request(hub)
    page, errors = open_rating(hub, browser, home)
    # Another phone of the household rated it meanwhile.
    other = httpx.post(
        f"{hub.url}{home['link']}/requests/{request_id}/rating", json={"score": 5}, timeout=10
    )
    assert other.status_code == 200, other.text
    page.locator("label[for=star2]").click()
    page.locator("#rating button[type=submit]").click()
    problem = page.locator("#rating .error")
    expect(problem).to_contain_text("已经评价过了")
    said = sentence(problem)
    assert "检查网络" not in said, said
    assert no_english(said), said
    expect(problem.locator(".reason")).to_have_text("详情：this request has been rated already")
    assert errors == []


def report_form(page: Page) -> None:
    """Fill in a report of a broken light."""
    page.locator("#new").click()
    page.locator("label.chip", has_text="维修").click()
    page.locator("textarea[name=text]").fill("楼道灯坏了")


def test_photo_refusals_read_in_chinese_with_the_hubs_words_apart(
    hub: Hub, browser: Browser, tmp_path: Path
) -> None:
    home = hub.call("POST", "/api/v1/households", json={"name": "陈家", "location": "Building 3"})
    page, errors = phone(browser, hub.url + home["link"])
    report_form(page)
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + bytes(11 * 1024 * 1024))
    page.locator("input[name=photos]").set_input_files([big])
    page.locator("#send").click()
    problem = page.locator("#form-error")
    expect(problem).to_contain_text("照片无法使用")
    assert no_english(sentence(problem)), sentence(problem)
    expect(problem.locator(".reason")).to_contain_text("photo 1: the photo is too large")

    # A send over the hub's ceiling: 413, a number of bytes.
    def too_large(route: Route) -> None:
        detail = {"detail": "the request is too large: at most 62914560 bytes"}
        route.fulfill(status=413, content_type="application/json", body=json.dumps(detail))

    page.route("**/requests", too_large)
    page.locator("#send").click()
    expect(problem).to_contain_text("照片太大")
    assert no_english(sentence(problem)), sentence(problem)
    assert "62914560" not in sentence(problem)
    expect(problem.locator(".reason")).to_contain_text("62914560 bytes")
    assert errors == []


def test_too_many_sends_ask_to_wait_not_to_check_the_network(hub: Hub, browser: Browser) -> None:
    home = hub.call("POST", "/api/v1/households", json={"name": "周家", "location": "Building 3"})
    page, errors = phone(browser, hub.url + home["link"])
    report_form(page)

    def busy(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        route.fulfill(
            status=429, content_type="application/json", body='{"detail": "too many requests"}'
        )

    page.route("**/requests", busy)
    page.locator("#send").click()
    problem = page.locator("#form-error")
    expect(problem).to_contain_text("提交太频繁")
    assert "检查网络" not in sentence(problem)
    assert errors == []


def test_a_replaced_link_says_so_and_keeps_the_requests_shown(hub: Hub, browser: Browser) -> None:
    home, _ = done_request(hub)
    page, errors = phone(browser, hub.url + home["link"], fake_clock=True)
    expect(page.locator("#list .card")).to_have_count(1)
    hub.call("POST", f"/api/v1/households/{home['id']}/token")
    page.clock.run_for(10_500)  # the status poll (3 s) and the list's refresh (10 s)
    banner = page.locator("#offline")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("这个链接已失效")
    expect(banner).not_to_contain_text("网络不通")
    expect(page.locator("#list .card")).to_have_count(1)
    expect(page.locator("#empty")).to_be_hidden()
    assert errors == []


def test_a_rating_being_typed_and_its_refusal_outlast_the_refresh(
    hub: Hub, browser: Browser
) -> None:
    home, _ = done_request(hub)
    page, errors = phone(browser, hub.url + home["link"], fake_clock=True)
    page.locator("#list .card").click()
    page.locator("label[for=star3]").click()
    page.locator("#rating textarea").fill("师傅来得有点晚")
    with page.expect_response(lambda r: r.url.endswith("/requests")):
        page.clock.run_for(10_500)  # the list's refresh: the request has not changed
    page.evaluate("new Promise(done => requestAnimationFrame(() => done(null)))")
    expect(page.locator("#rating textarea")).to_have_value("师傅来得有点晚")
    expect(page.locator("#star3")).to_be_checked()
    assert errors == []


def test_a_refusal_with_its_details_fits_a_small_phone_with_large_text(
    hub: Hub, browser: Browser
) -> None:
    home, _ = done_request(hub)
    page = small_phone(browser, 32, hub.url + home["link"])
    page.locator("#list .card").click()
    page.locator("label[for=star4]").click()
    too_long(page.locator("#rating textarea"), "好" * 2001)
    page.locator("#rating button[type=submit]").click()
    expect(page.locator("#rating .error .reason")).to_be_visible()
    assert problems(page) == []


def test_the_text_boxes_stop_at_what_the_hub_takes(hub: Hub, browser: Browser) -> None:
    # Before, the rating's comment box took any length, and only the hub's refusal told the
    # resident, after they had written it all.
    home, _ = done_request(hub)
    page, errors = open_rating(hub, browser, home)
    comment = page.locator("#rating textarea")
    expect(comment).to_have_attribute("maxlength", str(MAX_TEXT))
    comment.fill("好" * (MAX_TEXT + 1))
    assert len(comment.input_value()) == MAX_TEXT
    page.locator("label[for=star4]").click()
    page.locator("#rating button[type=submit]").click()
    expect(page.locator("#rating")).to_be_hidden()  # taken: the rating is stored
    expect(page.locator("#report textarea[name=text]")).to_have_attribute(
        "maxlength", str(MAX_TEXT)
    )
    assert errors == []
