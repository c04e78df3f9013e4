"""An outside review of the console on a control room's ordinary screens (a 1366×768 laptop, a
1920×1080 monitor), in a real headless Chromium against a hub served in-process: an SOS's
actions are on screen without scrolling, even with its "page failed" box above them; every
column of a busy board (30+ open cases) is in sight; a resolved or closed case still takes a
note on its record (the follow-up call to the family), as the hub allows; a screen scrolled
down a long board still says when it is not live.
"""

from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Page, Route, ViewportSize, expect

from hub.cases.rules import CaseStatus
from hub.live.events import CaseChanged, EventBus, HubEvent
from tests.browser import UI_TIMEOUT_MS
from tests.console.test_console_burst_browser import publish
from tests.console.test_console_night_review_browser import sign_in
from tests.console.test_console_pages_down_browser import (  # noqa: F401 (the fixtures)
    Pager,
    gateway,
    paging_hub,
)
from tests.hub.test_events import case_view
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]

LAPTOP = ViewportSize(width=1366, height=768)
MONITOR = ViewportSize(width=1920, height=1080)


def console_on(browser: Browser, hub: Hub, viewport: ViewportSize) -> tuple[Page, list[str]]:
    """Return a console page on a screen of ``viewport``, signed in as ``op.wang``."""
    page = browser.new_context(viewport=viewport).new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, f"{hub.url}/console")
    return page, errors


def storm(hub: Hub) -> int:
    """Put 34 open cases on the board and six others worked on; return how many in all."""
    statuses = [CaseStatus.OPEN] * 34 + [
        CaseStatus.ACKNOWLEDGED,
        CaseStatus.DISPATCHED,
        CaseStatus.DISPATCHED,
        CaseStatus.ACCEPTED,
        CaseStatus.IN_PROGRESS,
        CaseStatus.IN_PROGRESS,
    ]
    events: list[HubEvent] = [
        CaseChanged(type="case_opened", case=case_view(n, status=status, device_id=f"d{n}"))
        for n, status in enumerate(statuses, start=1)
    ]
    publish(hub, events)
    return len(statuses)


def in_sight(page: Page, selector: str) -> bool:
    """Whether the element's whole box is in the window, wherever the page is scrolled."""
    return bool(
        page.evaluate(
            """(selector) => {
              const box = document.querySelector(selector).getBoundingClientRect();
              return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
            }""",
            selector,
        )
    )


def bottom_in_sight(page: Page, selector: str) -> bool:
    """Whether the element's whole box is in the window, the page not scrolled."""
    return bool(
        page.evaluate(
            """(selector) => {
              const box = document.querySelector(selector).getBoundingClientRect();
              return window.scrollY === 0 && box.top >= 0 && box.bottom <= window.innerHeight;
            }""",
            selector,
        )
    )


def test_an_sos_shows_its_actions_without_scrolling_on_a_laptop(
    paging_hub: Hub,  # noqa: F811
    browser: Browser,
    screenshots: Path,
) -> None:
    """An SOS nobody was paged for (the gateway down): its page on a 1366×768 laptop says whom
    to phone, and acknowledge, dispatch, comment and resolve are on screen as it opens. They
    had come below thirteen lines of the case's raw fields (rule, kinds, members, grid id,
    version…): the operator scrolled before acting on an SOS."""
    pager = Pager(paging_hub)
    case_id = pager.press()
    pager.supervise()
    pager.run_for(5 * 60)
    page, errors = console_on(browser, paging_hub, LAPTOP)
    page.goto(f"{paging_hub.url}/console#/case/{case_id}")
    expect(page.locator("#pages-down")).to_contain_text("phone wang, li")
    for action in ("acknowledge", "dispatch", "comment", "resolve"):
        selector = f'form[data-action="{action}"] button'
        expect(page.locator(selector)).to_be_visible()
        assert bottom_in_sight(page, selector), f"{action} is below the fold"
    # What the hub says besides is still on the page, below the actions.
    expect(page.locator("#case-details")).to_contain_text("escalation level")
    expect(page.locator("h2 .pill.escalation")).to_contain_text("escalated")
    page.screenshot(path=screenshots / "1-sos-on-a-laptop.png")
    assert errors == []


@pytest.mark.parametrize("viewport", [LAPTOP, MONITOR], ids=["1366x768", "1920x1080"])
def test_every_column_of_a_busy_board_is_in_sight(
    operator_hub: Hub, browser: Browser, screenshots: Path, viewport: ViewportSize
) -> None:
    """A storm night: 34 cases open, others acknowledged, dispatched, accepted, in progress.
    Every status column starts on the first screen and the page does not scroll sideways:
    the fifth column had wrapped under the 34 open cards, some 4,000 px down, on the laptop
    and the monitor alike (the cases being worked on out of sight)."""
    page, errors = console_on(browser, operator_hub, viewport)
    expect(page.locator(".board .card")).to_have_count(storm(operator_hub))
    for status in ("open", "acknowledged", "dispatched", "accepted", "in_progress"):
        assert bottom_in_sight(page, f'.board [data-column="{status}"] h3'), status
        assert bottom_in_sight(page, f'.board [data-column="{status}"] .card'), status
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1]
    page.screenshot(path=screenshots / f"2-board-{viewport['width']}.png")
    assert errors == []


def test_a_resolved_then_closed_case_takes_a_follow_up_note(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    """The day after a leak was resolved, the operator calls the family: the note goes on the
    case's record (the hub takes a comment at any point of a case's life; the page of a
    resolved case had offered only reopen and close, a closed one nothing), and the case
    stays resolved; closed for good, it still takes one."""
    case_id = operator_hub.log_request("Building 3", "厨房水管漏水")
    url = f"/api/v1/cases/{case_id}"
    operator_hub.call("POST", f"{url}/resolve", json={"note": "修好了", "resolution": "real"})
    page, errors = console_on(browser, operator_hub, LAPTOP)
    page.goto(f"{operator_hub.url}/console#/case/{case_id}")
    expect(page.locator("#case-status")).to_have_text("resolved")

    comment = page.locator('form[data-action="comment"]')
    comment.locator('[name="note"]').fill("回访: 住户确认不再漏水")
    page.screenshot(path=screenshots / "3-resolved-follow-up.png")
    comment.locator("button").click()
    expect(page.locator("#toast")).to_contain_text("comment: done")
    expect(page.locator(".timeline [data-event=commented]")).to_contain_text("回访")
    detail = operator_hub.call("GET", url)
    assert detail["status"] == "resolved"
    assert [e["note"] for e in detail["events"] if e["action"] == "commented"] == [
        "回访: 住户确认不再漏水"
    ]

    operator_hub.call("POST", f"{url}/close", json={})
    page.reload()
    expect(page.locator("#case-status")).to_have_text("closed")
    expect(page.locator('form[data-action="reopen"]')).to_have_count(0)
    comment.locator('[name="note"]').fill("家属来电致谢")
    comment.locator("button").press("Enter")
    expect(page.locator(".timeline [data-event=commented]")).to_have_count(2)
    detail = operator_hub.call("GET", url)
    assert detail["status"] == "closed"
    assert [e["note"] for e in detail["events"] if e["action"] == "commented"][-1] == "家属来电致谢"
    assert errors == []


def test_a_board_scrolled_down_still_says_it_is_not_live(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    """The operator is down the board's 34 open cases when the hub says this screen missed
    events and reading the cases again fails: the "out of date" banner is in sight where the
    operator is (it had been above the page, scrolled away with it; only the corner's small
    pill said anything)."""
    page, errors = console_on(browser, operator_hub, LAPTOP)
    expect(page.locator(".board .card")).to_have_count(storm(operator_hub))
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_function("() => window.scrollY > 1000")

    def unavailable(route: Route) -> None:
        route.fulfill(status=503, json={"detail": "busy"})

    page.context.route(lambda url: urlparse(url).path == "/api/v1/cases", unavailable)
    bus: EventBus = operator_hub.app.state.events
    operator_hub.server.servers[0].get_loop().call_soon_threadsafe(bus.report_lost, 1)
    banner = page.locator("#stale")
    expect(banner).to_contain_text("out of date")
    assert page.evaluate("() => window.scrollY") > 1000
    assert in_sight(page, "#stale")
    page.screenshot(path=screenshots / "4-not-live-down-the-board.png")
    assert errors == []
