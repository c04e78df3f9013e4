"""The hub's stage for a button, arriving while the edge's own (local) broker is down, reaches
the button when that broker is back (real Mosquitto brokers, a real agent).

``edge.ingest.ButtonFeedback`` counted such a stage as ``feedback_unsent`` and dropped it,
while the hub's QoS 1 message was already acknowledged: the button heard it only if the hub
happened to reconnect later (``resend_current``). It keeps each device's latest unshown stage
now and shows it when the local link is up again.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiomqtt
import pytest

from devices.messages import CaseFeedback, FeedbackStage
from devices.topics import EdgeChannel, edge_topic
from edge.agent import EdgeAgent
from linli.brokers import MosquittoProcess
from tests.background import running
from tests.edge.conftest import (
    EDGE_ID,
    SettingsFactory,
    eventually,
    no_jitter,
    running_edge,
)

pytestmark = pytest.mark.mosquitto

BUTTON_SET = "zigbee2mqtt/b3 1201 sos/set"


@asynccontextmanager
async def squawks_heard(broker: MosquittoProcess) -> AsyncIterator[list[object]]:
    """Listen on the Zigbee button's set topic while the block runs; yield the list of the
    commands it receives, decoded, in order."""
    squawks: list[object] = []
    async with aiomqtt.Client(broker.host, broker.port) as button:
        await button.subscribe(BUTTON_SET, qos=1)

        async def listen() -> None:
            async for message in button.messages:
                assert isinstance(message.payload, bytes)
                squawks.append(json.loads(message.payload))

        async with running(listen()):
            yield squawks


async def test_someone_is_coming_sent_while_the_local_broker_is_down_reaches_the_button_after(
    mosquitto: MosquittoProcess, hub_broker: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings(hub_mqtt_port=hub_broker.port), rng=no_jitter)
    async with running_edge(mosquitto, agent, hub_broker=hub_broker) as (hub, _devices):
        await asyncio.to_thread(mosquitto.stop)
        await eventually(lambda: not agent.local_ready, "the agent to lose its local broker")
        acknowledged = CaseFeedback(device_id="b3-sos", case_id=7, stage=FeedbackStage.ACKNOWLEDGED)
        await hub.publish(edge_topic(EDGE_ID, EdgeChannel.FEEDBACK), acknowledged.model_dump_json())
        await eventually(
            lambda: agent.counters["feedback_unsent"] >= 1, "the stage the edge could not show"
        )
        await asyncio.to_thread(mosquitto.start)
        async with squawks_heard(mosquitto) as squawks:
            await eventually(lambda: agent.local_ready, "the local broker back", deadline_s=40)
            await eventually(lambda: bool(squawks), "the stage on the button", deadline_s=10)
    assert squawks[-1] == {"squawk": {"state": "system_is_armed", "level": "high", "strobe": True}}
