"""What an escalation tells a gateway and how often: the notice names the case's site, street,
district and level, so a gateway can route it up the chain; the top level's reminders back off
(each wait twice the last, capped) instead of paging every minute for ever."""

from datetime import timedelta

from sqlalchemy import Engine, select

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.correlation import CaseCategory
from hub.cases.notify import CaseNotice, Channel
from hub.cases.rules import CaseStatus
from hub.cases.supervision import (
    DEFAULT_POLICY,
    REPEAT_BACKOFF_CAP,
    Escalate,
    SupervisedCase,
    Timer,
    TimerKind,
    on_timer,
)
from hub.persistence.tables import NotificationRow
from hub.roster.rules import Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device

SOS = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON, edge_id="edge-b3")
MINUTE = timedelta(minutes=1)


def test_the_top_level_is_reminded_less_and_less_often_but_never_forgotten() -> None:
    at_top = SupervisedCase(
        status=CaseStatus.OPEN,
        category=CaseCategory.LIFE_SAFETY,
        acknowledged=False,
        waiting=frozenset(),
        escalation_level=DEFAULT_POLICY.top_level,
    )
    waits = []
    set_at, due = T0, T0 + MINUTE
    for _ in range(6):
        outcome = on_timer(
            at_top, Timer(TimerKind.ACKNOWLEDGE, due, set_at=set_at), due, DEFAULT_POLICY
        )
        assert isinstance(outcome, Escalate)
        assert outcome.repeated
        waits.append(outcome.next.due_at - due)
        set_at, due = due, outcome.next.due_at
    assert waits == [MINUTE * m for m in (2, 4, 8, 8, 8, 8)]
    assert REPEAT_BACKOFF_CAP == 8
    below = on_timer(
        SupervisedCase(CaseStatus.OPEN, CaseCategory.LIFE_SAFETY, False, frozenset(), 0),
        Timer(TimerKind.ACKNOWLEDGE, due, set_at=set_at),
        due,
        DEFAULT_POLICY,
    )
    assert isinstance(below, Escalate)
    assert below.next.due_at - due == MINUTE  # climbing the ladder stays once a minute


def test_an_escalation_notice_names_the_site_street_district_and_level(
    engine: Engine, clock: FakeClock
) -> None:
    store = HubStore(engine, clock=clock, notify=[(Channel.WEBHOOK, "http://gw.test/page")])
    store.roster.put_site(
        Site(
            id="lanyuan",
            name="Lanyuan",
            edge_ids=["edge-b3"],
            street="Jinhua Street",
            district="Xihu District",
        )
    )
    store.fleet.register_device(SOS)
    sos = make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=clock.now)
    store.intake.ingest_alerts([sos], clock.now)
    store.deadlines.fire_due_timers(clock.advance(60))
    with store.db.reading() as session:
        payloads = session.scalars(select(NotificationRow.payload).order_by(NotificationRow.id))
        notices = [CaseNotice.model_validate(p) for p in payloads]
    escalated = next(n for n in notices if n.event == "escalated")
    assert (escalated.site_id, escalated.street, escalated.district) == (
        "lanyuan",
        "Jinhua Street",
        "Xihu District",
    )
    assert (escalated.escalation_level, escalated.level_name) == (1, "street")
    assert notices[0].level_name == "community"
