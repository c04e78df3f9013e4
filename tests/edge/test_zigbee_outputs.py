"""Zigbee2MQTT's three ``advanced.output`` settings through a real agent on real Mosquitto:
``json`` (the default, tested everywhere else), ``attribute`` (each key on a topic of its own,
or the site's Zigbee alarms are never read) and ``attribute_and_json`` (both: one press must
stay one SOS)."""

from pathlib import Path

import pytest

from devices.kinds import AlertKind, AlertState
from edge.agent import EdgeAgent
from linli.brokers import MosquittoProcess
from tests.edge.conftest import (
    SITE_TOML,
    Devices,
    SettingsFactory,
    eventually,
    running_edge,
)

KITCHEN = """
[[devices]]
id = "b3-kitchen-smoke"
kind = "smoke"
location = "Building 3/Floor 12/Unit 1201"
zigbee_name = "b3/1201/kitchen smoke"
"""
SOS = "zigbee2mqtt/b3 1201 sos"
SMOKE = "zigbee2mqtt/b3/1201/kitchen smoke"
MARKER = "linli/dev/b3-co/state"


async def publish_attributes(devices: Devices, topic: str, state: dict[str, str]) -> None:
    """Publish a state as Zigbee2MQTT does with ``output: attribute``: a message per key."""
    for key, text in state.items():
        await devices.publish(f"{topic}/{key}", text)


@pytest.fixture
def kitchen(site_file: Path) -> None:
    """The test site, with a Zigbee smoke detector whose friendly name holds slashes."""
    site_file.write_text(SITE_TOML + KITCHEN)


@pytest.mark.usefixtures("kitchen")
async def test_with_attribute_output_a_zigbee_fire_and_press_are_read(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings())
    async with running_edge(mosquitto, agent) as (hub, devices):
        # A friendly name with slashes ("b3/1201/kitchen smoke") and its "smoke" attribute.
        await publish_attributes(
            devices, SMOKE, {"battery": "100", "linkquality": "120", "smoke": "true"}
        )
        await publish_attributes(devices, SOS, {"action": "emergency", "battery": "100"})
        await publish_attributes(devices, SOS, {"action": "", "battery": "100"})
        await devices.publish(MARKER, '{"co_alarm": true}')
        await eventually(lambda: len(hub.alerts) == 3, "the fire, the SOS and the marker")
        # In the order the edge forwards them (an SOS first), each once.
        assert sorted((a.kind, a.device_id, a.state) for a in hub.alerts) == [
            (AlertKind.CO, "b3-co", AlertState.RAISED),
            (AlertKind.SMOKE, "b3-kitchen-smoke", AlertState.RAISED),
            (AlertKind.SOS, "b3-sos", AlertState.RAISED),
        ]
        assert agent.counters.get("rejected.unknown_device", 0) == 0


async def test_with_attribute_and_json_output_one_press_is_one_sos(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings())
    async with running_edge(mosquitto, agent) as (hub, devices):
        # Zigbee2MQTT publishes the whole state, then each of its keys.
        await devices.publish(SOS, '{"action":"emergency","battery":100,"linkquality":18}')
        await publish_attributes(
            devices, SOS, {"action": "emergency", "battery": "100", "linkquality": "18"}
        )
        await devices.publish(SOS, '{"action":"","battery":100}')
        await publish_attributes(devices, SOS, {"action": "", "battery": "100"})
        await devices.publish(MARKER, '{"co_alarm": true}')
        await eventually(lambda: any(a.device_id == "b3-co" for a in hub.alerts), "the marker")
        assert [(a.kind, a.device_id) for a in hub.alerts] == [
            (AlertKind.SOS, "b3-sos"),
            (AlertKind.CO, "b3-co"),
        ]
        assert agent.counters["messages_ignored"] >= 5  # the attributes, not read twice
