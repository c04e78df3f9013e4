"""What a Raspberry Pi's SD card is written per message, through a real ``EdgeAgent`` on a real
Mosquitto.

Found by a field review (2026-12-07): anyone on the courtyard's network can publish on the
site broker. Rejected messages were logged once a minute per topic, but per topic only: a
sender on thousands of topics of its own (an unregistered device id or a reader id each time)
got one warning line per message, as many lines as messages, on the SD card. Each is counted;
the log keeps a bounded number of lines a minute per reason and says how many it left out.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import aiomqtt
import pytest

from edge.agent import EdgeAgent
from linli.brokers import MosquittoProcess
from tests.edge.conftest import ManualClock, SettingsFactory, WallClock, eventually, running_edge

pytestmark = pytest.mark.mosquitto

T0 = datetime(2026, 5, 4, 22, tzinfo=UTC)
TOPICS = 300
MAX_LINES = 60
"""Lines the log may take for all of them in one minute: a few per reason, not one per topic."""


def rejection_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name.startswith("edge.") and r.levelno >= logging.WARNING and "rejected" in r.message
    ]


def counted_to(agent: EdgeAgent, n: int) -> Callable[[], bool]:
    return lambda: agent.counters["rejected.unknown_device"] == n


async def test_a_sender_on_thousands_of_topics_writes_a_bounded_log(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    wall, steady = WallClock(T0), ManualClock()
    agent = EdgeAgent(make_settings(), clock=wall, monotonic=steady)
    async with running_edge(mosquitto, agent) as (_, devices):
        async with aiomqtt.Client(devices.broker.host, devices.broker.port) as client:
            for i in range(TOPICS):
                await client.publish(f"linli/dev/rogue-{i}/state", '{"smoke": false}', qos=1)
                await client.publish(f"linli/dev/reader-{i}/credential", "{}", qos=1)

        def counted() -> int:
            return (
                agent.counters["rejected.unknown_device"]
                + agent.counters["access.rejected.unknown_reader"]
            )

        await eventually(lambda: counted() == 2 * TOPICS, "every message counted")
        within_a_minute = len(rejection_lines(caplog))

        wall.advance(61.0)  # a minute later, the next rogue message says what was left out
        steady.advance(61.0)
        await devices.publish("linli/dev/rogue-next/state", '{"smoke": false}')
        await devices.publish("linli/dev/reader-next/credential", "{}")
        await eventually(lambda: counted() == 2 * TOPICS + 2, "the next two counted")
    assert within_a_minute <= MAX_LINES
    last = rejection_lines(caplog)[-2:]
    assert {r.message.split(" ")[1] for r in last} == {"unknown_device", "unknown_reader"}
    assert all("more like it on other topics" in r.message for r in last)


async def test_a_clock_set_back_does_not_silence_the_rejection_log_for_the_step(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The once-a-minute throttle ran on the wall clock: set back two days by NTP, a device
    rejected every minute was not logged again for two days."""
    caplog.set_level(logging.INFO)
    wall, steady = WallClock(T0), ManualClock()
    agent = EdgeAgent(make_settings(), clock=wall, monotonic=steady)
    async with running_edge(mosquitto, agent) as (_, devices):
        for rejections in (1, 2):
            await devices.publish("linli/dev/unpaired-plug/state", '{"smoke": false}')
            await eventually(counted_to(agent, rejections), "the rejection counted")
            wall.advance(-2 * 86400.0 + 120.0)  # NTP corrects a wrong saved time
            steady.advance(120.0)
    lines = [r for r in rejection_lines(caplog) if "unpaired-plug" in r.message]
    assert len(lines) == 2
