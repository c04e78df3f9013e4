"""An outside review of what the console shows when a page cannot reach a responder, by a
control-room UX engineer, in a real headless Chromium against a hub served in-process (SQLite)
whose paging gateway is a real loopback webhook answering 503, its notifier and supervisor run
round by round on the hub's own loop on a clock the test moves.

Before, the hub's ``notice_failed`` line ("the dispatched notice for wang, li to 127.0.0.1 is
not delivered after 10 tries (HTTP 503): … phone instead") was only one more grey line in the
case page's timeline: the board showed the SOS as any dispatched case, and the operator
watching it never learnt that nobody had been paged.

The console now shows what the hub says in its case views (``pages_failing``: the list, the
live stream, a case page), not what it made of the histories it read and the English it
parsed: a page that went out without a ``notice_delivered`` line (one written only past 10
tries of a copy) had kept its mark (second review).
"""

import asyncio
import re
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from pydantic import SecretStr

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.changes import CaseChanges
from hub.cases.rules import CaseAction
from hub.cases.tasks import CaseTasks
from hub.store import HubStore
from tests.console.conftest import START
from tests.console.test_console_residents_browser import PASSWORD
from tests.console.test_console_stream_browser import console_at
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device
from tests.hub.webhook_gateway import Gateway
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]

DOWN = 10**9
"""Failures enough: the gateway answers 503 until a test sets ``failures`` to 0."""
SOS = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON, edge_id="edge-b3")


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway(failures=DOWN)
    yield gw
    gw.close()


@pytest.fixture
def paging_hub(tmp_path: Path, gateway: Gateway) -> Iterator[Hub]:
    """A hub paging ``gateway`` (down), with wang and li on call for Building 3 at Lanyuan
    and the operator ``op.wang``."""
    running = Hub(
        tmp_path,
        clock=FakeClock(START),
        notify_webhook_urls=[gateway.url],
        notify_webhook_secret=SecretStr("pager-secret-for-the-console-test"),
    )
    running.start()
    try:
        account = {"username": "op.wang", "password": PASSWORD, "role": "operator"}
        running.call("POST", "/api/v1/users", json=account)
        site = {"id": "lanyuan", "name": "Lanyuan", "edge_ids": ["edge-b3"]}
        running.call("PUT", "/api/v1/sites/lanyuan", json=site)
        grid = {"id": "g-b3", "site_id": "lanyuan", "name": "B3", "places": ["Building 3"]}
        running.call("PUT", "/api/v1/grids/g-b3", json=grid)
        for rid, role in (("wang", "grid_worker"), ("li", "security")):
            responder = {"id": rid, "site_id": "lanyuan", "name": rid, "role": role}
            running.call("PUT", f"/api/v1/responders/{rid}", json=responder)
        store: HubStore = running.app.state.store
        store.fleet.register_device(SOS)
        yield running
    finally:
        running.stop()


class Pager:
    """Runs the hub's notifier and supervisor rounds on its own loop, on its test clock."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.store: HubStore = hub.app.state.store
        self.tasks: CaseTasks = hub.app.state.case_tasks
        assert hub.clock is not None
        self.clock: FakeClock = hub.clock

    def _run(self, work: Coroutine[Any, Any, Any]) -> Any:
        loop = self.hub.server.servers[0].get_loop()
        return asyncio.run_coroutine_threadsafe(work, loop).result(timeout=30)

    def press(self) -> int:
        """An SOS at 1201: its case opens and is dispatched to wang and li."""
        sos = make_alert(
            device_id=SOS.id,
            edge_id="edge-b3",
            kind=AlertKind.SOS,
            severity=Severity.CRITICAL,
            ts=self.clock.now,
        )
        [case] = self.store.intake.ingest_alerts([sos], self.clock.now).cases_opened
        return case.id

    def supervise(self) -> None:
        """One supervisor round: what it finds changed goes on the live stream."""
        self._run(self.tasks.supervisor.tick())

    def run_for(self, seconds: int) -> None:
        """The notifier's and the supervisor's rounds for ``seconds`` of the hub's clock, one
        each every 10 s: deadlines pass as they would (an SOS nobody takes on in 60 s is
        escalated; wang and li, whose page has not gone out, stay on it while it is tried,
        their 2 minutes to accept counting from the page)."""
        for _ in range(seconds // 10):
            self.clock.advance(10)
            self._run(self.tasks.notifier.deliver_due())
            self.supervise()


def card(page: Page, case_id: int) -> Any:
    return page.locator(f'.board [data-case-id="{case_id}"]')


def answer(hub: Hub, case_id: int, responder: str) -> None:
    """``responder`` accepts the case from their phone: the change goes on the live stream."""
    store: HubStore = hub.app.state.store
    view = store.cases.act(case_id, CaseAction.ACCEPT, actor=responder, for_self=True)
    changes: CaseChanges = hub.app.state.case_changes
    hub.server.servers[0].get_loop().call_soon_threadsafe(changes.case_changed, view)


def test_the_board_marks_an_sos_whose_responders_were_never_paged_until_one_is_going(
    paging_hub: Hub, gateway: Gateway, browser: Browser, screenshots: Path
) -> None:
    """An SOS is dispatched to wang and li while the pager gateway answers 503. About five
    minutes on, the hub writes in its history that the pages are not delivered ("phone
    instead"): the card on the board says, in words, "page failed — phone wang, li" (it had
    looked like any case nobody took on), and the screen says so once; until someone is going.
    (wang and li stay on the case while their page is tried: not accepting a page they never
    got is no answer.)"""
    pager = Pager(paging_hub)
    case_id = pager.press()
    pager.supervise()  # the supervisor starts from the newest history line
    errors: list[str] = []
    page = console_at(browser, paging_hub.url, errors)
    sos = card(page, case_id)
    expect(sos).to_be_visible()
    expect(sos.locator(".page-down")).to_have_count(0)

    pager.run_for(5 * 60)  # the failing lines go on the live stream
    badge = sos.locator(".pill.page-down")
    expect(badge).to_have_text("⚠ page failed — phone wang, li")
    # Its words are the card's (a link's) own text, read out with it: not a colour alone.
    expect(sos).to_contain_text("page failed — phone wang, li")
    assert "HTTP 503" in (badge.get_attribute("title") or "")
    expect(page.locator("#toast")).to_contain_text("Page failed: sos at Building 3")
    page.screenshot(path=screenshots / "1-page-failed-on-the-board.png")

    # The operator phones wang (the hub had sent him again): he is going, the page, still
    # failing, is not needed now.
    answer(paging_hub, case_id, "wang")
    expect(sos.locator(".pill.nobody-going")).to_have_count(0)
    expect(badge).to_have_count(0)
    assert errors == []


def test_the_mark_goes_when_the_gateway_is_back_and_the_pages_go_out(
    paging_hub: Hub, gateway: Gateway, browser: Browser
) -> None:
    """The gateway back, the call-out and the dispatch go out at last: the hub's view of the
    case says no page is failing, and the mark goes (nobody is told to phone for nothing)."""
    pager = Pager(paging_hub)
    case_id = pager.press()
    pager.supervise()
    errors: list[str] = []
    page = console_at(browser, paging_hub.url, errors)
    pager.run_for(5 * 60)
    badge = card(page, case_id).locator(".pill.page-down")
    expect(badge).to_contain_text("phone wang, li")
    gateway.failures = 0
    pager.run_for(60)
    assert {"opened", "dispatched"} <= {body["event"] for body in gateway.bodies}
    expect(badge).to_have_count(0)
    expect(card(page, case_id)).to_contain_text("nobody going")  # not yet answered: as before
    assert errors == []


def test_a_screen_opened_late_shows_whom_to_phone_until_the_case_is_taken_on_and_answered(
    paging_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    """The pages failed before this screen was opened (a new shift): the list the board reads
    says so, and it marks the SOS. Its case page says above the actions whom to phone and
    through which gateway, and leads each history line still true with it (they had been
    grey lines at the foot of the timeline). Taken on by the operator, the call-out is no
    longer needed; the dispatch is until someone has accepted."""
    pager = Pager(paging_hub)
    case_id = pager.press()
    pager.supervise()
    pager.run_for(5 * 60)
    errors: list[str] = []
    page = console_at(browser, paging_hub.url, errors)
    expect(card(page, case_id).locator(".pill.page-down")).to_contain_text("phone wang, li")

    card(page, case_id).click()
    box = page.locator("#pages-down")
    expect(box).to_contain_text("Page not delivered — phone wang, li")
    expect(box).to_contain_text("The dispatched page for wang, li via 127.0.0.1")
    expect(box).to_contain_text("The opened page via 127.0.0.1")
    expect(box).to_contain_text("HTTP 503")
    lines = page.locator(".timeline li.page-down")
    # The call-out, its escalation (failing by its copies: said since 2026-12-08) and the dispatch.
    expect(lines).to_have_count(3)
    expect(lines.filter(has_text="dispatched notice")).to_contain_text(
        "Page not delivered — phone wang, li (gateway 127.0.0.1): notice failed"
    )
    page.screenshot(path=screenshots / "2-page-failed-on-the-case.png", full_page=True)

    page.locator('form[data-action="acknowledge"] button').click()
    expect(page.locator("#toast")).to_contain_text("acknowledge: done")
    expect(lines).to_have_count(1)  # taken on: the call-out is no longer needed
    expect(lines).to_contain_text("dispatched notice for wang, li")
    expect(box).to_contain_text("phone wang, li")

    answer(paging_hub, case_id, "li")
    expect(page.locator("#case-team")).to_contain_text("li (patrol, accepted)")
    expect(box).to_have_count(0)
    expect(lines).to_have_count(0)
    page.locator("a", has_text="← cases").click()
    expect(card(page, case_id)).to_be_visible()
    expect(card(page, case_id).locator(".page-down")).to_have_count(0)
    assert errors == []


LEAK = make_device("b3-b1-leak", kind=DeviceKind.WATER_LEAK, edge_id="edge-b3")


def test_a_leak_page_given_up_is_marked_until_the_case_is_taken_on(
    paging_hub: Hub, browser: Browser
) -> None:
    """A page of a case that is not life safety keeps its 10 tries and is given up ("not a
    life-safety case"): nobody was paged about the leak, and the board says so ("page given
    up — phone wang"): the call-out until an operator takes the case on, the dispatch until
    wang has accepted."""
    pager = Pager(paging_hub)
    pager.store.fleet.register_device(LEAK)
    leak = make_alert(
        device_id=LEAK.id,
        edge_id="edge-b3",
        kind=AlertKind.WATER_LEAK,
        severity=Severity.HIGH,
        ts=pager.clock.now,
    )
    [case] = pager.store.intake.ingest_alerts([leak], pager.clock.now).cases_opened
    pager.supervise()
    errors: list[str] = []
    page = console_at(browser, paging_hub.url, errors)
    pager.run_for(10 * 60)
    badge = card(page, case.id).locator(".pill.page-down")
    expect(badge).to_have_text("⚠ page given up — phone wang")
    title = badge.get_attribute("title") or ""
    assert "The opened page via 127.0.0.1" in title
    assert "The dispatched page for wang via 127.0.0.1" in title
    assert "not delivered after 10 tries (HTTP 503), given up" in title

    paging_hub.call("POST", f"/api/v1/cases/{case.id}/acknowledge", json={})  # live
    expect(badge).not_to_have_attribute("title", re.compile("opened page"))
    expect(badge).to_have_text("⚠ page given up — phone wang")  # the dispatch: nobody going
    answer(paging_hub, case.id, "wang")
    expect(badge).to_have_count(0)
    assert errors == []


def test_a_page_out_within_ten_tries_of_its_copy_takes_the_mark_off(
    paging_hub: Hub, gateway: Gateway, browser: Browser
) -> None:
    """li goes off the roster while the dispatch is failing: the hub sends zhao in li's
    stead, and gives the old copy up for the new one (quietly: the new one is the page). The
    gateway back, the new copy goes out within its first tries, and the mark goes. (Before, read
    from the history, it said "phone wang, li" all along, li off the roster; and the hub
    wrote ``notice_delivered`` only past 10 tries of one copy, so the history's "the
    dispatched notice for wang, li … is not delivered … phone instead" stood unanswered.)"""
    zhao = {"id": "zhao", "site_id": "lanyuan", "name": "zhao", "role": "security"}
    paging_hub.call("PUT", "/api/v1/responders/zhao", json=zhao)
    pager = Pager(paging_hub)
    case_id = pager.press()
    pager.supervise()
    errors: list[str] = []
    page = console_at(browser, paging_hub.url, errors)
    pager.run_for(5 * 60)
    badge = card(page, case_id).locator(".pill.page-down")
    expect(badge).to_contain_text("phone wang, li")
    li = {"id": "li", "site_id": "lanyuan", "name": "li", "role": "security", "active": False}
    paging_hub.call("PUT", "/api/v1/responders/li", json=li)
    pager.run_for(10)  # zhao in li's stead: dispatched again
    expect(badge).to_contain_text("phone wang, zhao")
    gateway.failures = 0
    pager.run_for(60)
    assert [b["team"] for b in gateway.bodies if b["event"] == "dispatched"] == [["wang", "zhao"]]
    detail = paging_hub.call("GET", f"/api/v1/cases/{case_id}")
    notes = [e["note"] or "" for e in detail["events"]]
    assert any(n.startswith("the dispatched notice for wang, li") for n in notes)
    assert any(n.startswith("the dispatched notice went out") for n in notes)
    expect(badge).to_have_count(0)
    assert errors == []


def test_a_live_view_that_does_not_say_keeps_the_mark(paging_hub: Hub, browser: Browser) -> None:
    """The alert intake's views on the live stream do not say which pages are failing (it
    does not read them: it is the hot path); the board keeps what the last view said, and
    a case over has no mark whatever it says."""
    errors: list[str] = []
    page = console_at(browser, paging_hub.url, errors)
    result = page.evaluate(
        """async () => {
          const pages = await import('/console/pages.js');
          const failing = [{ event: "dispatched", whom: ["wang"], gateway: "gw.example",
            since: "2026-12-07T10:00:00Z", tries: 10, error: "HTTP 503", still_tried: true,
            line_id: 7 }];
          const known = { id: 1, status: "dispatched", version: 3, pages_failing: failing };
          const live = { id: 1, status: "dispatched", version: 4, pages_failing: null };
          const kept = { ...known, ...pages.carryPages(live, known) };
          const cleared = pages.carryPages({ ...live, pages_failing: [] }, known);
          return {
            kept: pages.pagesDown(kept).map((p) => p.whom.join()),
            cleared: pages.pagesDown(cleared).length,
            over: pages.pagesDown({ ...kept, status: "resolved" }).length,
            merged: pages.pagesDown({ ...kept, merged_into: 2 }).length,
          };
        }"""
    )
    assert result == {"kept": ["wang"], "cleared": 0, "over": 0, "merged": 0}
    assert errors == []
