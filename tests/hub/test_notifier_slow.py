"""A slow gateway holds up no other page: each delivery has an overall deadline, notices are
delivered side by side (life-safety ones claimed first), and a worker whose lease ran out
records nothing over another worker's claim. On SQLite and PostgreSQL, with a real local
HTTP server that trickles its answer."""

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, select

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.notices import Settled
from hub.cases.notifier import Notifier
from hub.cases.notify import Channel
from hub.persistence.tables import NotificationRow
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device
from tests.hub.trickle_gateway import TrickleGateway
from tests.hub.webhook_gateway import Gateway

SOS = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON)
LEAK = make_device("b1-basement-leak", kind=DeviceKind.WATER_LEAK)
DEADLINE = timedelta(seconds=0.5)


@pytest.fixture
def trickle() -> Iterator[TrickleGateway]:
    running = TrickleGateway(length=100, every=0.1)  # 10 s for the whole answer
    yield running
    running.close()


@pytest.fixture
def healthy() -> Iterator[Gateway]:
    running = Gateway()
    yield running
    running.close()


def press(store: HubStore, clock: FakeClock, device_id: str = SOS.id) -> None:
    alert = make_alert(
        device_id=device_id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=clock.now
    )
    store.intake.ingest_alerts([alert], clock.now)


async def test_a_trickling_gateway_is_cut_off_and_holds_up_nobody(
    engine: Engine, clock: FakeClock, trickle: TrickleGateway, healthy: Gateway
) -> None:
    targets = [(Channel.WEBHOOK, trickle.url), (Channel.WEBHOOK, healthy.url)]
    store = HubStore(engine, clock=clock, notify=targets)
    store.fleet.register_device(SOS)
    press(store, clock)
    async with httpx.AsyncClient() as http:
        notifier = Notifier(store, clock=clock, http=http, deadline=DEADLINE)
        assert await notifier.deliver_due() == 2
        sent = trickle.sent
    assert [b["event"] for b in healthy.bodies] == ["opened"]
    # The round ended with the slow answer far from whole: it was cut off, not waited for.
    assert sent < trickle.length // 2, f"{sent} of {trickle.length} bytes: not cut off"
    assert (notifier.counters["notices_delivered"], notifier.counters["notices_retried"]) == (1, 1)
    with store.db.reading() as session:
        error = session.scalar(
            select(NotificationRow.last_error).where(NotificationRow.target == trickle.url)
        )
    assert error == "not done within 0.5 s"


async def test_the_loop_goes_on_while_a_slow_delivery_is_in_flight(
    engine: Engine, clock: FakeClock, trickle: TrickleGateway, healthy: Gateway
) -> None:
    store = HubStore(engine, clock=clock, notify=[(Channel.WEBHOOK, trickle.url)])
    store.fleet.register_device(SOS)
    press(store, clock)  # its page goes to the slow gateway only
    later = HubStore(engine, clock=clock, notify=[(Channel.WEBHOOK, healthy.url)])
    second = make_device("b5-0302-sos", kind=DeviceKind.SOS_BUTTON)
    later.fleet.register_device(second)
    async with httpx.AsyncClient() as http:
        # The slow answer is let run to its end (10 s): the second page must not wait for it.
        notifier = Notifier(
            store, clock=clock, http=http, interval=0.02, deadline=timedelta(seconds=15)
        )
        task = asyncio.create_task(notifier.run())
        await until_true(lambda: bool(trickle.requests), "the slow delivery under way")
        press(later, clock, second.id)  # another SOS while the slow delivery goes on
        await until_true(lambda: bool(healthy.bodies), "the second SOS page")
        sent, active = trickle.sent, trickle.active
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [b["event"] for b in healthy.bodies] == ["opened"]
    # Delivered while the slow answer was still coming: it did not wait behind it.
    assert (active, sent < trickle.length) == (1, True), f"{sent} bytes, {active} in flight"


async def until_true(predicate: Callable[[], bool], what: str) -> None:
    """Wait for ``predicate`` (up to 30 s, the test's bound, not a timing claim)."""
    for _ in range(1500):
        if predicate():
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def test_life_safety_notices_are_claimed_first(engine: Engine, clock: FakeClock) -> None:
    store = HubStore(engine, clock=clock, notify=[(Channel.WEBHOOK, "http://gw.test/page")])
    store.fleet.register_device(LEAK)
    store.fleet.register_device(SOS)
    leak = make_alert(
        device_id=LEAK.id, kind=AlertKind.WATER_LEAK, severity=Severity.HIGH, ts=clock.now
    )
    store.intake.ingest_alerts([leak], clock.now)  # queued first
    press(store, clock)
    [first] = store.notices.claim_notifications(clock.now, limit=1)
    assert first.payload["kinds"] == ["sos"]
    [second] = store.notices.claim_notifications(clock.now, limit=1)
    assert second.payload["kinds"] == ["water_leak"]


def test_a_late_finisher_leaves_another_workers_claim_alone(
    engine: Engine, clock: FakeClock
) -> None:
    store = HubStore(engine, clock=clock, notify=[(Channel.WEBHOOK, "http://gw.test/page")])
    store.fleet.register_device(SOS)
    press(store, clock)
    lease = timedelta(seconds=30)
    [slow] = store.notices.claim_notifications(clock.now, lease=lease)
    clock.advance(31)  # the first worker hung past its lease; another takes the notice
    [other] = HubStore(engine, clock=clock).notices.claim_notifications(clock.now, lease=lease)
    assert other.id == slow.id

    assert store.notices.finish_notification(slow, clock.now, None) is Settled.LOST
    # Still the other's: a third worker cannot take it (and deliver it a third time).
    assert store.notices.claim_notifications(clock.now) == []
    assert store.notices.finish_notification(other, clock.now, None) is Settled.DELIVERED
    assert store.notices.notification_counts() == {"pending": 0, "delivered": 1, "failed": 0}
