"""The ingest's receive queue, the one aiomqtt fills: takes handed out fair between edges, a
flood's drops counted and logged once a minute (plain ``aiomqtt.Message`` values, no broker)."""

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator

import aiomqtt
import pytest

from devices.mqtt_link import SessionMessages
from devices.topics import EdgeChannel, edge_topic
from hub.ingest.backlog import Dropped
from hub.ingest.receive_queue import LOG_EVERY_S, UplinkQueues


def message(edge: str, channel: EdgeChannel, n: int) -> aiomqtt.Message:
    return aiomqtt.Message(edge_topic(edge, channel), str(n).encode(), 1, False, n, None)


async def test_a_take_is_the_first_message_and_the_rest_of_its_take() -> None:
    queues = UplinkQueues(budget=100, alert_batch_max=50, counters=Counter())
    queue = queues.queue_type()()
    assert queues.current is queue
    flood = [message("ea", EdgeChannel.ALERTS, n) for n in range(10)]
    for m in flood:
        queue.put_nowait(m)
    sos = message("eb", EdgeChannel.ALERT, 99)
    queue.put_nowait(sos)
    assert queue.qsize() == 11
    # Batches weigh 50: the flooding edge's turn, the SOS's edge, then the flood's again.
    take = [await queue.get(), *queues.rest_of_take()]
    assert take == [*flood[:2], sos]
    assert queue.qsize() == 8
    take = [await queue.get(), *queues.rest_of_take()]
    assert take == flood[2:4]


async def test_everything_that_fits_comes_in_arrival_order() -> None:
    queues = UplinkQueues(budget=500, alert_batch_max=50, counters=Counter())
    queue = queues.queue_type()()
    messages = [
        message(f"e{n % 3}", [EdgeChannel.STATUS, EdgeChannel.TELEMETRY][n % 2], n)
        for n in range(20)
    ]
    for m in messages:
        queue.put_nowait(m)
    assert [await queue.get(), *queues.rest_of_take()] == messages
    assert queue.empty()


async def test_a_take_grows_with_what_arrives_while_it_is_made() -> None:
    queues = UplinkQueues(budget=500, alert_batch_max=50, counters=Counter())
    queue = queues.queue_type()()

    async def read() -> AsyncIterator[aiomqtt.Message]:
        while True:
            yield await queue.get()

    first, second = (message("ea", EdgeChannel.ALERT, n) for n in range(2))
    queue.put_nowait(first)
    # Read by paho on the loop's next turn, while the take is being made.
    asyncio.get_running_loop().call_soon(queue.put_nowait, second)
    assert await queues.take(SessionMessages(read(), asyncio.Event())) == [first, second]
    assert queue.empty()


def test_a_floods_drops_are_counted_and_named_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    counters: Counter[str] = Counter()
    queues = UplinkQueues(
        budget=500, alert_batch_max=50, counters=counters, monotonic=lambda: now[0]
    )
    with caplog.at_level(logging.WARNING, logger="hub.ingest.receive_queue"):
        queues.dropped(Dropped("ea", 10))
        now[0] += LOG_EVERY_S / 2
        queues.dropped(Dropped("ea", 5))
        queues.dropped(Dropped("eb", 1))
        now[0] += LOG_EVERY_S
        queues.dropped(Dropped("ea", 2))
    assert counters["uplink_dropped"] == 18
    logged = [(r.args[0], r.args[1]) for r in caplog.records if isinstance(r.args, tuple)]
    assert logged == [("ea", 10), ("eb", 1), ("ea", 7)]
