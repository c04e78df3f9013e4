"""The feedback publisher without a broker: nothing connected is counted, a full queue drops,
a reconnect sends each button its latest case's stage again."""

import asyncio
from collections import Counter
from datetime import datetime

from devices.kinds import AlertKind, DeviceKind, Severity
from devices.messages import FeedbackStage
from hub.cases.feedback import (
    RESEND_RESOLVED_WITHIN,
    FeedbackPublisher,
    current_feedback_cases,
    feedback_deliveries,
    latest_case_of_each_device,
)
from hub.cases.rules import Resolution
from hub.cases.views import CaseView
from hub.store import HubStore
from tests.background import running
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device
from tests.hub.test_events import case_view

SOS_ONLY = frozenset({AlertKind.SOS})


async def test_feedback_while_disconnected_is_counted_not_sent(store: HubStore) -> None:
    store.fleet.register_device(make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON))
    alert = make_alert(device_id="b3-1201-sos", kind=AlertKind.SOS, severity=Severity.CRITICAL)
    [case] = store.intake.ingest_alerts([alert], T0).cases_opened
    counters: Counter[str] = Counter()
    publisher = FeedbackPublisher(store, lambda: None, counters, kinds=SOS_ONLY)
    async with running(publisher.run()):
        publisher.notify(case)
        publisher.notify(case_view())  # smoke: not reported at all
        async with asyncio.timeout(5):
            while True:
                if counters["feedback_unsent"] >= 1:
                    break
                await asyncio.sleep(0.01)
    assert counters == Counter({"feedback_unsent": 1})


async def test_a_full_queue_drops_and_counts(store: HubStore) -> None:
    counters: Counter[str] = Counter()
    publisher = FeedbackPublisher(store, lambda: None, counters, kinds=SOS_ONLY, max_queued=1)
    sos = case_view(kind=AlertKind.SOS)
    publisher.notify(sos)
    publisher.notify(sos)
    assert counters["feedback_dropped"] == 1


def sos_case(store: HubStore, device_id: str, ts: datetime) -> CaseView:
    """Register an SOS button (once) and open or join its case with a press at ``ts``."""
    if device_id not in {d.id for d in store.fleet.list_devices()}:
        store.fleet.register_device(make_device(device_id, kind=DeviceKind.SOS_BUTTON))
    alert = make_alert(device_id=device_id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=ts)
    result = store.intake.ingest_alerts([alert], ts)
    [case] = result.cases_opened or result.cases_updated
    return case


def test_a_reconnect_sends_each_button_its_latest_case_active_or_just_resolved(
    store: HubStore, clock: FakeClock
) -> None:
    # Three buttons: one whose case is open, one whose case was resolved half an hour ago,
    # one whose case was resolved two hours ago (not sent again), and a smoke case (no button).
    open_case = sos_case(store, "b3-1201-sos", clock())
    acknowledged = store.cases.acknowledge(open_case.id, "patrol going")
    old = sos_case(store, "b3-1202-sos", clock())
    store.cases.resolve(old.id, "helped up", resolution=Resolution.REAL)
    clock.advance(90 * 60)
    recent = sos_case(store, "b3-1203-sos", clock())
    store.cases.resolve(recent.id, "false press", resolution=Resolution.FALSE_ALARM)
    store.fleet.register_device(make_device("b3-1201-smoke"))
    store.intake.ingest_alerts([make_alert(device_id="b3-1201-smoke", ts=clock())], clock())
    clock.advance(30 * 60)

    cases = current_feedback_cases(store.db, SOS_ONLY, clock() - RESEND_RESOLVED_WITHIN)
    assert [c.id for c in cases] == [open_case.id, recent.id]
    sent = latest_case_of_each_device(cases, SOS_ONLY)
    assert [(case.id, devices) for case, devices in sent] == [
        (open_case.id, frozenset({"b3-1201-sos"})),
        (recent.id, frozenset({"b3-1203-sos"})),
    ]
    edges = {"b3-1201-sos": "e1", "b3-1203-sos": "e1"}
    stages = [
        (d.feedback.device_id, d.feedback.stage)
        for case, devices in sent
        for d in feedback_deliveries(case, edges, SOS_ONLY, devices)
    ]
    assert acknowledged.acknowledged_at is not None
    assert stages == [
        ("b3-1201-sos", FeedbackStage.ACKNOWLEDGED),
        ("b3-1203-sos", FeedbackStage.RESOLVED),
    ]


def test_a_button_hears_only_its_latest_case_not_an_older_one_it_joined() -> None:
    # b1 pressed into case 1 (with b2), then into case 2: it is told case 2's stage only.
    first = case_view(1, kind=AlertKind.SOS, device_id="b1")
    first = first.model_copy(
        update={
            "members": [
                member.model_copy(update={"device_id": device})
                for member in first.members
                for device in ("b1", "b2")
            ]
        }
    )
    second = case_view(2, kind=AlertKind.SOS, device_id="b1")
    sent = latest_case_of_each_device([first, second], SOS_ONLY)
    assert [(case.id, devices) for case, devices in sent] == [
        (1, frozenset({"b2"})),
        (2, frozenset({"b1"})),
    ]


async def test_resend_queues_them_and_counts(store: HubStore, clock: FakeClock) -> None:
    sos_case(store, "b3-1201-sos", clock())
    counters: Counter[str] = Counter()
    publisher = FeedbackPublisher(store, lambda: None, counters, kinds=SOS_ONLY)
    assert await publisher.resend_current(clock()) == 1
    async with running(publisher.run()):
        async with asyncio.timeout(5):
            while True:
                if counters["feedback_unsent"] >= 1:
                    break
                await asyncio.sleep(0.01)
    assert counters == Counter({"feedback_resent": 1, "feedback_unsent": 1})
