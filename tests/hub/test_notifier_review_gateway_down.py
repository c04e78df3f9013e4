"""A fire or SOS is dispatched while the paging gateway is down for 10, 30, 60 minutes: the
pages still asking something of someone go out when it comes back, and the case's history
says meanwhile that they are failing, so an operator can phone instead.

Before, a notice was given up after ``MAX_ATTEMPTS`` tries (about 8.5 minutes), silently but
for a log line and a counter: the responders were never paged, and nothing on the case said
so (outside review of paging when a gateway is down)."""

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.changes import CaseChanges
from hub.cases.notifier import Notifier
from hub.cases.notify import (
    MAX_ATTEMPTS,
    CaseNotice,
    Channel,
    PagedCase,
    next_attempt,
    still_paging,
)
from hub.cases.rules import CaseAction, CaseEventAction, Resolution
from hub.cases.supervisor import Supervisor
from hub.cases.views import CaseEventView
from hub.live.events import CaseChanged, EventBus
from hub.roster.rules import Grid, Responder, ResponderRole, Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device
from tests.hub.webhook_gateway import Gateway

SOS = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON, edge_id="edge-b3")
LEAK = make_device("b3-1201-leak", kind=DeviceKind.WATER_LEAK, edge_id="edge-b3")
DOWN = 10**9
"""Failures enough: the gateway answers 503 until a test sets ``failures`` to 0."""


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway(failures=DOWN)
    yield gw
    gw.close()


def staffed_store(engine: Engine, clock: FakeClock, gateway: Gateway) -> HubStore:
    """A hub paging ``gateway``, with wang and li on call at Lanyuan at all times."""
    store = HubStore(engine, clock=clock, notify=[(Channel.WEBHOOK, gateway.url)])
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", edge_ids=["edge-b3"]))
    store.roster.put_grid(Grid(id="g-b3", site_id="lanyuan", name="B3", places=["Building 3"]))
    for rid, role in (("wang", ResponderRole.GRID_WORKER), ("li", ResponderRole.SECURITY)):
        store.roster.put_responder(Responder(id=rid, site_id="lanyuan", name=rid, role=role))
    store.fleet.register_device(SOS)
    store.fleet.register_device(LEAK)
    return store


def press(store: HubStore, clock: FakeClock) -> int:
    sos = make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=clock.now)
    [case] = store.intake.ingest_alerts([sos], clock.now).cases_opened
    return case.id


@contextlib.asynccontextmanager
async def paging(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> AsyncIterator[tuple[HubStore, int, Notifier]]:
    """The staffed hub of ``staffed_store`` with its SOS just pressed (``press``), and its
    notifier on ``gateway``: the store, the case and the notifier."""
    store = staffed_store(engine, clock, gateway)
    case_id = press(store, clock)
    async with httpx.AsyncClient() as http:
        yield store, case_id, Notifier(store, clock=clock, http=http)


async def run_for(notifier: Notifier, clock: FakeClock, seconds: int) -> None:
    """Run the notifier's rounds for ``seconds`` of the injected clock, a round every 10 s
    (the deadlines are not fired: the pages alone are looked at)."""
    for _ in range(seconds // 10):
        clock.advance(10)
        await notifier.deliver_due()


def lines(store: HubStore, case_id: int, action: CaseEventAction) -> list[CaseEventView]:
    return [e for e in store.cases.get_case(case_id).events if e.action is action]


@pytest.mark.parametrize("down_minutes", [10, 30, 60])
async def test_an_sos_paged_while_the_gateway_is_down_goes_out_when_it_is_back(
    engine: Engine, clock: FakeClock, gateway: Gateway, down_minutes: int
) -> None:
    store = staffed_store(engine, clock, gateway)
    case_id = press(store, clock)  # opened, and dispatched to wang and li
    async with httpx.AsyncClient() as http:
        notifier = Notifier(store, clock=clock, http=http)
        await notifier.deliver_due()
        await run_for(notifier, clock, down_minutes * 60)
        assert gateway.bodies == []
        # The history says, once a page, that it is failing: phone them.
        failing = lines(store, case_id, CaseEventAction.NOTICE_FAILED)
        assert len(failing) == 2
        notes = [line.note or "" for line in failing]
        assert all("not delivered after 10 tries" in n and "phone" in n for n in notes), notes
        assert any("dispatched notice for wang, li" in n for n in notes)
        assert all("HTTP 503" in n and "127.0.0.1" in n and "/page" not in n for n in notes)
        assert notifier.counters["notices_failing"] == 2
        assert notifier.counters["notices_failed"] == 0

        gateway.failures = 0  # back
        await run_for(notifier, clock, 60)  # tried at least once a minute
    # Side by side: in either order.
    paged = {b["event"]: b for b in gateway.bodies}
    assert len(gateway.bodies) == 2
    assert sorted(paged) == ["dispatched", "opened"]
    assert paged["dispatched"]["team"] == ["wang", "li"]
    assert paged["dispatched"]["case_id"] == case_id
    assert len(lines(store, case_id, CaseEventAction.NOTICE_DELIVERED)) == 2
    assert store.notices.notification_counts() == {"pending": 0, "delivered": 2, "failed": 0}
    assert store.audit.verify_audit().intact


async def test_a_page_nobody_needs_any_more_is_given_up_and_said_so(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> None:
    async with paging(engine, clock, gateway) as (store, case_id, notifier):
        clock.advance(20)
        store.cases.act(case_id, CaseAction.ACKNOWLEDGE, actor="op.li")
        await run_for(notifier, clock, 20 * 60)
        # Taken on: the call-out is given up, and the news that it was (it only informs);
        # wang and li have not answered: still paged.
        given_up = sorted(
            line.note or ""
            for line in lines(store, case_id, CaseEventAction.NOTICE_FAILED)
            if "given up" in (line.note or "")
        )
        assert len(given_up) == 2, given_up
        assert "the acknowledged notice" in given_up[0]
        assert "it only informs" in given_up[0]
        assert "the opened notice" in given_up[1]
        assert "the case was taken on" in given_up[1]
        assert store.notices.notification_counts() == {"pending": 1, "delivered": 0, "failed": 2}

        store.cases.act(case_id, CaseAction.ACCEPT, actor="wang", for_self=True)
        await run_for(notifier, clock, 5 * 60)
        assert store.notices.notification_counts()["pending"] == 1  # li has not answered

        store.cases.act(case_id, CaseAction.RESOLVE, note="false alarm", resolution=Resolution.TEST)
        await run_for(notifier, clock, 5 * 60)
    counts = store.notices.notification_counts()
    assert counts["pending"] == 0  # the dispatch too: the case is over
    notes = [line.note or "" for line in lines(store, case_id, CaseEventAction.NOTICE_FAILED)]
    assert any("dispatched notice" in n and "the case is over" in n for n in notes)


async def test_a_leak_page_keeps_its_budget_and_its_giving_up_is_on_the_case(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> None:
    store = staffed_store(engine, clock, gateway)
    leak = make_alert(
        device_id=LEAK.id, kind=AlertKind.WATER_LEAK, severity=Severity.HIGH, ts=clock.now
    )
    [case] = store.intake.ingest_alerts([leak], clock.now).cases_opened
    async with httpx.AsyncClient() as http:
        notifier = Notifier(store, clock=clock, http=http)
        for _ in range(MAX_ATTEMPTS + 2):
            await notifier.deliver_due()
            clock.advance(300)
    counts = store.notices.notification_counts()
    assert counts["pending"] == 0
    assert counts["failed"] >= 1
    notes = [line.note or "" for line in lines(store, case.id, CaseEventAction.NOTICE_FAILED)]
    assert notes
    assert all("given up after 10 tries" in n for n in notes)
    assert all("not a life-safety case" in n for n in notes)


async def test_a_failing_page_is_on_the_live_stream(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> None:
    store = staffed_store(engine, clock, gateway)
    bus = EventBus()
    supervisor = Supervisor(store, CaseChanges(bus), clock=clock)
    case_id = press(store, clock)
    before = store.cases.get_case(case_id).version
    with bus.subscribe() as subscription:
        await supervisor.tick()  # starts from the newest history line
        async with httpx.AsyncClient() as http:
            notifier = Notifier(store, clock=clock, http=http)
            await run_for(notifier, clock, 10 * 60)
        await supervisor.tick()
        seen = [
            event
            for event in subscription.take_ready(100)
            if isinstance(event, CaseChanged) and event.case.id == case_id
        ]
    assert seen, "no live event for the failing pages"
    newest = seen[-1].case
    assert newest.version > before  # the console keeps the newest version: it must be new
    # The case page it fetches then shows the lines.
    page = store.cases.get_case(case_id)
    assert page.version == newest.version
    assert sum(e.action is CaseEventAction.NOTICE_FAILED for e in page.events) == 2


def notice_of(event: CaseEventAction, category: str = "life_safety") -> CaseNotice:
    return CaseNotice(
        event=event,
        ts=T0,
        case_id=1,
        status="dispatched",
        category=category,
        priority="critical",
        place=None,
        kinds=["sos"],
        assignee="wang",
        team=["wang", "li"],
        escalation_level=0,
        note=None,
    )


OPEN = PagedCase(active=True, acknowledged=False, waiting=frozenset({"wang", "li"}))


@pytest.mark.parametrize(
    ("event", "case", "why"),
    [
        (CaseEventAction.OPENED, OPEN, None),
        (CaseEventAction.ESCALATED, OPEN, None),
        (CaseEventAction.OPENED, replace(OPEN, acknowledged=True), "the case was taken on"),
        (CaseEventAction.DISPATCHED, replace(OPEN, acknowledged=True), None),
        (CaseEventAction.HANDED_OVER, replace(OPEN, waiting=frozenset({"li"})), None),
        (
            CaseEventAction.DISPATCHED,
            replace(OPEN, waiting=frozenset({"zhao"})),
            "nobody it sent is waited for any more",
        ),
        (CaseEventAction.DISPATCHED, replace(OPEN, active=False), "the case is over"),
        (
            CaseEventAction.DISPATCHED,
            replace(OPEN, superseded=True),
            "a later one says it again",
        ),
        (CaseEventAction.DISPATCHED, None, "the case is over"),
        (CaseEventAction.ACCEPTED, OPEN, "it only informs"),
        (CaseEventAction.RESOLVED, OPEN, "it only informs"),
    ],
)
def test_what_a_life_safety_page_is_tried_on_for(
    event: CaseEventAction, case: PagedCase | None, why: str | None
) -> None:
    assert still_paging(notice_of(event), case) == why


def test_a_page_of_another_category_keeps_its_budget() -> None:
    assert still_paging(notice_of(CaseEventAction.OPENED, "property"), OPEN) == (
        "not a life-safety case"
    )
    assert next_attempt(MAX_ATTEMPTS, T0) is None
    assert next_attempt(MAX_ATTEMPTS, T0, keep_paging=True) == T0 + timedelta(minutes=5)
    assert next_attempt(40, T0, life_safety=True, keep_paging=True) == T0 + timedelta(minutes=1)


async def test_a_gateway_back_from_an_hour_gets_the_newest_escalation_not_every_one(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> None:
    """Supervision runs through the outage: wang and li, never paged, stay on the team while
    their page is still tried (not accepting a page they never got is no answer); the SOS
    climbs to the district and is called out there again and again. When the gateway is back
    it gets the newest call-out of each kind, not the hour's backlog."""
    async with paging(engine, clock, gateway) as (store, case_id, notifier):
        for _ in range(6 * 60):  # an hour, a round every 10 s
            clock.advance(10)
            store.deadlines.fire_due_timers(clock.now)
            await notifier.deliver_due()
        assert gateway.bodies == []
        gateway.failures = 0
        await run_for(notifier, clock, 60)
    escalations = [
        e for e in store.cases.get_case(case_id).events if e.action is CaseEventAction.ESCALATED
    ]
    paged = [b["event"] for b in gateway.bodies]
    assert len(escalations) > 3, paged
    assert paged.count("escalated") == 1, paged
    assert paged.count("opened") == 1  # nobody has taken it on: still asked
    newest = max((b for b in gateway.bodies if b["event"] == "escalated"), key=lambda b: b["ts"])
    assert newest["ts"] == escalations[-1].ts.isoformat().replace("+00:00", "Z")
