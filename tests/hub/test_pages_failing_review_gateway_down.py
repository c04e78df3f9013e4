"""The case views say which pages did not go out (``CaseView.pages_failing``), computed by the
hub from its notices queue, with a real notifier paging a real gateway answering 503.

Before, nothing in a case view said so: the console read the history of every changed case
and parsed the hub's English ("the dispatched notice for wang, li to … is not delivered");
and a page that went out at last within 10 tries of its copy wrote no ``notice_delivered``
line, so the earlier "not delivered" line stood, and the console went on telling the
operator to phone for a page that had gone out (outside review of the console's failing
pages)."""

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, event

from devices.kinds import AlertKind
from hub.cases.notifier import Notifier
from hub.cases.rules import CaseAction, CaseEventAction
from hub.cases.views import CaseView
from hub.roster.rules import Responder, ResponderRole
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device
from tests.hub.test_dispatch_review_gateway_down import lines, run_hub
from tests.hub.test_notifier_review_gateway_down import DOWN, SOS, press, staffed_store
from tests.hub.webhook_gateway import Gateway


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway(failures=DOWN)
    yield gw
    gw.close()


def listed(store: HubStore, case_id: int) -> CaseView:
    [view] = [c for c in store.cases.list_cases() if c.id == case_id]
    return view


async def test_an_sos_whose_pages_fail_says_whom_to_phone_until_they_go_out(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> None:
    store = staffed_store(engine, clock, gateway)
    case_id = press(store, clock)
    assert listed(store, case_id).pages_failing == []
    async with httpx.AsyncClient() as http:
        notifier = Notifier(store, clock=clock, http=http)
        await run_hub(store, notifier, clock, 5 * 60)
        view = listed(store, case_id)
        assert view.pages_failing is not None
        pages = {page.event: page for page in view.pages_failing}
        assert set(pages) == {
            CaseEventAction.OPENED,
            CaseEventAction.DISPATCHED,
            CaseEventAction.ESCALATED,
        }
        dispatched = pages[CaseEventAction.DISPATCHED]
        assert dispatched.whom == ["wang", "li"]
        assert dispatched.gateway == "127.0.0.1"
        assert dispatched.still_tried
        assert dispatched.tries >= 10
        assert dispatched.error == "HTTP 503"
        assert pages[CaseEventAction.OPENED].whom == []  # a call-out: whoever watches
        # The line of the history saying so, for the case page to lead.
        said = {
            line.id: line.note or ""
            for line in lines(store, case_id, CaseEventAction.NOTICE_FAILED)
        }
        assert dispatched.line_id in said
        assert said[dispatched.line_id].startswith(
            "the dispatched notice for wang, li to 127.0.0.1"
        )
        detail = store.cases.get_case(case_id)
        assert detail.pages_failing == view.pages_failing

        # Taken on by an operator: the call-outs ask nothing more; the dispatch does.
        taken = store.cases.act(case_id, CaseAction.ACKNOWLEDGE, actor="op.wang")
        assert [p.event for p in taken.pages_failing or []] == [CaseEventAction.DISPATCHED]

        gateway.failures = 0
        await run_hub(store, notifier, clock, 60)
    assert {b["event"] for b in gateway.bodies} >= {"opened", "dispatched"}
    assert listed(store, case_id).pages_failing == []
    assert store.cases.get_case(case_id).pages_failing == []


async def test_a_page_out_within_ten_tries_of_its_copy_takes_the_mark_off(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> None:
    """The dispatch fails 10 tries ("not delivered … phone instead"); li goes off the roster
    and the hub dispatches zhao in li's stead: the old copy is given up for the new one,
    quietly. The gateway back, the new copy goes out within its first tries: the page is off in
    the views, and the history says it went out (it said so only past 10 tries of one copy:
    the "not delivered" line stood, and no change of the case told the live stream)."""
    store = staffed_store(engine, clock, gateway)
    zhao = Responder(id="zhao", site_id="lanyuan", name="zhao", role=ResponderRole.SECURITY)
    store.roster.put_responder(zhao)
    case_id = press(store, clock)
    async with httpx.AsyncClient() as http:
        notifier = Notifier(store, clock=clock, http=http)
        await run_hub(store, notifier, clock, 5 * 60)
        failing = [p.event for p in listed(store, case_id).pages_failing or []]
        assert CaseEventAction.DISPATCHED in failing
        li = next(r for r in store.roster.list_responders() if r.id == "li")
        store.roster.put_responder(li.model_copy(update={"active": False}))
        await run_hub(store, notifier, clock, 10)
        dispatches = lines(store, case_id, CaseEventAction.DISPATCHED)
        assert len(dispatches) == 2  # zhao in li's stead
        mark, _ = store.notices.notice_lines_after(None)  # where the supervisor stands
        gateway.failures = 0
        await run_hub(store, notifier, clock, 60)
    [sent] = [b for b in gateway.bodies if b["event"] == "dispatched"]
    assert sent["team"] == ["wang", "zhao"]
    delivered = [
        line.note or "" for line in lines(store, case_id, CaseEventAction.NOTICE_DELIVERED)
    ]
    assert any(note.startswith("the dispatched notice went out") for note in delivered)
    assert case_id in store.notices.notice_lines_after(mark)[1]  # on the live stream
    assert listed(store, case_id).pages_failing == []


def test_the_alert_intake_does_not_read_pages_and_the_list_reads_them_once(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> None:
    """The intake's views (the hot path) do not say (None: the console keeps the last); the
    list reads the pages of all its cases in the same queries, however many they are."""
    store = staffed_store(engine, clock, gateway)
    sos = make_alert(device_id=SOS.id, edge_id="edge-b3", kind=AlertKind.SOS, ts=clock.now)
    [opened] = store.intake.ingest_alerts([sos], clock.now).cases_opened
    assert opened.pages_failing is None

    def statements_of_list() -> int:
        seen: list[str] = []

        def count(*args: object) -> None:
            seen.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", count)
        try:
            store.cases.list_cases()
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    one = statements_of_list()
    for n in range(5):
        device = make_device(f"b3-{n}-sos", kind=SOS.kind, edge_id="edge-b3")
        store.fleet.register_device(device)
        alert = make_alert(device_id=device.id, edge_id="edge-b3", kind=AlertKind.SOS, ts=clock.now)
        store.intake.ingest_alerts([alert], clock.now)
    assert len(store.cases.list_cases()) == 6
    assert statements_of_list() == one
