"""Notifications out: the retry rule, the durable queue on SQLite and PostgreSQL, delivery to
a real local HTTP server and a real Mosquitto — and ingest never waits for either."""

import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import aiomqtt
import httpx
import pytest
from sqlalchemy import Engine

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.notifier import Notifier
from hub.cases.notify import MAX_ATTEMPTS, CaseNotice, Channel, next_attempt, retry_delay
from hub.cases.rules import CaseAction, Resolution
from hub.store import HubStore
from linli.brokers import MosquittoProcess, free_port
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device
from tests.hub.webhook_gateway import Gateway

SOS = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON)


def test_retries_back_off_exponentially_and_give_up() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert retry_delay(30) == timedelta(minutes=5)
    assert next_attempt(MAX_ATTEMPTS, T) is None
    assert next_attempt(1, T) == T + timedelta(seconds=1)


T = make_alert().ts


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    running = Gateway(failures=2)
    yield running
    running.close()


def store_for(engine: Engine, clock: FakeClock, *targets: tuple[Channel, str]) -> HubStore:
    store = HubStore(engine, clock=clock, notify=targets)
    store.fleet.register_device(SOS)
    return store


def press(store: HubStore, clock: FakeClock) -> int:
    alert = make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL)
    return store.intake.ingest_alerts([alert], clock.now).cases_opened[0].id


def test_case_events_are_queued_only_when_someone_listens(engine: Engine, clock: FakeClock) -> None:
    quiet = store_for(engine, clock)
    case_id = press(quiet, clock)
    assert quiet.db.count_rows()["notifications"] == 0

    store = HubStore(engine, clock=clock, notify=[(Channel.WEBHOOK, "http://gw.test/x")])
    again = make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL)
    assert store.intake.ingest_alerts([again], clock.now).cases_updated[0].id == case_id
    assert store.db.count_rows()["notifications"] == 0  # joining a case pages nobody
    store.cases.act(case_id, CaseAction.ACKNOWLEDGE, actor="op")
    [claimed] = store.notices.claim_notifications(clock.now)
    notice = CaseNotice.model_validate(claimed.payload)
    assert (notice.event, notice.case_id, notice.status, notice.kinds) == (
        "acknowledged",
        case_id,
        "acknowledged",
        ["sos"],
    )
    assert claimed.target == "http://gw.test/x"
    # Held by this worker: nobody else gets it while the lease lasts.
    assert store.notices.claim_notifications(clock.now) == []
    assert store.notices.claim_notifications(clock.advance(31))[0].id == claimed.id


async def test_a_webhook_is_retried_until_the_gateway_takes_it(
    engine: Engine, clock: FakeClock, gateway: Gateway
) -> None:
    store = store_for(engine, clock, (Channel.WEBHOOK, gateway.url))
    case_id = press(store, clock)
    async with httpx.AsyncClient() as http:
        notifier = Notifier(store, clock=clock, http=http)
        assert await notifier.deliver_due() == 1  # 503
        assert await notifier.deliver_due() == 0  # not yet due again
        clock.advance(1)
        assert await notifier.deliver_due() == 1  # 503 again
        clock.advance(2)
        assert await notifier.deliver_due() == 1
    assert [b["event"] for b in gateway.bodies] == ["opened"]
    assert gateway.bodies[0]["case_id"] == case_id
    assert notifier.counters == {"notices_retried": 2, "notices_delivered": 1}
    assert store.notices.notification_counts() == {"pending": 0, "delivered": 1, "failed": 0}


async def test_a_dead_gateway_never_holds_up_ingest_and_is_given_up(
    engine: Engine, clock: FakeClock
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/nobody-listens"
    store = store_for(engine, clock, (Channel.WEBHOOK, dead))
    case_id = press(store, clock)
    store.cases.act(case_id, CaseAction.RESOLVE, note="test", resolution=Resolution.TEST)
    assert store.notices.notification_counts()["pending"] == 2
    async with httpx.AsyncClient() as http:
        notifier = Notifier(store, clock=clock, http=http)
        for _ in range(MAX_ATTEMPTS):
            await notifier.deliver_due()
            clock.advance(300)
    assert store.notices.notification_counts() == {"pending": 0, "delivered": 0, "failed": 2}
    assert notifier.counters["notices_failed"] == 2
    # Ingest went on regardless.
    assert press(store, clock) != case_id


async def test_notices_reach_mqtt(
    engine: Engine, clock: FakeClock, mosquitto: MosquittoProcess
) -> None:
    store = store_for(engine, clock, (Channel.MQTT, "linli/hub/cases"))
    case_id = press(store, clock)
    async with (
        aiomqtt.Client("127.0.0.1", mosquitto.port, identifier=f"gw-{uuid.uuid4().hex[:6]}") as gw,
        aiomqtt.Client(
            "127.0.0.1", mosquitto.port, identifier=f"hub-{uuid.uuid4().hex[:6]}"
        ) as hub,
        httpx.AsyncClient() as http,
    ):
        await gw.subscribe("linli/hub/cases/#", qos=1)
        disconnected = Notifier(store, clock=clock, http=http)
        await disconnected.deliver_due()
        assert disconnected.counters["notices_retried"] == 1  # not connected: kept
        notifier = Notifier(store, clock=clock, http=http, mqtt=lambda: hub)
        clock.advance(1)
        assert await notifier.deliver_due() == 1
        message = await anext(gw.messages)
    assert message.topic.value == f"linli/hub/cases/{case_id}/opened"
    assert isinstance(message.payload, bytes)
    assert json.loads(message.payload)["kinds"] == ["sos"]


def test_parallel_workers_claim_each_notice_once(engine: Engine, clock: FakeClock) -> None:
    store = store_for(engine, clock, (Channel.WEBHOOK, "http://gw.test/x"))
    for n in range(20):
        device = make_device(f"sos-{n}", kind=DeviceKind.SOS_BUTTON, location=f"Building {n}/U")
        store.fleet.register_device(device)
        alert = make_alert(device_id=device.id, kind=AlertKind.SOS, severity=Severity.CRITICAL)
        store.intake.ingest_alerts([alert], clock.now)
    workers = 4
    barrier = threading.Barrier(workers)

    def work() -> list[int]:
        worker = HubStore(engine, clock=clock)
        barrier.wait()
        return [c.id for c in worker.notices.claim_notifications(clock.now, limit=20)]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        claimed = [i for f in [pool.submit(work) for _ in range(workers)] for i in f.result()]
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 20
