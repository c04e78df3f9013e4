"""An alert sent by the commit that stores it, while the forwarder waits (``edge.handoff``).

Component tests drive ``DeviceIngest.on_device_messages`` on a real SQLite outbox, with the
forwarder's offer made by hand and a sender that records what it is given (the network is not
what they test). The last two run the agent against a real Mosquitto and a fake hub.
"""

import asyncio
import json
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import aiomqtt
import pytest

from devices.kinds import AlertKind, AlertState
from edge.agent import EdgeAgent
from edge.handoff import Taking
from edge.outbox import OutgoingAlert
from linli.brokers import MosquittoProcess
from tests.edge.conftest import (
    Devices,
    ManualClock,
    SettingsFactory,
    eventually,
    running_agent,
    running_edge,
    running_hub,
)

SOS_TOPIC = "zigbee2mqtt/b3 1201 sos"
SMOKE_TOPIC = "linli/dev/b3-smoke/state"
T0 = datetime(2026, 12, 4, 3, tzinfo=UTC)


class Sender:
    """Records each batch a commit sends; ``connected`` False plays a connection gone."""

    def __init__(self, *, connected: bool = True) -> None:
        self.connected = connected
        self.batches: list[list[str]] = []

    def __call__(self, batch: Sequence[OutgoingAlert]) -> bool:
        if not self.connected:
            return False
        self.batches.append([a.id for a in batch])
        return True


def smoke(i: int) -> tuple[str, str]:
    """Reading ``i`` of the smoke detector: smoke when even, clear air when odd."""
    return SMOKE_TOPIC, json.dumps(
        {"smoke": i % 2 == 0, "ts": (T0 + timedelta(seconds=i)).isoformat()}
    )


def as_received(messages: list[tuple[str, str]]) -> list[aiomqtt.Message]:
    return [
        aiomqtt.Message(topic, payload.encode(), 1, False, mid, None)
        for mid, (topic, payload) in enumerate(messages, start=1)
    ]


@pytest.fixture
def agent(make_settings: SettingsFactory) -> Iterator[EdgeAgent]:
    """An agent not started: the test drives its ingest and plays its forwarder."""
    agent = EdgeAgent(make_settings(max_in_flight=10))
    yield agent
    agent.outbox.close()


def offer(agent: EdgeAgent, sender: Sender, *, limit: int = 10) -> None:
    agent.detection.handoff.offer(Taking(lambda: 1.0, limit, sender))


async def test_a_commit_while_the_forwarder_waits_sends_its_alerts_in_order(
    agent: EdgeAgent,
) -> None:
    sender = Sender()
    offer(agent, sender)
    await agent.ingest.on_device_messages(as_received([smoke(0), smoke(1)]))
    assert agent.counters["alerts_created"] == 2
    stored = [a.id for a in agent.outbox.due(now=100.0, limit=10)]  # due again only when stale
    assert sender.batches == [stored]
    assert agent.outbox.in_flight() == 2
    assert agent.outbox.due(now=1.0, limit=10) == []  # on the wire: not due again yet
    assert not agent.detection._wake.is_set()  # nothing left for the forwarder


async def test_without_an_offer_the_commit_leaves_its_alerts_to_the_forwarder(
    agent: EdgeAgent,
) -> None:
    await agent.ingest.on_device_messages(as_received([smoke(0)]))
    assert agent.outbox.in_flight() == 0
    assert len(agent.outbox.due(now=1.0, limit=10)) == 1
    assert agent.detection._wake.is_set()


async def test_alerts_taken_for_a_connection_gone_are_due_again_at_once(
    agent: EdgeAgent,
) -> None:
    offer(agent, Sender(connected=False))
    await agent.ingest.on_device_messages(as_received([smoke(0)]))
    assert agent.outbox.in_flight() == 0
    assert len(agent.outbox.due(now=1.0, limit=10)) == 1  # not after resend_after_s
    assert agent.detection._wake.is_set()
    assert agent.detection.states["b3-smoke"].to_json() != "{}"  # the commit still counts


async def test_a_commit_takes_no_more_than_the_window_has_room_for(agent: EdgeAgent) -> None:
    sender = Sender()
    offer(agent, sender, limit=1)
    await agent.ingest.on_device_messages(as_received([smoke(0), smoke(1)]))
    assert [len(batch) for batch in sender.batches] == [1]
    assert agent.outbox.in_flight() == 1
    # The other waits for an ack to make room; the ack wakes the forwarder.
    assert agent.outbox.due(now=1.0, limit=10) != []


async def test_a_commit_with_no_alert_takes_nothing(agent: EdgeAgent) -> None:
    sender = Sender()
    offer(agent, sender)
    await agent.ingest.on_device_messages(as_received([smoke(1)]))  # clear air, no alarm before
    assert sender.batches == []
    assert "alerts_created" not in agent.counters


@pytest.mark.mosquitto
async def test_an_alert_alone_goes_to_the_hub_with_its_commit(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings(resend_after_s=5.0), monotonic=ManualClock())
    async with running_hub(mosquitto) as hub, running_agent(agent):
        await eventually(lambda: agent.detection.handoff.taking() is not None, "the offer")
        await Devices(mosquitto).publish(SOS_TOPIC, '{"action": "emergency"}')
        await eventually(lambda: len(hub.alerts) == 1, "the SOS at the hub")
        assert hub.alerts[0].kind is AlertKind.SOS
        assert agent.counters["alerts_sent_at_commit"] == 1
        assert agent.counters["alerts_sent"] == 1


@pytest.mark.mosquitto
async def test_a_forwarder_woken_during_the_commit_sends_nothing_twice_and_out_of_order(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    # resend_after_s 0.2: the forwarder wakes every 0.05 s and takes again; the clock never
    # moves, so no resend is ever due and any second copy would be this path's.
    agent = EdgeAgent(make_settings(resend_after_s=0.2), monotonic=ManualClock())
    async with running_edge(mosquitto, agent) as (hub, devices):
        await eventually(lambda: agent.detection.handoff.taking() is not None, "the offer")
        # Hold the outbox's thread: the commit's take queues behind, and the forwarder's
        # own takes (it wakes meanwhile) queue behind that.
        gate = threading.Event()
        held = asyncio.ensure_future(agent.detection.db.call(gate.wait, 10.0))
        await devices.publish(SMOKE_TOPIC, smoke(0)[1])
        await eventually(lambda: agent.counters["messages_received"] == 1, "the message in")
        await asyncio.sleep(0.2)  # several of the forwarder's ticks
        gate.set()
        await held
        for i in (1, 2, 3):
            await devices.publish(SMOKE_TOPIC, smoke(i)[1])
        await eventually(lambda: len(hub.alerts) == 4, "four alerts at the hub")
        await asyncio.sleep(0.2)
        assert [a.state for a in hub.alerts] == [AlertState.RAISED, AlertState.CLEARED] * 2
        assert len({a.id for a in hub.alerts}) == len(hub.alerts) == 4
        assert [a.ts for a in hub.alerts] == sorted(a.ts for a in hub.alerts)
        assert agent.counters["alerts_sent"] == 4
