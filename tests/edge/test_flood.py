"""One device flooding the site broker does not hold up another device's SOS (real Mosquitto,
shipped site settings, a real agent).

Every device's messages reach the edge through one session, in the order the broker took them
in. A device that publishes far faster than the edge handles messages (a compromised one, a
broken one) used to put every later message behind all of its own: the SOS was handled only
after every flood message before it. ``edge.backlog`` hands out groups fair between topics.
"""

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.kinds import AlertKind, AlertState
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from linli.brokers import MosquittoProcess
from tests.edge.conftest import eventually, running_agent, running_hub
from tests.edge.test_session_backlog import edge_settings

pytestmark = pytest.mark.mosquitto

FLOOD = 30_000
"""Readings the flooding device publishes, at QoS 0, as fast as one paho client can."""
SOS_AFTER = 15_000
"""Flood readings published before the resident presses the SOS button."""
DEADLINE = 120.0


def flood(broker: MosquittoProcess, pressed: threading.Event) -> None:
    """Publish ``FLOOD`` leak readings from one device, and the SOS press among them."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="zigbee2mqtt")
    client.max_queued_messages_set(0)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        reading = '{"water_leak":false,"battery":90,"linkquality":120}'
        for n in range(FLOOD):
            if n == SOS_AFTER:
                client.publish("zigbee2mqtt/b3 1201 sos", '{"action":"emergency"}', qos=0)
                pressed.set()
            client.publish("zigbee2mqtt/bike leak", reading, qos=0)
            if n % 1000 == 0:
                time.sleep(0)  # let paho's network thread write
        client.publish("zigbee2mqtt/bike leak", reading, qos=1).wait_for_publish(DEADLINE)
    finally:
        client.disconnect()
        client.loop_stop()


async def test_an_sos_behind_a_flood_is_handled_before_the_flood_is(
    site_broker: MosquittoProcess, site_file: Path, tmp_path: Path
) -> None:
    agent = EdgeAgent(edge_settings(site_broker, site_file, tmp_path))
    async with running_hub(site_broker) as hub, running_agent(agent):
        pressed = threading.Event()
        publisher = threading.Thread(target=flood, args=(site_broker, pressed), daemon=True)
        publisher.start()
        handled_before_sos: list[int] = []

        def sos_at_hub() -> bool:
            if any(a.kind is AlertKind.SOS for a in hub.alerts):
                handled_before_sos.append(agent.counters.get("messages_received", 0))
                return True
            return False

        await eventually(sos_at_hub, "the SOS at the hub", deadline_s=DEADLINE)
        assert pressed.is_set()
        # In the order of arrival, the SOS would have come after SOS_AFTER flood readings.
        assert handled_before_sos[0] < SOS_AFTER, (handled_before_sos, agent.counters)
        # And the flood itself is read, all of it (none is over the backlog's bounds).
        await eventually(
            lambda: agent.counters.get("messages_received", 0) >= FLOOD + 2,
            "every flood reading handled",
            deadline_s=DEADLINE,
        )
        assert agent.counters.get("messages_dropped", 0) == 0
        publisher.join(timeout=DEADLINE)


FLOOD_SITE = """
[detection.flood]          # a flood in seconds, not minutes, for the test
messages = 20
window_s = 0.5
windows = 3
clear_after_s = 1.5
"""


@pytest.fixture
def flood_settings(site_file: Path, make_settings: Callable[..., EdgeSettings]) -> EdgeSettings:
    site_file.write_text(site_file.read_text() + FLOOD_SITE)
    return make_settings(detection_tick_s=0.2)


async def test_a_registered_device_that_floods_is_raised_and_cleared(
    mosquitto: MosquittoProcess, flood_settings: EdgeSettings
) -> None:
    """The bike basement's leak sensor (behind Zigbee2MQTT) sends 200 readings a second for
    three seconds: a ``device_flooding`` fault for it at the hub, cleared once it has been
    quiet. A made-up topic flooding as much raises nothing (no device to raise it for)."""
    agent = EdgeAgent(flood_settings)

    def publish(topics: list[str], seconds: float) -> None:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="flooder")
        client.connect(mosquitto.host, mosquitto.port)
        client.loop_start()
        try:
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                for topic in topics:
                    client.publish(topic, '{"water_leak":false,"battery":90}', qos=0)
                time.sleep(0.005)
        finally:
            client.disconnect()
            client.loop_stop()

    async with running_hub(mosquitto) as hub, running_agent(agent):
        await asyncio.to_thread(
            publish, ["zigbee2mqtt/bike leak", "zigbee2mqtt/nobody's plug"], 3.0
        )
        await eventually(
            lambda: any(a.state is AlertState.CLEARED for a in hub.alerts), "the flood cleared"
        )
    floods = [(a.device_id, a.kind, a.state) for a in hub.alerts]
    assert floods == [
        ("bike-leak", AlertKind.DEVICE_FLOODING, AlertState.RAISED),
        ("bike-leak", AlertKind.DEVICE_FLOODING, AlertState.CLEARED),
    ]
    assert hub.alerts[0].reason.values["topic"] == "zigbee2mqtt/bike leak"
    assert agent.counters.get("floods_seen", 0) >= 2
