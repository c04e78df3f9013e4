"""A page's lease runs from when its claim runs, not from when the claim was asked for.

The notifier asks for its claim on a worker thread of the hub's process, which it shares with
the ingest, the readings lane and every other database call: when that pool is busy the claim
waits its turn. Before, the lease was counted from the moment the notifier asked, so a claim
that waited 25 s held a 30 s lease for 5 s of delivery: a gateway that took 6 s to answer was
still being paged when another hub worker found the lease run out, claimed the same notice and
paged again (docs/scale.md, "Timers and notices fire once").
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.notices import ClaimedNotice
from hub.cases.notifier import Notifier
from hub.cases.notify import Channel
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device

T = TypeVar("T")
SOS = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON)
GATEWAY = "http://gw.test/page"


class BusyPool(ThreadPoolExecutor):
    """The process's worker threads, busy with other work: the next call waits ``wait_s``
    (of the injected clock) for its turn."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(max_workers=1)
        self._clock = clock
        self.wait_s = 0.0

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        self._clock.advance(self.wait_s)
        self.wait_s = 0.0
        return super().submit(fn, *args, **kwargs)


async def test_a_claim_that_waited_for_a_thread_is_not_paged_twice(
    pg_engine: Engine, clock: FakeClock
) -> None:
    engine = pg_engine
    store = HubStore(engine, clock=clock, notify=[(Channel.WEBHOOK, GATEWAY)])
    other_worker = HubStore(engine, clock=clock)
    store.fleet.register_device(SOS)
    store.intake.ingest_alerts(
        [
            make_alert(
                device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=clock.now
            )
        ],
        clock.now,
    )
    pages: list[bytes] = []
    taken_by_the_other: list[ClaimedNotice] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        pages.append(request.content)
        clock.advance(6)  # the gateway takes 6 s to answer: the other worker's round comes
        taken_by_the_other.extend(other_worker.notices.claim_notifications(clock.now))
        return httpx.Response(200)

    pool = BusyPool(clock)
    asyncio.get_running_loop().set_default_executor(pool)
    pool.wait_s = 25  # the claim waits 25 s for a thread
    async with httpx.AsyncClient(transport=httpx.MockTransport(gateway)) as http:
        notifier = Notifier(store, clock=clock, http=http)
        assert await notifier.deliver_due() == 1

    assert len(pages) == 1
    assert taken_by_the_other == []  # else it pages the same notice again
    assert notifier.counters["notices_delivered"] == 1
