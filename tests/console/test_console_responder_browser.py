"""A responder at the console, in a real headless Chromium: the case page offers a comment
only on a case they are on. The hub refuses a responder's comment on another's case (403,
``docs/auth.md``); the page offered the form all the same, and a guard who typed a note there
got an error for it."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.test_console_residents_browser import PASSWORD, signed_in
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A hub with a staffed site (its plumber on call) and two responder accounts: the
    plumber and a guard."""
    running = Hub(tmp_path)
    running.start()
    try:
        running.staff_site("g-courtyard", "Courtyard", ["Building 2"])
        guard = {"id": "guard-2", "site_id": "lanyuan", "name": "Liu", "role": "security"}
        running.call("PUT", "/api/v1/responders/guard-2", json=guard)
        for username in ("plumber-1", "guard-2"):
            account = {"username": username, "password": PASSWORD, "role": "responder"}
            running.call("POST", "/api/v1/users", json=account)
        yield running
    finally:
        running.stop()


def responder_at(browser: Browser, hub: Hub, username: str, case_id: int) -> Page:
    """Sign ``username`` in at the console and open the case page of ``case_id``."""
    page = signed_in(browser, hub, [], username, role="responder")
    page.goto(f"{hub.url}/console#/case/{case_id}")
    expect(page.locator("#case-team")).to_contain_text("plumber-1")
    return page


def test_a_responder_is_offered_a_comment_only_on_their_own_case(
    hub: Hub, browser: Browser
) -> None:
    home = hub.call(
        "POST", "/api/v1/households", json={"name": "Zhao", "location": "Building 2/Floor 3/301"}
    )
    body = {"household_id": home["id"], "category": "repair", "text": "Tap drips in the kitchen"}
    case_id: int = hub.call("POST", "/api/v1/requests", json=body)["case_id"]

    plumber = responder_at(browser, hub, "plumber-1", case_id)
    expect(plumber.locator('form.action[data-action="comment"]')).to_have_count(1)

    guard = responder_at(browser, hub, "guard-2", case_id)
    expect(guard.locator('form.action[data-action="accept"]')).to_have_count(1)  # drawn
    expect(guard.locator('form.action[data-action="comment"]')).to_have_count(0)
