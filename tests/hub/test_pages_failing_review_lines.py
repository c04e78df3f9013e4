"""A page that is failing by ``pages_failing``'s rule — its copies since the last one delivered
failed 10 times all told — gets its ``notice_failed`` history line the moment it is (once a
page, not once a copy), so the supervisor puts the case on the live stream; and a page tried
on past its 10 tries is not given up because one worker died holding it. Real parts: a
loopback webhook gateway answering 503, the hub's notifier and supervisor run round by round
on its clock, SQLite and PostgreSQL.

Before, the line was written only when one copy reached 10 tries: an SOS's escalation,
repeated at each level (each later copy gives the earlier up), was failing from 150 s after
the press and never got a line, so the board did not mark the case until its next change
(an SOS whose responder could not be paged looked handled); and a worker killed while holding
a page's 11th try made the next claim give the page up: nobody was paged when the gateway
came back (review of the failing pages' lines)."""

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine

from hub.cases.changes import CaseChanges
from hub.cases.notifier import Notifier
from hub.cases.notify import MAX_ATTEMPTS
from hub.cases.rules import CaseEventAction
from hub.cases.supervisor import Supervisor
from hub.cases.views import CaseView
from hub.live.events import CaseChanged, EventBus, Subscription
from hub.roster.rules import Responder, ResponderRole
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0
from tests.hub.test_dispatch_review_gateway_down import lines, run_hub
from tests.hub.test_notifier_review_gateway_down import DOWN, paging, press, run_for, staffed_store
from tests.hub.webhook_gateway import Gateway


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway(failures=DOWN)
    yield gw
    gw.close()


def failing(view: CaseView | None) -> list[str]:
    """The events of the pages a view says are failing (none for no view yet)."""
    return sorted(p.event.value for p in (view.pages_failing or [])) if view else []


def streamed(subscription: Subscription, case_id: int, last: CaseView | None) -> CaseView | None:
    """The newest view of the case the live stream carried (``last`` if none since)."""
    for event in subscription.take_ready(1000):
        if isinstance(event, CaseChanged) and event.case.id == case_id:
            last = event.case
    return last


async def test_a_page_failing_by_its_copies_is_said_and_streamed_at_once(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> None:
    store = staffed_store(engine, clock, gateway)
    bus = EventBus()
    supervisor = Supervisor(store, CaseChanges(bus), clock=clock)
    case_id = press(store, clock)
    board: CaseView | None = None
    with bus.subscribe() as subscription:
        await supervisor.tick()
        async with httpx.AsyncClient() as http:
            notifier = Notifier(store, clock=clock, http=http)
            seen: set[str] = set()
            for second in range(10, 10 * 60 + 1, 10):
                clock.advance(10)
                await notifier.deliver_due()
                await supervisor.tick()
                board = streamed(subscription, case_id, board)
                now = store.cases.get_case(case_id)
                # What the console's board shows (the stream's newest view) is what the hub
                # says now, and each failing page leads with its history line.
                assert failing(board) == failing(now), f"{second} s after the press"
                assert all(page.line_id is not None for page in now.pages_failing or [])
                seen |= set(failing(now))
            # The escalation (at 60, 120, 180 s: each copy gives the earlier up) fails before
            # any one copy of it has 10 tries: it is one of the pages said.
            assert seen == {"dispatched", "escalated", "opened"}
            notes = [
                line.note or "" for line in lines(store, case_id, CaseEventAction.NOTICE_FAILED)
            ]
            heads = sorted(note.split(" notice", 1)[0] for note in notes)
            # Once a page, not once a copy.
            assert heads == ["the dispatched", "the escalated", "the opened"], notes
            [escalated] = [n for n in notes if n.startswith("the escalated notice")]
            assert "is not delivered after 10 tries (HTTP 503)" in escalated
            assert escalated.endswith("still trying every 60 s; phone instead")

            gateway.failures = 0  # back
            for _ in range(6):
                clock.advance(10)
                await notifier.deliver_due()
                await supervisor.tick()
            board = streamed(subscription, case_id, board)
    out = [line.note or "" for line in lines(store, case_id, CaseEventAction.NOTICE_DELIVERED)]
    assert any(note.startswith("the escalated notice went out") for note in out), out
    assert failing(board) == [] == failing(store.cases.get_case(case_id))
    assert store.audit.verify_audit().intact


async def test_a_page_tried_on_whose_worker_dies_once_goes_out_when_the_gateway_is_back(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> None:
    async with paging(engine, clock, gateway) as (store, case_id, notifier):
        await run_for(notifier, clock, 15 * 60)  # past 10 tries each, tried on every minute
        assert store.notices.notification_counts()["pending"] == 2
        clock.advance(60)
        # Claimed, and the worker killed (a restart, an OOM kill): no outcome recorded.
        assert len(store.notices.claim_notifications(clock.now)) == 2
        clock.advance(31)
        gateway.failures = 0  # back
        await run_for(notifier, clock, 60)
    assert sorted(b["event"] for b in gateway.bodies) == ["dispatched", "opened"]
    assert store.notices.notification_counts() == {"pending": 0, "delivered": 2, "failed": 0}
    notes = [line.note or "" for line in lines(store, case_id, CaseEventAction.NOTICE_FAILED)]
    assert not any("given up" in note for note in notes), notes
    assert len(lines(store, case_id, CaseEventAction.NOTICE_DELIVERED)) == 2
    assert store.audit.verify_audit().intact


async def test_a_page_whose_worker_dies_every_time_is_given_up_and_said_so(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> None:
    """One that kills its worker each time is not claimed for ever: after 10 claims running
    with no outcome, it is given up, and the history says why (phone instead)."""
    async with paging(engine, clock, gateway) as (store, case_id, notifier):
        await run_for(notifier, clock, 15 * 60)
    for _ in range(MAX_ATTEMPTS):
        clock.advance(60)
        assert len(store.notices.claim_notifications(clock.now)) == 2
    clock.advance(31)
    assert store.notices.claim_notifications(clock.now) == []
    assert store.notices.notification_counts()["failed"] == 2
    notes = [line.note or "" for line in lines(store, case_id, CaseEventAction.NOTICE_FAILED)]
    died = [n for n in notes if n.endswith("its worker died or hung on it 10 times running")]
    assert len(died) == 2, notes
    assert store.audit.verify_audit().intact


async def test_a_dispatch_queued_again_is_said_failing_once_its_copies_had_ten_tries(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> None:
    """li goes off the roster a minute after the press: the hub dispatches zhao in li's stead,
    and the first dispatch, tried a few times, is given up for the new one. The moment the two
    copies have failed 10 times together, the history says the page (the newest copy's team)
    is not delivered, once; the new copy reaching 10 tries of its own says nothing more."""
    store = staffed_store(engine, clock, gateway)
    store.roster.put_responder(
        Responder(id="zhao", site_id="lanyuan", name="zhao", role=ResponderRole.SECURITY)
    )
    case_id = press(store, clock)
    async with httpx.AsyncClient() as http:
        notifier = Notifier(store, clock=clock, http=http)
        await run_hub(store, notifier, clock, 60)
        li = next(r for r in store.roster.list_responders() if r.id == "li")
        store.roster.put_responder(li.model_copy(update={"active": False}))
        while CaseEventAction.DISPATCHED not in failing_events(store, case_id):
            assert clock.now < T0 + timedelta(minutes=10), "the dispatch never failed"
            await run_hub(store, notifier, clock, 10)
        assert len(lines(store, case_id, CaseEventAction.DISPATCHED)) == 2
        [page] = [
            p
            for p in store.cases.get_case(case_id).pages_failing or []
            if p.event is CaseEventAction.DISPATCHED
        ]
        assert page.whom == ["wang", "zhao"]
        said = {line.id: line.note or "" for line in lines(store, case_id, NOTICE_FAILED)}
        assert said.get(page.line_id or -1, "").startswith(
            "the dispatched notice for wang, zhao to 127.0.0.1 is not delivered after 10 tries"
        ), said
        await run_hub(store, notifier, clock, 10 * 60)  # the new copy past 10 tries of its own
    dispatch_lines = [
        note
        for note in (line.note or "" for line in lines(store, case_id, NOTICE_FAILED))
        if note.startswith("the dispatched notice")
    ]
    assert len(dispatch_lines) == 1, dispatch_lines
    assert store.audit.verify_audit().intact


NOTICE_FAILED = CaseEventAction.NOTICE_FAILED


def failing_events(store: HubStore, case_id: int) -> list[CaseEventAction]:
    return [p.event for p in store.cases.get_case(case_id).pages_failing or []]
