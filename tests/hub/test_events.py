"""The live event bus: fan-out, bounded buffers that drop the oldest, closing."""

import asyncio
from datetime import timedelta

import pytest

from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import AlertReason
from hub.cases.correlation import category_of
from hub.cases.results import IngestResult
from hub.cases.rules import CaseStatus, allowed_actions
from hub.cases.views import AlertView, CaseMemberView, CaseView
from hub.live.events import (
    AlertReceived,
    CaseChanged,
    EventBus,
    EventsDropped,
    HubEvent,
    SubscriptionClosedError,
    events_of,
)
from tests.hub.factories import T0


def alert_view(n: int) -> AlertView:
    return AlertView(
        id=f"alert-{n:04d}",
        edge_id="e1",
        device_id="d1",
        kind=AlertKind.SMOKE,
        state=AlertState.RAISED,
        severity=Severity.HIGH,
        ts=T0,
        detected_at=T0,
        received_at=T0 + timedelta(seconds=1),
        case_id=1,
        location="Building 3",
        reason=AlertReason(rule="smoke_flag"),
    )


def case_view(
    case_id: int = 1,
    *,
    kind: AlertKind = AlertKind.SMOKE,
    status: CaseStatus = CaseStatus.OPEN,
    device_id: str = "d1",
) -> CaseView:
    return CaseView(
        id=case_id,
        status=status,
        kind=kind,
        priority=Severity.HIGH,
        opened_at=T0,
        updated_at=T0,
        last_alert_at=T0,
        alert_count=1,
        device_ids=[device_id],
        location="Building 3",
        category=category_of(kind),
        rule=None,
        place=None,
        kinds=[kind],
        members=[
            CaseMemberView(
                device_id=device_id,
                kind=kind,
                alert_count=1,
                first_alert_at=T0,
                last_alert_at=T0,
            )
        ],
        assignee=None,
        team=[],
        resolution=None,
        resolved_at=None,
        acknowledged_at=None if status is CaseStatus.OPEN else T0,
        escalation_level=0,
        site_id=None,
        grid_id=None,
        actions=allowed_actions(status),
    )


async def test_every_subscriber_gets_every_event_in_order() -> None:
    bus = EventBus()
    with bus.subscribe() as first, bus.subscribe() as second:
        events = [AlertReceived(alert=alert_view(n)) for n in range(3)]
        bus.publish_all(events)
        for subscription in (first, second):
            assert [await subscription.get() for _ in range(3)] == events
    assert bus.subscriber_count == 0


async def test_a_slow_subscriber_loses_its_oldest_events_and_is_told() -> None:
    bus = EventBus()
    with bus.subscribe(max_queued=3) as slow:
        for n in range(5):
            bus.publish(AlertReceived(alert=alert_view(n)))  # never blocks
        assert slow.dropped == 2
        received = [await slow.get() for _ in range(4)]
    assert received[0] == EventsDropped(count=2)
    assert [e.alert.id for e in received[1:] if isinstance(e, AlertReceived)] == [
        "alert-0002",
        "alert-0003",
        "alert-0004",
    ]


async def test_what_is_queued_is_taken_at_once_in_order_the_drop_notice_first() -> None:
    bus = EventBus()
    with bus.subscribe(max_queued=3) as slow:
        assert slow.take_ready(10) == []  # nothing queued: no wait, nothing
        for n in range(5):
            bus.publish(AlertReceived(alert=alert_view(n)))
        first = slow.take_ready(2)
        rest = slow.take_ready(10)
        assert slow.take_ready(10) == []
    assert first[0] == EventsDropped(count=2)
    taken = [e.alert.id for e in first[1:] + rest if isinstance(e, AlertReceived)]
    assert taken == ["alert-0002", "alert-0003", "alert-0004"]


async def test_a_waiting_subscriber_wakes_up_on_publish() -> None:
    bus = EventBus()
    with bus.subscribe() as subscription:
        waiter = asyncio.create_task(subscription.get())
        await asyncio.sleep(0)
        bus.publish(CaseChanged(type="case_opened", case=case_view()))
        assert await waiter == CaseChanged(type="case_opened", case=case_view())


async def test_closing_the_bus_ends_iteration_after_queued_events() -> None:
    bus = EventBus()
    subscription = bus.subscribe()
    bus.publish(AlertReceived(alert=alert_view(1)))
    bus.close()
    bus.publish(AlertReceived(alert=alert_view(2)))  # nobody is subscribed any more
    received: list[HubEvent] = [event async for event in subscription]
    assert received == [AlertReceived(alert=alert_view(1))]
    with pytest.raises(SubscriptionClosedError):
        await subscription.get()


def test_an_ingest_result_becomes_alert_then_case_events() -> None:
    result = IngestResult(
        new=[alert_view(1), alert_view(2)],
        cases_opened=[case_view(1)],
        cases_updated=[case_view(2)],
    )
    assert [event.type for event in events_of(result)] == [
        "alert",
        "alert",
        "case_opened",
        "case_updated",
    ]


def test_events_serialise_as_documented() -> None:
    event = CaseChanged(type="case_opened", case=case_view())
    data = event.model_dump(mode="json")
    assert data["type"] == "case_opened"
    assert data["case"]["id"] == 1
    assert AlertReceived(alert=alert_view(1)).model_dump(mode="json")["type"] == "alert"
