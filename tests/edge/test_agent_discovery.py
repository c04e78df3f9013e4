"""An unregistered detector on the site's Zigbee network, through a real agent and Mosquitto
(``edge.discovery``): its alarm is raised and cleared, not refused; a registration takes over."""

import logging
from datetime import UTC, datetime

import pytest

from devices.discovery import discovered_id, discovered_location
from devices.kinds import AlertKind, AlertState, DeviceKind
from devices.messages import DeviceRegistry
from devices.observations import ZigbeeAddress
from devices.registry import Device
from devices.topics import EdgeChannel, edge_topic
from edge.agent import EdgeAgent
from linli.brokers import MosquittoProcess
from tests.edge.conftest import EDGE_ID, SettingsFactory, WallClock, eventually, running_edge

pytestmark = pytest.mark.mosquitto

T0 = datetime(2026, 4, 17, 12, tzinfo=UTC)

# As a Xiaomi smoke detector sends it (shared/realdata/payloads/z2m_smoke_detector.json,
# Koenkk/zigbee2mqtt#2113), under its IEEE address: nobody renamed or registered it.
NAME = "0x00158d0001d64498"
ALARM = '{"battery":100,"voltage":3195,"linkquality":57,"smoke":true,"sensitivity":"high"}'
CLEAR = '{"battery":100,"voltage":3195,"linkquality":60,"smoke":false,"sensitivity":"high"}'
BATTERY = '{"battery":97,"voltage":3190,"linkquality":54}'
"""A report of its battery alone: names no detector."""


async def test_an_unregistered_smoke_detectors_alarm_is_raised_and_cleared(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    agent = EdgeAgent(make_settings())
    caplog.set_level(logging.WARNING, logger="edge.ingest")
    async with running_edge(mosquitto, agent) as (hub, devices):
        await devices.publish_cli(f"zigbee2mqtt/{NAME}", ALARM)
        await eventually(lambda: len(hub.alerts) == 1, "the fire alarm at the hub")
        await devices.publish_cli(f"zigbee2mqtt/{NAME}", CLEAR)
        await eventually(lambda: len(hub.alerts) == 2, "the clearance at the hub")
    assert [(a.kind, a.state) for a in hub.alerts] == [
        (AlertKind.SMOKE, AlertState.RAISED),
        (AlertKind.SMOKE, AlertState.CLEARED),
    ]
    for alert in hub.alerts:
        assert (alert.edge_id, alert.device_id) == (EDGE_ID, discovered_id(EDGE_ID, NAME))
        assert alert.location == discovered_location(EDGE_ID, NAME)
    assert agent.counters["discovered_device_messages"] == 2
    assert "rejected.unknown_device" not in agent.counters
    named = [r for r in caplog.records if "unregistered smoke detector" in r.getMessage()]
    assert len(named) == 1  # once per device, not per message
    assert NAME in named[0].getMessage()
    # Remembered: supervised and in the edge's inventory from then on (the test below).
    assert discovered_id(EDGE_ID, NAME) in {d.id for d in agent.directory.devices()}


async def test_a_discovered_detector_is_in_the_inventory_and_reported_when_it_falls_silent(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    """Found from one message that names a detector, it is the edge's like any device: its
    battery reports are its own (before, refused as an unknown device), its edge's status lists
    it with its check-in deadline (the hub registers it there, for an operator to place), and
    silent past that deadline it is reported offline."""
    clock = WallClock(T0)
    agent = EdgeAgent(make_settings(heartbeat_s=0.1, detection_tick_s=0.05), clock=clock)
    found = discovered_id(EDGE_ID, NAME)
    async with running_edge(mosquitto, agent) as (hub, devices):
        await devices.publish_cli(f"zigbee2mqtt/{NAME}", CLEAR)
        await devices.publish_cli(f"zigbee2mqtt/{NAME}", BATTERY)
        await eventually(
            lambda: agent.counters.get("discovered_device_messages") == 2, "both its messages"
        )
        await eventually(
            lambda: bool(hub.statuses) and found in hub.statuses[-1].checkins, "in the inventory"
        )
        status = hub.statuses[-1]
        [listed] = [d for d in status.devices if d.id == found]
        assert (listed.kind, listed.location, listed.zigbee_name, listed.edge_id) == (
            DeviceKind.SMOKE,
            discovered_location(EDGE_ID, NAME),
            NAME,
            EDGE_ID,
        )
        assert hub.alerts == []

        clock.advance(status.checkins[found].deadline_s + 1)
        await eventually(lambda: any(a.device_id == found for a in hub.alerts), "reported offline")
    [offline] = [a for a in hub.alerts if a.device_id == found]
    assert (offline.kind, offline.state) == (AlertKind.DEVICE_OFFLINE, AlertState.RAISED)
    assert offline.location == discovered_location(EDGE_ID, NAME)
    assert "rejected.unknown_device" not in agent.counters


async def test_a_site_that_turns_discovery_off_refuses_it(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings(discover_detectors=False))
    async with running_edge(mosquitto, agent) as (hub, devices):
        await devices.publish_cli(f"zigbee2mqtt/{NAME}", ALARM)
        await eventually(lambda: agent.counters.get("rejected.unknown_device") == 1, "the refusal")
    assert hub.alerts == []


async def test_once_registered_the_detector_is_its_registration(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    """The operator registers the detector where it really is, under its friendly name: its
    next alarm is the registered device's, at its real place."""
    agent = EdgeAgent(make_settings())
    registered = Device(
        id="b5-0302-smoke",
        kind=DeviceKind.SMOKE,
        location="Building 5/Floor 3/Unit 302",
        zigbee_name=NAME,
    )
    async with running_edge(mosquitto, agent) as (hub, devices):
        await devices.publish_cli(f"zigbee2mqtt/{NAME}", ALARM)
        await eventually(lambda: len(hub.alerts) == 1, "the discovered detector's alarm")
        registry = DeviceRegistry(edge_id=EDGE_ID, devices=[registered])
        await hub.publish(
            edge_topic(EDGE_ID, EdgeChannel.DEVICES), registry.model_dump_json(), retain=True
        )
        await eventually(
            lambda: agent.directory.resolve(ZigbeeAddress(NAME)) == registered, "the registry"
        )
        await devices.publish_cli(f"zigbee2mqtt/{NAME}", ALARM)
        await eventually(lambda: len(hub.alerts) == 2, "the registered detector's alarm")
    alarm = hub.alerts[1]
    assert (alarm.kind, alarm.state) == (AlertKind.SMOKE, AlertState.RAISED)
    assert (alarm.device_id, alarm.location) == (registered.id, registered.location)


async def test_a_chatty_unregistered_device_is_counted_every_time_and_logged_once_a_minute(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A plug nobody registered, reporting every few seconds: no detector, so refused at every
    message and counted each time; its warning is not written five times."""
    agent = EdgeAgent(make_settings())
    caplog.set_level(logging.WARNING, logger="edge.ingest")
    async with running_edge(mosquitto, agent) as (hub, devices):
        for watts in range(5):
            await devices.publish(
                "zigbee2mqtt/hallway plug", f'{{"power": {watts}, "state": "ON"}}'
            )
        await eventually(
            lambda: agent.counters.get("rejected.unknown_device") == 5, "five refusals counted"
        )
    logged = [r for r in caplog.records if "zigbee2mqtt/hallway plug" in r.getMessage()]
    assert len(logged) == 1
    assert hub.alerts == []
