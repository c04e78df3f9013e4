"""The live stream across hub workers (``hub.live.relay``): the envelope on plain values, then
two relays and two hub apps on one real PostgreSQL."""

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from hub.app import create_app
from hub.live.events import (
    AlertReceived,
    CaseChanged,
    EventBus,
    EventsDropped,
    HubEvent,
    Subscription,
)
from hub.live.relay import (
    ALIVE_EVERY_S,
    GONE_AFTER_S,
    MAX_PAYLOAD_BYTES,
    PROBE_EVERY_S,
    PROBE_TIMEOUT_S,
    PostgresEventRelay,
    RelayEnvelope,
    decode,
    encode,
    libpq_url,
)
from hub.settings import HubSettings
from hub.store import HubStore
from tests.edge.conftest import eventually
from tests.hub.factories import make_alert, make_device
from tests.hub.test_events import alert_view, case_view

WAIT_S = 10.0


def test_an_envelope_goes_and_comes_back_compressed_when_large() -> None:
    small = RelayEnvelope(worker="a:1", seq=1, event=AlertReceived(alert=alert_view(1)))
    text = encode(small)
    assert text is not None
    assert not text.startswith("z:")
    assert decode(text) == small
    view = case_view().model_copy(update={"device_ids": [f"device-{n:04d}" for n in range(1000)]})
    large = RelayEnvelope(worker="a:1", seq=2, event=CaseChanged(type="case_updated", case=view))
    assert len(large.model_dump_json()) > MAX_PAYLOAD_BYTES
    packed = encode(large)
    assert packed is not None
    assert packed.startswith("z:")
    assert len(packed) <= MAX_PAYLOAD_BYTES
    assert decode(packed) == large


def test_an_envelope_that_cannot_fit_is_refused_and_bad_ones_raise() -> None:
    rng = random.Random(17)
    noise = [rng.randbytes(8).hex() for _ in range(3000)]  # does not compress below 8000 bytes
    view = case_view().model_copy(update={"device_ids": noise})
    huge = RelayEnvelope(worker="a:1", seq=1, event=CaseChanged(type="case_updated", case=view))
    assert encode(huge) is None
    for bad in ("", "{}", "z:!!!", '{"worker": "a", "seq": 1, "event": {"type": "nope"}}'):
        with pytest.raises(ValueError, match="not a live event envelope"):
            decode(bad)


async def test_a_bad_or_repeated_notification_is_counted_and_dropped() -> None:
    bus = EventBus()
    relay = PostgresEventRelay("postgresql+psycopg://u:p@localhost/db", bus, worker="w")
    envelope = RelayEnvelope(worker="other:1", seq=1, event=AlertReceived(alert=alert_view(1)))
    text = encode(envelope)
    assert text is not None
    with bus.subscribe() as subscription:
        relay.receive("not json")
        relay.receive(text)
        relay.receive(text)  # a batch re-sent after a broken commit
        assert await subscription.get() == envelope.event
        assert relay.counters == {"rejected": 1, "delivered": 1, "duplicate": 1}
    assert libpq_url("postgresql+psycopg://u:p@h:5/db") == "postgresql://u:p@h:5/db"


async def test_a_workers_own_event_comes_back_as_it_was_published() -> None:
    """Its own notifications are delivered without decoding them again; anything else that
    looks like one (an unknown seq, a compressed one) is decoded as any notification is."""
    bus = EventBus()
    relay = PostgresEventRelay("postgresql+psycopg://u:p@localhost/db", bus, worker="w")
    published = AlertReceived(alert=alert_view(1))
    relay.send(published)
    # What the relay sent, as it comes back on the listening connection.
    payload = encode(RelayEnvelope(worker=relay.sender, seq=1, event=published)) or ""
    stranger = RelayEnvelope(worker=relay.sender, seq=7, event=AlertReceived(alert=alert_view(2)))
    with bus.subscribe() as subscription:
        relay.receive(payload)
        relay.receive(payload)  # re-sent: still once
        relay.receive(encode(stranger) or "")
        first, second = await take(subscription, 2)
    assert first is published
    assert second == stranger.event
    assert second is not stranger.event
    assert relay.counters == {"delivered": 2, "duplicate": 1}


async def take(subscription: Subscription, count: int) -> list[HubEvent]:
    """Return the next ``count`` events of a subscription."""
    async with asyncio.timeout(WAIT_S):
        return [await subscription.get() for _ in range(count)]


@contextlib.asynccontextmanager
async def relayed(
    url: str,
    worker: str,
    alone_after_s: float | None = None,
    *,
    probe_every_s: float = PROBE_EVERY_S,
    probe_timeout_s: float = PROBE_TIMEOUT_S,
    alive_every_s: float = ALIVE_EVERY_S,
    gone_after_s: float = GONE_AFTER_S,
) -> AsyncIterator[tuple[EventBus, PostgresEventRelay]]:
    """A relay of ``worker`` on ``url``, listening."""
    bus = EventBus()
    relay = PostgresEventRelay(
        url,
        bus,
        worker=worker,
        alone_after_s=alone_after_s,
        probe_every_s=probe_every_s,
        probe_timeout_s=probe_timeout_s,
        alive_every_s=alive_every_s,
        gone_after_s=gone_after_s,
    )
    relay.attach()
    task = asyncio.create_task(relay.run())
    try:
        async with asyncio.timeout(WAIT_S):
            await relay.listening.wait()
        yield bus, relay
    finally:
        relay.detach()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_two_workers_see_each_others_events_in_one_order(postgres_url: str) -> None:
    async with relayed(postgres_url, "a") as (bus_a, _), relayed(postgres_url, "b") as (bus_b, _):
        with bus_a.subscribe() as seen_by_a, bus_b.subscribe() as seen_by_b:
            for n in range(100):
                bus_a.publish(AlertReceived(alert=alert_view(2 * n)))
                bus_b.publish(AlertReceived(alert=alert_view(2 * n + 1)))
                if n % 10 == 0:
                    await asyncio.sleep(0)  # let the senders interleave their batches
            on_a = await take(seen_by_a, 200)
            on_b = await take(seen_by_b, 200)
    assert on_a == on_b  # one order for every console
    ids = [e.alert.id for e in on_a if isinstance(e, AlertReceived)]
    assert sorted(ids) == sorted(alert_view(n).id for n in range(200))  # each once
    from_a = [i for i in ids if int(i.split("-")[1]) % 2 == 0]
    assert from_a == sorted(from_a)  # a worker's own order kept


async def test_a_worker_that_lost_its_listening_connection_tells_its_subscribers(
    postgres_url: str,
) -> None:
    async with relayed(postgres_url, "a") as (bus, relay):
        with bus.subscribe() as subscription:
            async with await psycopg.AsyncConnection.connect(
                libpq_url(postgres_url), autocommit=True
            ) as admin:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE query LIKE 'LISTEN %%' AND pid <> pg_backend_pid()"
                    # This test's database only: other tests' relays listen meanwhile.
                    " AND datname = current_database()"
                )
            async with asyncio.timeout(WAIT_S):
                assert isinstance(await subscription.get(), EventsDropped)
            assert relay.counters["gaps"] == 1
            bus.publish(AlertReceived(alert=alert_view(7)))  # heard again once back
            assert await take(subscription, 1) == [AlertReceived(alert=alert_view(7))]


async def test_a_console_on_one_hub_sees_the_cases_another_hub_opens(
    postgres_url: str, tmp_path: Path
) -> None:
    def settings(name: str) -> HubSettings:
        return HubSettings(
            data_dir=tmp_path / name,
            database_url=postgres_url,
            start_ingest=False,
            worker_id=name,
        )

    first, second = create_app(settings("a")), create_app(settings("b"))
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        for app in (first, second):
            async with asyncio.timeout(WAIT_S):
                await app.state.live_relay.listening.wait()
        store: HubStore = first.state.store
        await asyncio.to_thread(store.fleet.register_device, make_device())
        events: EventBus = second.state.events
        with events.subscribe() as console_on_b:
            result = await asyncio.to_thread(
                store.intake.ingest_alerts, [make_alert()], store.db.clock()
            )
            first.state.case_changes.alerts_stored(result)  # as worker a's ingest does
            alert, opened = await take(console_on_b, 2)
    assert isinstance(alert, AlertReceived)
    assert alert.alert.id == result.new[0].id
    assert isinstance(opened, CaseChanged)
    assert opened.type == "case_opened"
    assert opened.case.id == result.cases_opened[0].id


QUIET_S = 0.2


async def test_a_hub_alone_delivers_in_process_until_another_says_hello(postgres_url: str) -> None:
    """Alone, a hub sends nothing but its hello once its own events came back; a second hub's
    hello, answered, makes both relay, and each sees the other's events from then on."""
    async with await psycopg.AsyncConnection.connect(
        libpq_url(postgres_url), autocommit=True
    ) as wiretap:
        await wiretap.execute("LISTEN linli_live")
        async with relayed(postgres_url, "a", QUIET_S) as (bus_a, relay_a):
            with bus_a.subscribe() as seen_by_a:
                for n in range(50):  # relayed: nobody has been heard from yet
                    bus_a.publish(AlertReceived(alert=alert_view(n)))
                await eventually(lambda: relay_a.counters["alone"] == 1, "the first hub alone")
                assert not relay_a.relaying
                for n in range(50, 100):
                    bus_a.publish(AlertReceived(alert=alert_view(n)))
                on_a = await take(seen_by_a, 100)
            assert [e.alert.id for e in on_a if isinstance(e, AlertReceived)] == [
                alert_view(n).id for n in range(100)
            ]
            heard = await notifications(wiretap)
            assert heard[0] == f"hello {relay_a.sender}"
            assert len(heard) == 51  # the hello and the first 50 events, none of the rest
            assert relay_a.counters["sent"] == 51

            # The second hub comes after the first went alone, and waits well past its own
            # quiet time before it publishes: it relays only if the first answered its hello.
            async with relayed(postgres_url, "b", QUIET_S) as (bus_b, relay_b):
                await eventually(
                    lambda: relay_a.relaying and relay_b.others_heard,
                    "both hubs relaying",
                )
                await asyncio.sleep(3 * QUIET_S)
                assert relay_b.relaying
                assert relay_b.counters["alone"] == 0
                assert relay_a.counters["others"] == 1
                with bus_a.subscribe() as on_a_now, bus_b.subscribe() as on_b_now:
                    bus_b.publish(AlertReceived(alert=alert_view(200)))
                    bus_a.publish(AlertReceived(alert=alert_view(201)))
                    from_both = await take(on_a_now, 2)
                    assert from_both == await take(on_b_now, 2)
    assert {e.alert.id for e in from_both if isinstance(e, AlertReceived)} == {
        alert_view(200).id,
        alert_view(201).id,
    }


async def notifications(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> list[str]:
    """Return the payloads a listening connection has heard so far."""
    heard: list[str] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0.5):
            async for notify in conn.notifies():
                heard.append(notify.payload)
    return heard


async def test_a_hub_going_alone_keeps_its_events_in_order(postgres_url: str) -> None:
    """Events still on their way round when the quiet time ends are delivered before any
    event published after it, which no longer goes round."""
    async with relayed(postgres_url, "a", alone_after_s=0.001) as (bus, relay):
        with bus.subscribe(max_queued=5000) as subscription:
            for m in range(3000):  # at once: the quiet time ends with all of them queued
                bus.publish(AlertReceived(alert=alert_view(m)))
            await eventually(lambda: relay.counters["alone"] == 1, "the hub alone")
            for m in range(3000, 3100):
                bus.publish(AlertReceived(alert=alert_view(m)))
            seen = await take(subscription, 3100)
    assert [e.alert.id for e in seen if isinstance(e, AlertReceived)] == [
        alert_view(m).id for m in range(3100)
    ]
