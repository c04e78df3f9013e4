"""The console's start after signing in, in a real headless Chromium: the console reads the
cases and recent alerts before it draws its first page, and an operator may open another page
meanwhile. That page must stay as they left it: drawn a second time when the reading ends, a
form they had begun on it closed under them (seen in a fresh-clone run: the statistics page
drawn again after "Group by: street" was chosen). A hub in-process under uvicorn on SQLite."""

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route, ViewportSize, expect

from tests.browser import UI_TIMEOUT_MS
from tests.console.test_console_residents_browser import OPERATOR, PASSWORD
from tests.console.test_statistics_review_browser import hub
from tests.residents.test_phone_page_browser import Hub

__all__ = ["hub"]

pytestmark = [pytest.mark.slow]


def test_a_page_opened_while_the_console_reads_the_cases_is_not_drawn_again(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    errors: list[str] = []
    context = browser.new_context(viewport=ViewportSize(width=1280, height=900))
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.on("pageerror", lambda error: errors.append(str(error)))
    held: list[Route] = []
    holding = [True]

    def hold(route: Route) -> None:
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    # The case list's reading is held until the operator has begun on the other page.
    page.route("**/api/v1/cases?*", hold)
    page.goto(f"{hub.url}/console")
    form = page.locator("form#sign-in")
    form.locator('[name="username"]').fill(OPERATOR)
    form.locator('[name="password"]').fill(PASSWORD)
    form.locator("button").click()
    expect(page.locator("#who")).to_contain_text(f"{OPERATOR} · operator")

    page.locator('[data-nav="statistics"]').click()
    by = page.locator('form#statistics-period [name="by"]')
    by.select_option("street")
    assert held, "the console read the cases before it was signed in"
    holding[0] = False
    for route in held:
        route.continue_()
    # The stream connects once the start is over.
    expect(page.locator("#link")).to_have_attribute("data-state", "live")
    page.wait_for_timeout(300)  # a frame for any drawing the start set off
    expect(by).to_have_value("street")
    page.screenshot(path=str(screenshots / "statistics-kept.png"))
    assert errors == []
