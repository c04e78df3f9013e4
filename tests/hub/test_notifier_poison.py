"""A webhook target that can never work (a malformed URL, as a family contact may be typed)
is given up at once and the notifier goes on: the SOS page behind it goes out, on SQLite and
PostgreSQL, with the loop running as the hub runs it."""

import asyncio

import httpx
import pytest
from sqlalchemy import Engine

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.notifier import Notifier
from hub.cases.notify import Channel
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device
from tests.hub.webhook_gateway import Gateway

pytestmark = pytest.mark.asyncio

SOS = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON)
MALFORMED = "http://[fd00::5/sms"  # a missing ']' in an IPv6 gateway address


async def test_a_malformed_target_does_not_stop_the_pages(engine: Engine, clock: FakeClock) -> None:
    gateway = Gateway()
    try:
        targets = [(Channel.WEBHOOK, MALFORMED), (Channel.WEBHOOK, gateway.url)]
        store = HubStore(engine, clock=clock, notify=targets)
        store.fleet.register_device(SOS)
        sos = make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL)
        store.intake.ingest_alerts([sos], clock.now)
        async with httpx.AsyncClient() as http:
            notifier = Notifier(store, clock=clock, http=http, interval=0.02)
            task = asyncio.create_task(notifier.run())
            for _ in range(100):
                await asyncio.sleep(0.02)
                if gateway.bodies or task.done():
                    break
            await asyncio.sleep(0.1)
            died = task.done()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert not died, task.exception()
        assert [b["event"] for b in gateway.bodies] == ["opened"]
        # Given up at once, not tried ten times over the next quarter of an hour.
        assert store.notices.notification_counts() == {"pending": 0, "delivered": 1, "failed": 1}
        assert notifier.counters["notices_failed"] == 1
    finally:
        gateway.close()
