"""The board marks an SOS the moment the hub says one of its pages is failing, though no one
copy of it has had its 10 tries: in a real headless Chromium against a hub served in-process
(SQLite) whose paging gateway is a real loopback webhook answering 503, its notifier and
supervisor run round by round on the hub's own loop on a clock the test moves.

Before, the escalation of an SOS nobody took on (repeated at each level: each later copy gives
the earlier up) was failing by the hub's rule two and a half minutes after the press, but the
hub wrote a ``notice_failed`` line only when one copy reached 10 tries, and the live stream
learns of failing pages from those lines: the board did not mark the case until its next
change, and the SOS looked like any case waiting to be taken on (review of the failing pages'
lines)."""

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from hub.cases.rules import CaseEventAction
from tests.console.test_console_pages_down_browser import (  # noqa: F401 (the fixtures)
    Pager,
    card,
    gateway,
    paging_hub,
)
from tests.console.test_console_stream_browser import console_at
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]


def test_the_board_marks_a_page_failing_by_its_copies_in_the_same_round(
    paging_hub: Hub,  # noqa: F811
    browser: Browser,
    screenshots: Path,
) -> None:
    pager = Pager(paging_hub)
    case_id = pager.press()
    pager.supervise()  # the supervisor starts from the newest history line
    errors: list[str] = []
    page = console_at(browser, paging_hub.url, errors)
    sos = card(page, case_id)
    expect(sos).to_be_visible()
    rounds = 0
    while not pager.store.cases.get_case(case_id).pages_failing:
        pager.run_for(10)
        rounds += 1
        assert rounds < 60, "no page failing in 10 minutes"
    [failing] = pager.store.cases.get_case(case_id).pages_failing or []
    assert failing.event is CaseEventAction.ESCALATED  # its copies' tries, all told
    # No more rounds: the board marks it from the round that made it so.
    expect(sos.locator(".pill.page-down")).to_contain_text("page failed")
    page.screenshot(path=screenshots / "escalation-failing-on-the-board.png")
    sos.click()
    lines = page.locator(".timeline li.page-down")
    expect(lines).to_have_count(1)
    expect(lines).to_contain_text("escalated notice to 127.0.0.1 is not delivered after 10 tries")
    assert errors == []
