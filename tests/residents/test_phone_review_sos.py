"""Found by an outside review of the phone page's SOS, in a real Chromium at 360×640.

- One tap anywhere on the big red circle (a phone in a pocket, a grandchild) raised an SOS at
  once, with no way to take it back. (The reviewer made a tap ask "confirm?"; the lead made it a
  countdown a Cancel stops instead: a resident who can only tap once must still be heard.)
- The page wrote "已收到" (received) the moment the button was pressed, before the hub had
  answered; offline or on a 5xx it stayed "已收到" for ever: the resident believed help had
  been called when nothing had reached the hub.
- Offline, the 3-second status poll failed without a word: the page went on showing its last
  status as if it were current.

Now a tap counts down 5 s with a Cancel and a "call now"; unless cancelled, it sends. The page says
"sending" until the hub answers, then the hub's stage; a press that did not reach the hub says
so in Chinese, offers to send again and to phone, and sending again works.
"""

from playwright.sync_api import Browser, Page, Route, ViewportSize, expect

from tests.residents.test_phone_page_browser import Hub, hub, phone

__all__ = ["hub"]


def household_page(
    hub: Hub, browser: Browser, *, fake_clock: bool = False
) -> tuple[Page, list[str]]:
    """Open a new household's page on a small phone (its timers on a clock the test moves, with
    ``fake_clock``); return it and its script errors."""
    household = hub.call(
        "POST",
        "/api/v1/households",
        json={"name": "赵奶奶", "location": "Building 3/Floor 2/Unit 201"},
    )
    small = ViewportSize(width=360, height=640)
    return phone(
        browser, hub.url + household["link"], viewport=small, scale=1, fake_clock=fake_clock
    )


def press_sos(page: Page) -> None:
    """Tap SOS and "call now" rather than wait out the countdown (``test_a_tap_on_sos_counts…``
    proves the countdown)."""
    page.locator("#sos").tap()
    confirm = page.locator("#sos-go")
    if confirm.count():
        confirm.tap()


def sos_cases(hub: Hub) -> list[dict[str, object]]:
    """Return the hub's cases."""
    items: list[dict[str, object]] = hub.call("GET", "/api/v1/cases")["items"]
    return items


def test_a_tap_on_sos_counts_down_can_be_cancelled_and_else_calls_for_help(
    hub: Hub, browser: Browser
) -> None:
    page, errors = household_page(hub, browser, fake_clock=True)
    presses: list[str] = []
    page.on("request", lambda r: presses.append(r.url) if r.url.endswith("/sos") else None)

    page.locator("#sos").tap()
    expect(page.locator("#sos-confirm")).to_be_visible()
    expect(page.locator("#sos-left")).to_have_text("5")
    expect(page.locator("#sos-confirm")).to_contain_text("取消")
    page.clock.run_for(2000)
    expect(page.locator("#sos-left")).to_have_text("3")
    page.locator("#sos-cancel").tap()
    expect(page.locator("#sos-confirm")).to_be_hidden()
    expect(page.locator("#zh")).to_have_text("按下按钮求助")
    page.clock.run_for(10_000)  # cancelled: nothing goes, however long
    assert presses == []
    assert sos_cases(hub) == []

    # A resident who can only tap once is heard: the countdown ends in a call (another tap
    # meanwhile, a pocket tapping twice, changes nothing).
    page.locator("#sos").tap()
    page.locator("#sos").tap()
    page.clock.run_for(5000)
    expect(page.locator("#zh")).to_contain_text("求助已发出")
    assert len(sos_cases(hub)) == 1
    assert len(presses) == 1

    # What happens next is told without a reload: someone has taken it on.
    [case] = sos_cases(hub)
    hub.call("POST", f"/api/v1/cases/{case['id']}/acknowledge", json={})
    expect(page.locator("#zh")).to_have_text("有人正在赶来")
    assert errors == []


def test_a_press_that_never_reached_the_hub_never_looks_sent(hub: Hub, browser: Browser) -> None:
    page, errors = household_page(hub, browser)
    page.context.set_offline(True)
    press_sos(page)
    expect(page.locator("#zh")).to_contain_text("没有发出")
    expect(page.locator("#status")).not_to_contain_text("已收到")
    expect(page.locator("#status")).to_contain_text("电话")
    expect(page.locator("#sos-retry")).to_be_visible()
    assert sos_cases(hub) == []

    # The connection comes back: one more tap sends it.
    page.context.set_offline(False)
    page.locator("#sos-retry").tap()
    expect(page.locator("#zh")).to_contain_text("求助已发出")
    assert len(sos_cases(hub)) == 1
    assert errors == []


def test_a_press_the_hub_failed_says_not_sent(hub: Hub, browser: Browser) -> None:
    page, errors = household_page(hub, browser)

    def gateway_error(route: Route) -> None:
        route.fulfill(status=502, content_type="text/html", body="<h1>502 Bad Gateway</h1>")

    page.route("**/sos", gateway_error)
    press_sos(page)
    expect(page.locator("#zh")).to_contain_text("没有发出")
    expect(page.locator("#sos-retry")).to_be_visible()
    assert sos_cases(hub) == []
    assert errors == []


def test_a_lost_connection_is_shown_not_a_stale_status(hub: Hub, browser: Browser) -> None:
    """The status is polled every 3 s; offline, the poll failed silently and the page went on
    showing its last word ("someone is coming") as if it were current."""
    page, errors = household_page(hub, browser)
    expect(page.locator("#offline")).to_be_hidden()
    page.context.set_offline(True)
    expect(page.locator("#offline")).to_be_visible()
    expect(page.locator("#offline")).to_contain_text("网络不通")
    page.context.set_offline(False)
    expect(page.locator("#offline")).to_be_hidden()
    assert errors == []
