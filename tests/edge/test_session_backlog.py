"""An edge coming back to a persistent local session that holds a backlog (real Mosquitto).

On the shipped site settings Mosquitto queues QoS 0 messages for an absent persistent session
(``queue_qos0_messages true``: Zigbee2MQTT publishes at QoS 0) and, on reconnect, writes that
whole QoS 0 backlog ahead of the SUBACK of the re-subscription; QoS 0 messages leave its queue
as they are written. An edge that waited for the SUBACK under a deadline before reading gave
the connection up, and with it every device message already delivered to it: an SOS pressed
during the outage was lost. (A QoS 1 backlog is held to ``max_inflight_messages`` until acked,
so its SUBACK comes after the first window; that case is the second test.)
"""

import asyncio
from pathlib import Path

import aiomqtt
import pytest

from devices.kinds import AlertKind, AlertState
from devices.topics import device_subscriptions
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from linli.brokers import MosquittoProcess
from tests.edge.conftest import EDGE_ID, eventually, running_agent, running_hub

pytestmark = pytest.mark.mosquitto

BACKLOG = 20000
"""Device readings queued for the edge while it is away."""
MQTT_TIMEOUT = 0.5
"""The agent's MQTT timeout here: far less than the backlog takes to arrive."""
DEADLINE = 180.0

SOS_TOPIC = "zigbee2mqtt/b3 1201 sos"
LEAK_TOPIC = "zigbee2mqtt/bike leak"


async def queue_backlog(broker: MosquittoProcess, qos: int) -> None:
    """Leave the edge's local session with an SOS press, then ``BACKLOG`` leak readings."""
    async with aiomqtt.Client(
        broker.host, broker.port, identifier=f"linli-edge-{EDGE_ID}-local", clean_session=False
    ) as edge:
        await edge.subscribe([(f, 1) for f in device_subscriptions()])
    async with aiomqtt.Client(broker.host, broker.port, identifier="zigbee2mqtt") as bridge:
        bridge.pending_calls_threshold = 200  # a hundred publishes at once is the point
        # Pressed early in the outage: first in the queue, so first to be lost with it.
        await bridge.publish(SOS_TOPIC, '{"action":"emergency","battery":90}', qos=qos)
        for _ in range(BACKLOG // 100):
            await asyncio.gather(
                *(
                    bridge.publish(LEAK_TOPIC, '{"water_leak":false,"battery":90}', qos=qos)
                    for _ in range(100)
                )
            )


def edge_settings(broker: MosquittoProcess, site_file: Path, tmp_path: Path) -> EdgeSettings:
    """Settings of an agent with both links on ``broker`` and a tiny MQTT timeout."""
    return EdgeSettings(
        site_file=site_file,
        data_dir=tmp_path / "edge-data",
        local_mqtt_port=broker.port,
        hub_mqtt_port=broker.port,
        heartbeat_s=60.0,
        resend_after_s=0.5,
        telemetry_interval_s=0.1,
        outbox_sync="normal",
        mqtt_timeout_s=MQTT_TIMEOUT,
    )


@pytest.mark.parametrize("qos", [0, 1], ids=["zigbee2mqtt-qos0", "native-qos1"])
async def test_an_edge_returning_to_a_long_backlog_reads_all_of_it_and_raises_the_sos(
    site_broker: MosquittoProcess, site_file: Path, tmp_path: Path, qos: int
) -> None:
    await queue_backlog(site_broker, qos)
    agent = EdgeAgent(edge_settings(site_broker, site_file, tmp_path))
    async with running_hub(site_broker) as hub, running_agent(agent):
        await eventually(
            lambda: agent.counters.get("messages_received", 0) >= BACKLOG + 1,
            "every queued device message to be read",
            deadline_s=DEADLINE,
        )
        await eventually(
            lambda: any(a.kind is AlertKind.SOS for a in hub.alerts),
            "the SOS pressed during the outage at the hub",
            deadline_s=DEADLINE,
        )
        # One SOS raised: copies of it (the same id, re-sent when a loaded machine's ack came
        # after ``resend_after_s``) are the wire's at-least-once, which the hub drops.
        sos = {a.id: a for a in hub.alerts if a.kind is AlertKind.SOS}
        assert [(a.device_id, a.state) for a in sos.values()] == [("b3-sos", AlertState.RAISED)]
        # The first connection served the whole backlog: none was given up on the way. (The
        # count of messages read is no check of its own: the SOS's feedback command to the
        # button comes back on the edge's own ``zigbee2mqtt/#`` subscription.)
        assert agent.counters.get("local_connects") == 1, agent.counters
