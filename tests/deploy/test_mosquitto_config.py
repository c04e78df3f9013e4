"""deploy/mosquitto.conf against a real Mosquitto: its queue limits are what keep QoS 1 whole.

The shipped file's tuning directives are fed to a private broker (``MosquittoProcess`` writes
its own listener, persistence and logging lines, so those are left out). A persistent-session
subscriber goes away, a burst is published, it comes back: under the shipped settings it gets
every message; under Mosquitto's defaults the same burst loses messages, which shows both that
the test can fail and that the setting matters.
"""

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import aiomqtt
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.adapters import DEFAULT_MAX_PAYLOAD_BYTES
from linli.brokers import SITE_CONFIG, MosquittoProcess, site_tuning
from tests.conftest import missing

DEPLOY_CONF = SITE_CONFIG

MOSQUITTO_DEFAULT_INFLIGHT = 20  # mosquitto.conf(5), 2.0: max_inflight_messages default
BURST = 5_000
DEADLINE_S = 60.0
SENTINEL = b"end-of-burst"

BrokerFactory = Callable[[str], AbstractAsyncContextManager[MosquittoProcess]]


def shipped_directives() -> dict[str, str]:
    """Return the active directives of deploy/mosquitto.conf: name → the rest of the line."""
    directives: dict[str, str] = {}
    for line in DEPLOY_CONF.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.strip().partition(" ")
            directives.setdefault(name, value.strip())
    return directives


@pytest.fixture
def broker(tmp_path: Path) -> BrokerFactory:
    """Return a factory of private Mosquitto brokers with extra configuration lines."""
    if MosquittoProcess.executable() is None:
        missing("mosquitto")

    @asynccontextmanager
    async def start(config_extra: str) -> AsyncIterator[MosquittoProcess]:
        process = MosquittoProcess(tmp_path / uuid.uuid4().hex[:8], config_extra=config_extra)
        process.start()
        try:
            yield process
        finally:
            process.stop()

    return start


async def burst_to_an_absent_subscriber(broker: MosquittoProcess, count: int, inflight: int) -> int:
    """Publish ``count`` QoS 1 messages while a persistent subscriber is away; return how
    many distinct ones it receives when it comes back.

    No waiting on a clock decides the end: once more than ``inflight`` messages have arrived
    the broker has had an acknowledgement, so its queue has room again and a sentinel
    published then is queued behind everything that survived; Mosquitto delivers a client's
    queue in order, so the sentinel's arrival means the queue is drained.
    """
    topic = f"linli/test/burst/{uuid.uuid4().hex}"
    subscriber_id = f"linli-test-sub-{uuid.uuid4().hex[:8]}"
    host, port = broker.host, broker.port
    async with aiomqtt.Client(host, port, identifier=subscriber_id, clean_session=False) as sub:
        await sub.subscribe(topic, qos=1)
    async with aiomqtt.Client(host, port) as publisher:
        for i in range(count):
            await publisher.publish(topic, str(i).encode(), qos=1)

    received: set[bytes] = set()
    sentinel_sent = False
    async with (
        asyncio.timeout(DEADLINE_S),
        aiomqtt.Client(host, port, identifier=subscriber_id, clean_session=False) as sub,
        aiomqtt.Client(host, port) as publisher,
    ):
        async for message in sub.messages:
            assert isinstance(message.payload, bytes)
            if message.payload == SENTINEL:
                break
            received.add(message.payload)
            if not sentinel_sent and (len(received) > inflight or len(received) == count):
                await publisher.publish(topic, SENTINEL, qos=1)
                sentinel_sent = True
    return len(received)


def test_the_shipped_file_sets_explicit_generous_limits() -> None:
    conf = shipped_directives()

    assert conf["persistence"] == "true"
    assert int(conf["max_queued_messages"]) >= 20 * BURST  # explicit: 0 is not "unlimited"
    assert int(conf["max_queued_bytes"]) >= 16 * 1024 * 1024
    assert int(conf["max_inflight_messages"]) > MOSQUITTO_DEFAULT_INFLIGHT
    assert conf["persistent_client_expiration"] == "7d"
    assert int(conf["autosave_interval"]) <= 300
    assert int(conf["max_packet_size"]) >= 8 * DEFAULT_MAX_PAYLOAD_BYTES
    assert "message_size_limit" not in conf  # it would drop oversized messages silently
    assert "max_queued_messages" in site_tuning()


@pytest.mark.mosquitto
async def test_a_returning_persistent_subscriber_gets_the_whole_burst(
    broker: BrokerFactory,
) -> None:
    inflight = int(shipped_directives()["max_inflight_messages"])

    async with broker(site_tuning()) as mosquitto:
        delivered = await burst_to_an_absent_subscriber(mosquitto, BURST, inflight)

    assert delivered == BURST


@pytest.mark.mosquitto
async def test_mosquittos_defaults_lose_part_of_the_same_burst(broker: BrokerFactory) -> None:
    async with broker("") as mosquitto:
        delivered = await burst_to_an_absent_subscriber(
            mosquitto, BURST, MOSQUITTO_DEFAULT_INFLIGHT
        )

    assert 0 < delivered < BURST


@pytest.mark.mosquitto
async def test_packets_over_the_limit_disconnect_and_big_device_payloads_pass(
    broker: BrokerFactory,
) -> None:
    limit = int(shipped_directives()["max_packet_size"])
    topic = f"linli/test/size/{uuid.uuid4().hex}"
    big_but_allowed = b"x" * (2 * DEFAULT_MAX_PAYLOAD_BYTES)  # the edge's limit, not the broker's

    async with (
        broker(site_tuning()) as mosquitto,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as sub,
    ):
        await sub.subscribe(topic, qos=1)
        disconnected = threading.Event()
        oversized = paho.Client(CallbackAPIVersion.VERSION2)
        oversized.on_disconnect = lambda *_: disconnected.set()
        oversized.connect(mosquitto.host, mosquitto.port)
        oversized.loop_start()
        try:
            oversized.publish(topic, b"x" * (limit + 1), qos=0)
            assert await asyncio.to_thread(disconnected.wait, DEADLINE_S)
        finally:
            oversized.loop_stop()
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as publisher:
            await publisher.publish(topic, big_but_allowed, qos=1)
        async with asyncio.timeout(DEADLINE_S):
            first = await anext(sub.messages)

    assert first.payload == big_but_allowed  # the oversized one never came through
