"""Red team: one device identity flooding the site broker on many topics of its own must not
cost another device its fire alarm (real Mosquitto as ``linli broker init --site`` configures
it, the edge's own receive queue).

The edge's receive queue (``edge.receive_queue.FairQueue`` over ``edge.backlog.Backlog``) is
fair between queues and, past its bounds, drops the oldest messages of the longest queue. A
Shelly Gen1's identity may publish anything under ``shellies/<id>/#`` (a Tasmota's under
``tele/<topic>/#``): one message on each of many topics is many queues of one message, and
the longest of those is then the oldest one waiting, another device's alarm.
"""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiomqtt
import pytest

from devices.topics import device_subscriptions
from edge.backlog import Dropped
from edge.receive_queue import Arrivals, fair_queue
from tests.security.brokers import SecuredBroker, linli

pytestmark = [pytest.mark.mosquitto]

FLOOD = 300
CHUNK = 256 * 1024
"""300 messages of 256 KiB: 75 MiB, past the receive queue's 64 MiB of QoS 0 payloads."""
SMOKE_TOPIC = "zigbee2mqtt/b3 1201 smoke"
BARRIER = "shellies/shellyplug-s-7/online"


@dataclass
class _Seen:
    """The flood watch's place in ``Arrivals``: here it only notes every topic that arrived."""

    topics: list[str] = field(default_factory=list)

    def seen(self, topic: str, at: float) -> bool:
        self.topics.append(topic)
        return False


async def _until(condition: Callable[[], bool], what: str, deadline_s: float = 60.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


def _publish_flood(broker: SecuredBroker, shelly: dict[str, str]) -> None:
    """One message on each of ``FLOOD`` topics of the plug's own."""
    plug = broker.connect(shelly["username"], shelly["password"], tls=False)
    try:
        payload = b"0" * CHUNK
        for n in range(FLOOD):
            # Every topic the identity may write, one message each: shellies/<id>/sensor/<n>.
            plug.client.publish(f"shellies/shellyplug-s-7/sensor/t{n}", payload, qos=0)
        assert plug.publish(BARRIER, b"true")
    finally:
        plug.close()


async def test_a_plugs_flood_over_many_topics_does_not_drop_a_smoke_detectors_alarm(
    site_broker_secured: SecuredBroker,
) -> None:
    await _smoke_alarm_survives(site_broker_secured, _publish_flood)


async def _smoke_alarm_survives(
    broker: SecuredBroker, attack: Callable[[SecuredBroker, dict[str, str]], None]
) -> None:
    shelly = linli("broker", "add-shelly-gen1", str(broker.folder), "shellyplug-s-7")
    bridge = broker.init["zigbee2mqtt"]
    edge = broker.init["edge"]
    seen = _Seen()
    dropped: list[Dropped] = []
    arrivals = Arrivals(seen, lambda topic: None, dropped.append)  # type: ignore[arg-type]
    async with aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username=edge["username"],
        password=edge["password"],
        queue_type=fair_queue(arrivals),
    ) as client:
        for topic_filter in device_subscriptions():
            await client.subscribe(topic_filter, qos=1)
        # The edge is busy with a group (committing its outbox): what arrives waits.
        zigbee = broker.connect(bridge["username"], bridge["password"], tls=False)
        try:
            zigbee.publish_qos0(SMOKE_TOPIC, '{"smoke":true,"battery":90}')
        finally:
            zigbee.close()
        await _until(lambda: SMOKE_TOPIC in seen.topics, "the smoke alarm read")
        await asyncio.to_thread(attack, broker, shelly)
        await _until(lambda: BARRIER in seen.topics, "the whole flood read")
        waiting = [client._queue.get_nowait() for _ in range(client._queue.qsize())]
    topics = [m.topic.value for m in waiting]
    assert dropped, "the flood went past the queue's bounds (else this test proves nothing)"
    # The flooding identity pays for its flood; the smoke detector's alarm is still there.
    assert SMOKE_TOPIC in topics, [d.topic for d in dropped][:5]
    assert all(d.topic.startswith("shellies/shellyplug-s-7/") for d in dropped)
