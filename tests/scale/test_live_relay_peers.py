"""A hub worker that dies between a commit and its relay's ``pg_notify`` takes that commit's
events with it: the other workers take a hub unheard for a while for gone and tell their
consoles to read their cases again (``hub.live.relay``, ``_keep_in_touch``). Two relays on one
real PostgreSQL, with short intervals."""

import asyncio

from hub.live.events import AlertReceived, EventsDropped
from tests.hub.test_events import alert_view
from tests.scale.test_live_relay import WAIT_S, relayed, take

ALIVE_S = 0.2
GONE_S = 1.0


async def test_a_worker_that_goes_silent_makes_the_others_read_their_cases_again(
    postgres_url: str,
) -> None:
    async with relayed(postgres_url, "a", alive_every_s=ALIVE_S, gone_after_s=GONE_S) as (
        bus_a,
        relay_a,
    ):
        with bus_a.subscribe() as seen_by_a:
            async with relayed(postgres_url, "b", alive_every_s=ALIVE_S, gone_after_s=GONE_S) as (
                bus_b,
                _,
            ):
                bus_b.publish(AlertReceived(alert=alert_view(1)))
                assert await take(seen_by_a, 1) == [AlertReceived(alert=alert_view(1))]
                # Alive well past the limit: its words keep it known, nothing is reported.
                await asyncio.sleep(3 * GONE_S)
                assert relay_a.counters["peers_gone"] == 0
                assert seen_by_a.take_ready(10) == []
            # b stops without a word, as a worker killed with kill -9: whatever it committed
            # last may never have been sent, so a's consoles are told to read again.
            async with asyncio.timeout(WAIT_S):
                assert isinstance(await seen_by_a.get(), EventsDropped)
            assert relay_a.counters["peers_gone"] == 1
            # Once: a gone hub is forgotten, not reported again and again.
            await asyncio.sleep(3 * GONE_S)
            assert seen_by_a.take_ready(10) == []
            bus_a.publish(AlertReceived(alert=alert_view(2)))
            assert await take(seen_by_a, 1) == [AlertReceived(alert=alert_view(2))]


async def test_a_hub_alone_says_nothing_and_reports_nothing(postgres_url: str) -> None:
    async with relayed(postgres_url, "a", alive_every_s=ALIVE_S, gone_after_s=GONE_S) as (
        bus_a,
        relay_a,
    ):
        with bus_a.subscribe() as seen_by_a:
            await asyncio.sleep(3 * GONE_S)
            assert seen_by_a.take_ready(10) == []
        sent = relay_a.counters["sent"]
    assert sent == 1  # its hello, and no "here" after it: nobody to say it to
    assert relay_a.counters["peers_gone"] == 0
