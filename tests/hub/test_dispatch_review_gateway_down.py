"""An SOS dispatched while the paging gateway is down: its responders have not been paged, so
they are not taken off the case for "not accepting in time" (and the history never says they
did not accept); the case still climbs by its acknowledgement deadlines; when the gateway is
back each page still needed goes out once, and the acceptance deadline counts from then.

Before, wang and li were taken off two minutes after the press ("did not accept in time")
though no page had gone out, and the case was dispatched to them again every three minutes:
a new dispatch page each time; and a gateway back after a few minutes got every escalation
queued meanwhile (outside review of dispatch while the gateway is down)."""

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine

from devices.kinds import AlertKind, Severity
from hub.cases.correlation import CaseCategory
from hub.cases.notifier import Notifier
from hub.cases.rules import CaseEventAction, CaseStatus
from hub.cases.supervision import (
    DEFAULT_POLICY,
    Postpone,
    Reassign,
    SupervisedCase,
    Timer,
    TimerKind,
    on_timer,
)
from hub.cases.views import CaseEventView
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert
from tests.hub.test_notifier_review_gateway_down import DOWN, LEAK, paging, press, staffed_store
from tests.hub.webhook_gateway import Gateway


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway(failures=DOWN)
    yield gw
    gw.close()


async def run_hub(store: HubStore, notifier: Notifier, clock: FakeClock, seconds: int) -> None:
    """Run the supervisor's and the notifier's rounds for ``seconds`` of the injected clock,
    a round every 10 s."""
    for _ in range(seconds // 10):
        clock.advance(10)
        store.deadlines.fire_due_timers(clock.now)
        await notifier.deliver_due()


def lines(store: HubStore, case_id: int, action: CaseEventAction) -> list[CaseEventView]:
    return [e for e in store.cases.get_case(case_id).events if e.action is action]


@pytest.mark.parametrize("down_minutes", [10, 30])
async def test_responders_never_paged_stay_on_the_sos_and_it_still_climbs(
    engine: Engine, clock: FakeClock, gateway: Gateway, down_minutes: int
) -> None:
    async with paging(engine, clock, gateway) as (store, case_id, notifier):
        await run_hub(store, notifier, clock, down_minutes * 60)
        assert gateway.bodies == []
        case = store.cases.get_case(case_id)
        # Not asked, so not "silent": still on the case, waited for.
        assert lines(store, case_id, CaseEventAction.DECLINED) == []
        assert [(a.responder, a.accepted) for a in case.team] == [("wang", False), ("li", False)]
        assert len(lines(store, case_id, CaseEventAction.DISPATCHED)) == 1
        # The case climbed all the same, by its own deadlines.
        assert case.escalation_level == DEFAULT_POLICY.top_level
        assert case.status is CaseStatus.DISPATCHED
        # And the operator is told to phone.
        failing = [line.note or "" for line in lines(store, case_id, CaseEventAction.NOTICE_FAILED)]
        assert any("dispatched notice for wang, li" in n and "phone" in n for n in failing)

        gateway.failures = 0  # back
        await run_hub(store, notifier, clock, 60)
        paged = Counter(b["event"] for b in gateway.bodies)
        assert paged == {"opened": 1, "dispatched": 1, "escalated": 1}, paged
        [out] = [
            line
            for line in lines(store, case_id, CaseEventAction.NOTICE_DELIVERED)
            if "dispatched" in (line.note or "")
        ]
        # Two minutes to accept from the page, not from the press.
        left = (out.ts + timedelta(minutes=2) - clock.now).total_seconds()
        await run_hub(store, notifier, clock, int(left) // 10 * 10 - 10)
        assert lines(store, case_id, CaseEventAction.DECLINED) == []
        await run_hub(store, notifier, clock, 30)
    declined = sorted(line.note or "" for line in lines(store, case_id, CaseEventAction.DECLINED))
    assert declined == ["li did not accept in time", "wang did not accept in time"]
    assert store.audit.verify_audit().intact


async def test_a_page_out_late_gives_the_full_time_to_accept_from_then(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> None:
    async with paging(engine, clock, gateway) as (store, case_id, notifier):
        await run_hub(store, notifier, clock, 90)
        gateway.failures = 0
        while not any(b["event"] == "dispatched" for b in gateway.bodies):
            await run_hub(store, notifier, clock, 10)  # out within the minute
        out = clock.now
        assert out <= T0 + timedelta(seconds=160)
        await run_hub(store, notifier, clock, 40)
        # Past two minutes from the press, short of two from the page: still waited for.
        assert T0 + timedelta(minutes=2) < clock.now < out + timedelta(minutes=2)
        assert lines(store, case_id, CaseEventAction.DECLINED) == []
        await run_hub(store, notifier, clock, 150)
    [li, wang] = sorted(
        lines(store, case_id, CaseEventAction.DECLINED), key=lambda line: line.note or ""
    )
    assert li.ts >= out + timedelta(minutes=2)
    assert wang.ts >= out + timedelta(minutes=2)
    assert wang.note == "wang did not accept in time"


async def test_a_healthy_gateway_keeps_the_two_minutes_from_the_dispatch(
    engine: Engine, clock: FakeClock
) -> None:
    gateway = Gateway()
    try:
        store = staffed_store(engine, clock, gateway)
        case_id = press(store, clock)
        async with httpx.AsyncClient() as http:
            notifier = Notifier(store, clock=clock, http=http)
            await notifier.deliver_due()
            await run_hub(store, notifier, clock, 110)
            assert lines(store, case_id, CaseEventAction.DECLINED) == []
            await run_hub(store, notifier, clock, 20)
    finally:
        gateway.close()
    notes = sorted(line.note or "" for line in lines(store, case_id, CaseEventAction.DECLINED))
    assert notes == ["li did not accept in time", "wang did not accept in time"]


def sos(pages: dict[str, datetime | None]) -> SupervisedCase:
    return SupervisedCase(
        status=CaseStatus.DISPATCHED,
        category=CaseCategory.LIFE_SAFETY,
        acknowledged=False,
        waiting=frozenset({"wang"}),
        escalation_level=0,
        pages=pages,
    )


DUE = Timer(TimerKind.ACCEPT, T0 + timedelta(minutes=2), "wang", T0)
NOW = T0 + timedelta(minutes=2)


@pytest.mark.parametrize(
    ("pages", "outcome"),
    [
        ({}, Reassign("wang")),  # no page the hub tries: counted from the assignment
        ({"wang": T0}, Reassign("wang")),
        ({"wang": None}, Postpone(Timer(TimerKind.ACCEPT, NOW + timedelta(minutes=2), "wang", T0))),
        (
            {"wang": T0 + timedelta(seconds=90)},
            Postpone(Timer(TimerKind.ACCEPT, T0 + timedelta(seconds=210), "wang", T0)),
        ),
        ({"li": None}, Reassign("wang")),
    ],
)
def test_an_acceptance_deadline_counts_from_the_page(
    pages: dict[str, datetime | None], outcome: object
) -> None:
    assert on_timer(sos(pages), DUE, NOW, DEFAULT_POLICY) == outcome


@pytest.mark.parametrize("down_seconds", [150, 240, 300])
async def test_a_gateway_back_from_minutes_gets_the_newest_escalation_once(
    engine: Engine, clock: FakeClock, gateway: Gateway, down_seconds: int
) -> None:
    """Before, a gateway back after four minutes got every escalation queued meanwhile, the
    street's after the district's: only the one at ``MAX_ATTEMPTS`` tries was given up for a
    later one."""
    async with paging(engine, clock, gateway) as (store, case_id, notifier):
        await run_hub(store, notifier, clock, down_seconds)
        escalations = lines(store, case_id, CaseEventAction.ESCALATED)
        assert len(escalations) >= 2
        gateway.failures = 0
        for _ in range(6):  # the pages alone: no new escalation is due meanwhile
            clock.advance(10)
            await notifier.deliver_due()
    assert Counter(b["event"] for b in gateway.bodies) == {
        "opened": 1,
        "dispatched": 1,
        "escalated": 1,
    }
    [escalated] = [b for b in gateway.bodies if b["event"] == "escalated"]
    assert escalated["level_name"] == "district"
    newest = lines(store, case_id, CaseEventAction.ESCALATED)[-1]
    assert escalated["ts"] == newest.ts.isoformat().replace("+00:00", "Z")
    # The stale copies are given up quietly (the newest is the page): nothing is pending.
    counts = store.notices.notification_counts()
    assert counts["pending"] == 0
    assert counts["failed"] == len(escalations) - 1
    assert not any(
        "given up" in (line.note or "")
        for line in lines(store, case_id, CaseEventAction.NOTICE_FAILED)
    )
    assert store.audit.verify_audit().intact


async def test_a_responder_whose_page_was_given_up_is_not_said_to_have_ignored_it(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> None:
    """A leak's page keeps its budget of tries and is given up; at the acceptance deadline
    wang's duty moves on, and the history says why: never paged, not silent."""
    store = staffed_store(engine, clock, gateway)
    leak = make_alert(
        device_id=LEAK.id, kind=AlertKind.WATER_LEAK, severity=Severity.HIGH, ts=clock.now
    )
    [case] = store.intake.ingest_alerts([leak], clock.now).cases_opened
    assert [a.responder for a in case.team] == ["wang"]
    async with httpx.AsyncClient() as http:
        notifier = Notifier(store, clock=clock, http=http)
        await run_hub(store, notifier, clock, 29 * 60)
        assert lines(store, case.id, CaseEventAction.DECLINED) == []
        await run_hub(store, notifier, clock, 2 * 60)
    [declined] = lines(store, case.id, CaseEventAction.DECLINED)
    assert declined.note == "wang could not be paged: the page was given up"


async def test_a_guard_taken_off_the_roster_is_handed_on_while_the_gateway_is_down(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> None:
    """Waiting for the page is for those still on call: the roster's word hands a duty on
    at once, page or no page."""
    async with paging(engine, clock, gateway) as (store, case_id, notifier):
        await run_hub(store, notifier, clock, 30)
        li = next(r for r in store.roster.list_responders() if r.id == "li")
        store.roster.put_responder(li.model_copy(update={"active": False}))
        await run_hub(store, notifier, clock, 10)
    declined = [line.note for line in lines(store, case_id, CaseEventAction.DECLINED)]
    assert declined == ["li is off the roster"]
    assert [a.responder for a in store.cases.get_case(case_id).team] == ["wang"]
