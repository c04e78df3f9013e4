"""Two hub workers' notifiers on one real PostgreSQL, real time, with a gateway that trickles
its answer: each notice is in one worker's hands at a time (the delivery deadline lies well
inside the claim's lease), so the healthy gateway gets its page once, at once, and the slow
one is never sent the same notice twice at the same time."""

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.notifier import Notifier
from hub.cases.notify import Channel
from hub.persistence.engine import create_hub_engine, migrate
from hub.persistence.transactions import utc_now
from hub.store import HubStore
from tests.hub.factories import make_alert, make_device
from tests.hub.trickle_gateway import TrickleGateway
from tests.hub.webhook_gateway import Gateway

SOS = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON)


@pytest.fixture
def engines(postgres_url: str) -> Iterator[list[Engine]]:
    found = [create_hub_engine(postgres_url) for _ in range(2)]
    migrate(found[0])
    yield found
    for engine in found:
        engine.dispose()


async def test_two_workers_and_a_slow_gateway_page_once(engines: list[Engine]) -> None:
    trickle, healthy = TrickleGateway(length=100, every=0.1), Gateway()
    targets = [(Channel.WEBHOOK, trickle.url), (Channel.WEBHOOK, healthy.url)]
    try:
        stores = [HubStore(engine, clock=utc_now, notify=targets) for engine in engines]
        stores[0].fleet.register_device(SOS)
        started = time.monotonic()
        sos = make_alert(
            device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=utc_now()
        )
        stores[0].intake.ingest_alerts([sos], utc_now())
        got_page_after: float | None = None
        async with httpx.AsyncClient() as http_a, httpx.AsyncClient() as http_b:
            workers = [
                Notifier(
                    store,
                    clock=utc_now,
                    http=http,
                    interval=0.05,
                    deadline=timedelta(seconds=0.4),
                    lease=timedelta(seconds=1),
                )
                for store, http in zip(stores, (http_a, http_b), strict=True)
            ]
            tasks = [asyncio.create_task(worker.run()) for worker in workers]
            while time.monotonic() - started < 3.5:
                await asyncio.sleep(0.05)
                if healthy.bodies and got_page_after is None:
                    got_page_after = time.monotonic() - started
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        trickle.close()
        healthy.close()
    assert [b["event"] for b in healthy.bodies] == ["opened"]
    assert got_page_after is not None
    assert got_page_after < 1
    assert trickle.most_at_once == 1
    assert len(trickle.requests) >= 2  # cut off, and tried again: by one worker at a time
    assert sum(w.counters["notices_lease_lost"] for w in workers) == 0
