"""A gateway that hangs takes only its share of the notifier's slots: the pages queued behind a
backlog of its notices go out to the other gateways at once, not when its deliveries time out.

Before, the notifier claimed the oldest due notices whatever their target: twenty notices to a
family contact's webhook that hangs (or a paging gateway whose SMS provider stalls) took all
16 slots for a whole delivery deadline, round after round as they were retried, while the fire
page to the responders' gateway waited behind them (docs/cases.md, "Known limits"; outside
review of dispatch and notification). On SQLite and PostgreSQL, with real local HTTP servers."""

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine

from hub.cases.notices import Outgoing, enqueue
from hub.cases.notifier import Notifier
from hub.cases.notify import Channel, gateway_of
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.test_notifier_slow import healthy, until_true
from tests.hub.trickle_gateway import TrickleGateway
from tests.hub.webhook_gateway import Gateway

__all__ = ["healthy"]  # a webhook gateway that answers at once

FIRE = {"category": "life_safety", "event": "opened"}


@pytest.fixture
def hanging() -> Iterator[TrickleGateway]:
    running = TrickleGateway(length=100_000, every=0.1)  # takes a request, never finishes
    yield running
    running.close()


def queue(store: HubStore, clock: FakeClock, target: str, count: int) -> None:
    with store.db.writing() as session:
        for n in range(count):
            message = Outgoing(Channel.WEBHOOK, target, {**FIRE, "case_id": n})
            enqueue(session, message, clock.now)


async def test_a_hanging_gateway_holds_up_no_page_to_another(
    engine: Engine, clock: FakeClock, hanging: TrickleGateway, healthy: Gateway
) -> None:
    store = HubStore(engine, clock=clock)
    queue(store, clock, hanging.url, 20)  # queued first: oldest, and as urgent
    queue(store, clock, healthy.url, 1)
    async with httpx.AsyncClient() as http:
        # A deadline far beyond the wait below: the page must not wait for the hung deliveries
        # to be cut off.
        notifier = Notifier(
            store,
            clock=clock,
            http=http,
            interval=0.02,
            deadline=timedelta(seconds=60),
            lease=timedelta(seconds=120),
        )
        task = asyncio.create_task(notifier.run())
        try:
            await until_true(lambda: bool(healthy.bodies), "the page to the healthy gateway")
            at_once = hanging.most_at_once
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert [b["case_id"] for b in healthy.bodies] == [0]
    assert at_once <= 8  # half the slots at most


def test_a_claim_takes_a_gateways_share_and_no_more(engine: Engine, clock: FakeClock) -> None:
    store = HubStore(engine, clock=clock)
    queue(store, clock, "http://hung.test/page", 10)
    queue(store, clock, "http://pager.test/page", 2)
    hung = gateway_of(Channel.WEBHOOK, "http://hung.test/page")

    first = store.notices.claim_notifications(clock.now, limit=16, per_gateway=3)
    assert (
        sorted(n.target for n in first)
        == ["http://hung.test/page"] * 3 + ["http://pager.test/page"] * 2
    )
    # Two of the hung gateway's still in flight: one more of its notices, no more.
    second = store.notices.claim_notifications(
        clock.now, limit=16, per_gateway=3, in_flight={hung: 2}
    )
    assert [n.target for n in second] == ["http://hung.test/page"]
    assert (
        store.notices.claim_notifications(clock.now, limit=16, per_gateway=3, in_flight={hung: 3})
        == []
    )
