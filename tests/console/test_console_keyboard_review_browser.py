"""The board for someone at the keyboard (a review gap): past the live alerts to the cases.

The live alerts come first on the board, up to 50 rows, each a stop for Tab: an operator who
works with the keyboard tabbed through every alert of a storm before reaching the cases'
filters and cards. The board's first stop is now "Skip to cases", out of sight until focused;
Enter takes the focus to the cases. A real headless Chromium against a hub served in-process.
"""

from playwright.sync_api import Browser, expect

from tests.console.test_console_burst_browser import alert, opened, publish
from tests.console.test_console_laptop_review_browser import LAPTOP, console_on
from tests.residents.test_phone_page_browser import Hub

ACTIVE = "() => document.activeElement"


def test_the_first_stop_of_the_board_skips_the_live_alerts(
    operator_hub: Hub, browser: Browser
) -> None:
    page, errors = console_on(browser, operator_hub, LAPTOP)
    publish(
        operator_hub, [*(opened(n) for n in range(1, 41)), *(alert(n, n) for n in range(1, 41))]
    )
    expect(page.locator(".board .card")).to_have_count(40)
    expect(page.locator("#stream li")).to_have_count(40)
    # Each live alert is a stop for Tab (its case's link).
    assert page.locator("#stream a[href]").count() == 40
    skip = page.locator(".board-page .skip")
    expect(skip).not_to_be_in_viewport()  # out of sight until focused
    # Tab from the top of the page: the skip comes before any live alert.
    page.locator("body").focus()
    for _ in range(30):
        page.keyboard.press("Tab")
        where = page.evaluate(
            "() => document.activeElement.closest('#stream') ? 'stream'"
            " : document.activeElement.classList.contains('skip') ? 'skip' : 'other'"
        )
        assert where != "stream", "a live alert before the skip"
        if where == "skip":
            break
    else:
        raise AssertionError("no skip to the cases among the first 30 stops")
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.evaluate("() => Boolean(document.activeElement.closest('#cases'))")
    page.keyboard.press("Tab")  # on into the cases, not back into the alerts
    assert page.evaluate("() => !document.activeElement.closest('#stream')")
    assert errors == []
