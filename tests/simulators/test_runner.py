"""run_scenario against a real Mosquitto: what the generator says is what a subscriber gets."""

import asyncio
import math
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiomqtt
import pytest

from devices.site import SiteFile
from devices.topics import device_subscriptions
from linli.brokers import MosquittoProcess
from simulators.errors import UnknownScenarioError
from simulators.runner import run_scenario
from simulators.scenarios import SCENARIOS
from simulators.sites import sample_site_path

EPOCH = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DEADLINE_S = 30.0
END_TOPIC = "linli/dev/test-marker/event"


@asynccontextmanager
async def device_subscriber(mosquitto: MosquittoProcess) -> AsyncIterator[aiomqtt.Client]:
    """Yield a client subscribed (QoS 1) to every device topic, as an edge listens."""
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as subscriber:
        for topic_filter in device_subscriptions():
            await subscriber.subscribe(topic_filter, qos=1)
        yield subscriber


async def collect(
    client: aiomqtt.Client, count: int, into: list[tuple[str, bytes]]
) -> list[tuple[str, bytes]]:
    """Append messages to ``into`` until it holds ``count`` of them."""
    async for message in client.messages:
        assert isinstance(message.payload, bytes)
        into.append((message.topic.value, message.payload))
        if len(into) >= count:
            break
    return into


@pytest.mark.mosquitto
async def test_a_fast_run_is_received_in_full_and_in_order(mosquitto: MosquittoProcess) -> None:
    site = SiteFile.load(sample_site_path())
    expected = [
        (s.topic, s.payload) for s in SCENARIOS["fire"].steps(site, random.Random(42), epoch=EPOCH)
    ]
    received: list[tuple[str, bytes]] = []

    async with device_subscriber(mosquitto) as subscriber:
        async with asyncio.timeout(DEADLINE_S):
            listening = asyncio.create_task(collect(subscriber, len(expected), received))
            await run_scenario(
                "fire",
                site,
                host=mosquitto.host,
                port=mosquitto.port,
                speed=20_000.0,  # 19 simulated minutes in about 60 ms of waiting
                rng_seed=42,
                epoch=EPOCH,
            )
            await listening

    assert received == expected


@pytest.mark.mosquitto
async def test_duration_cuts_the_run_at_a_simulated_time(mosquitto: MosquittoProcess) -> None:
    site = SiteFile.load(sample_site_path())
    steps = list(SCENARIOS["gas_leak"].steps(site, random.Random(1), epoch=EPOCH))
    expected = [(s.topic, s.payload) for s in steps if s.at <= 300.0]
    received: list[tuple[str, bytes]] = []

    async with device_subscriber(mosquitto) as subscriber:
        async with asyncio.timeout(DEADLINE_S):
            await run_scenario(
                "gas_leak",
                site,
                host=mosquitto.host,
                port=mosquitto.port,
                speed=math.inf,
                rng_seed=1,
                duration_s=300.0,
                epoch=EPOCH,
            )
            # Every step was acknowledged before run_scenario returned, so this marker is
            # queued behind all of them: whatever precedes it is all the run sent.
            async with aiomqtt.Client(mosquitto.host, mosquitto.port) as marker:
                await marker.publish(END_TOPIC, b"end", qos=1)
            async for message in subscriber.messages:
                if message.topic.matches(END_TOPIC):
                    break
                assert isinstance(message.payload, bytes)
                received.append((message.topic.value, message.payload))

    assert received == expected
    assert 0 < len(expected) < len(steps)


@pytest.mark.mosquitto
async def test_stop_ends_an_endless_demo(mosquitto: MosquittoProcess) -> None:
    site = SiteFile.load(sample_site_path())
    stop = asyncio.Event()
    received: list[tuple[str, bytes]] = []

    async with device_subscriber(mosquitto) as subscriber:
        async with asyncio.timeout(DEADLINE_S):
            demo = asyncio.create_task(
                run_scenario(
                    "demo", site, host=mosquitto.host, port=mosquitto.port, speed=600.0, stop=stop
                )
            )
            await collect(subscriber, 50, received)
            stop.set()
            await demo  # returns once stopped, though the demo itself never ends

    assert len(received) == 50


async def test_bad_arguments_are_refused_before_connecting() -> None:
    site = SiteFile.load(sample_site_path())

    with pytest.raises(UnknownScenarioError):
        await run_scenario("earthquake", site, host="127.0.0.1", port=1)
    with pytest.raises(ValueError, match="speed"):
        await run_scenario("fire", site, host="127.0.0.1", port=1, speed=0.0)
