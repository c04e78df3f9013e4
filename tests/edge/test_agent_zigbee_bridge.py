"""Zigbee2MQTT's bridge going offline, through a real ``EdgeAgent`` on a real Mosquitto.

The agent's wall clock is a ``WallClock`` the test moves, running its time-driven detection
after each step: hours of a site pass in a second. Zigbee2MQTT is played by publishing what it
publishes on ``zigbee2mqtt/bridge/state``, retained, in both its forms.
"""

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import Alert
from devices.zigbee_network import bridge_id
from edge.agent import EdgeAgent
from linli.brokers import MosquittoProcess
from tests.edge.conftest import (
    EDGE_ID,
    Devices,
    FakeHub,
    SettingsFactory,
    WallClock,
    eventually,
    running_edge,
)

pytestmark = pytest.mark.mosquitto

T0 = datetime(2026, 4, 17, 12, tzinfo=UTC)
HOUR_S = 3600.0
BRIDGE = bridge_id(EDGE_ID)
STATE_TOPIC = "zigbee2mqtt/bridge/state"


def offline_alerts(hub: FakeHub) -> list[tuple[str, AlertState]]:
    """Devices' ``device_offline`` and bridges' ``bridge_offline``."""
    kinds = (AlertKind.DEVICE_OFFLINE, AlertKind.BRIDGE_OFFLINE)
    return [(a.device_id, a.state) for a in hub.alerts if a.kind in kinds]


def bridge_alerts(hub: FakeHub) -> list[Alert]:
    return [a for a in hub.alerts if a.device_id == BRIDGE]


def said(agent: EdgeAgent, offline: bool) -> bool:
    state = agent.detection.states.get(BRIDGE)
    return state is not None and (state.offline_since is not None) is offline


async def test_a_bridge_offline_is_one_alert_and_its_devices_wait_for_its_return(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    clock = WallClock(T0)
    # The agent's own tick never comes in this test's real time: the test runs it. Its status
    # (its inventory) every 0.2 s, not 30.
    agent = EdgeAgent(make_settings(detection_tick_s=3600.0, heartbeat_s=0.2), clock=clock)
    async with running_edge(mosquitto, agent) as (hub, devices):
        await devices.publish(STATE_TOPIC, '{"state":"online"}', retain=True)
        await eventually(lambda: said(agent, offline=False), "the bridge heard online")
        # Unplugged: Zigbee2MQTT's last will (its plain form, before 1.33).
        clock.advance(600)
        await devices.publish(STATE_TOPIC, "offline", retain=True)
        await eventually(lambda: said(agent, offline=True), "the bridge heard offline")
        clock.advance(59)
        await agent.detect_tick()
        clock.advance(1)
        await agent.detect_tick()
        await eventually(lambda: bool(bridge_alerts(hub)), "the bridge's alert")
        [alert] = bridge_alerts(hub)
        assert (alert.kind, alert.state, alert.severity) == (
            AlertKind.BRIDGE_OFFLINE,
            AlertState.RAISED,
            Severity.HIGH,
        )
        # The hub knows the device the alert is about: the inventory lists it.
        await eventually(
            lambda: any(
                d.id == BRIDGE and d.kind is DeviceKind.ZIGBEE_BRIDGE
                for d in hub.statuses[-1].devices
            ),
            "the bridge in the edge's inventory",
        )
        # Hours pass: the Zigbee devices behind it (an SOS button, a leak sensor) say
        # nothing, as the bridge said; the native smoke and CO detectors' deadlines stand.
        for _ in range(7):
            clock.advance(HOUR_S)
            await agent.detect_tick()
        await eventually(lambda: agent.outbox.depth() == 0, "every alert delivered")
        assert sorted(offline_alerts(hub)) == [
            ("b3-co", AlertState.RAISED),
            ("b3-smoke", AlertState.RAISED),
            (BRIDGE, AlertState.RAISED),
        ]
        # Back: its alert clears, and its devices have their deadlines from now.
        await devices.publish(STATE_TOPIC, '{"state":"online"}', retain=True)
        await eventually(lambda: len(bridge_alerts(hub)) == 2, "the bridge's clearance")
        assert bridge_alerts(hub)[1].state is AlertState.CLEARED
        clock.advance(2 * HOUR_S - 1)
        await agent.detect_tick()
        clock.advance(1)
        await agent.detect_tick()
        await eventually(
            lambda: ("b3-sos", AlertState.RAISED) in offline_alerts(hub),
            "the silent SOS button's own alert, 2 h after the bridge's return",
        )
        assert ("bike-leak", AlertState.RAISED) not in offline_alerts(hub)  # 6 h


async def test_a_bridge_back_within_the_grace_is_nothing_and_bad_states_are_refused(
    mosquitto: MosquittoProcess,
    make_settings: SettingsFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = WallClock(T0)
    agent = EdgeAgent(make_settings(detection_tick_s=3600.0), clock=clock)
    async with running_edge(mosquitto, agent) as (hub, devices):
        await devices.publish(STATE_TOPIC, '{"state":"offline"}', retain=True)
        await eventually(lambda: said(agent, offline=True), "the bridge heard offline")
        clock.advance(20)  # Zigbee2MQTT restarting for an update
        await agent.detect_tick()
        await devices.publish(STATE_TOPIC, '{"state":"online"}', retain=True)
        await eventually(lambda: said(agent, offline=False), "the bridge back")
        with caplog.at_level(logging.WARNING, logger="edge.ingest"):
            await devices.publish(STATE_TOPIC, '{"state":"maybe"}')
            await eventually(
                lambda: agent.counters["rejected.malformed"] == 1, "the bad state counted"
            )
        assert STATE_TOPIC in caplog.text
        assert said(agent, offline=False)
        clock.advance(HOUR_S)
        await agent.detect_tick()
        assert bridge_alerts(hub) == []


async def test_a_retained_offline_at_start_counts_and_a_restart_does_not_repeat_it(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    clock = WallClock(T0)
    settings = make_settings(detection_tick_s=3600.0)
    # Zigbee2MQTT died while no edge ran: its last will stands, retained.
    await Devices(mosquitto).publish(STATE_TOPIC, '{"state":"offline"}', retain=True)
    agent = EdgeAgent(settings, clock=clock)
    async with running_edge(mosquitto, agent) as (hub, _):
        await eventually(lambda: said(agent, offline=True), "the retained offline read")
        clock.advance(30)
        await agent.detect_tick()
        assert bridge_alerts(hub) == []
        clock.advance(30)
        await agent.detect_tick()
        await eventually(lambda: len(bridge_alerts(hub)) == 1, "the bridge's alert")
        await eventually(lambda: agent.outbox.depth() == 0, "the alert acknowledged")
    # Restarted on the same data, the retained offline read again: still the one alert.
    clock.advance(HOUR_S)
    again = EdgeAgent(settings, clock=clock)
    assert again.directory.bridge(BRIDGE) is not None  # listed before it is heard again
    async with running_edge(mosquitto, again) as (hub, _):
        await eventually(lambda: said(again, offline=True), "the bridge still offline")
        for _ in range(3):
            clock.advance(HOUR_S)
            await again.detect_tick()
        assert bridge_alerts(hub) == []
        await eventually(lambda: bool(hub.statuses), "the status of its connect")
        assert [d.id for d in hub.statuses[-1].devices].count(BRIDGE) == 1


TASMOTA_SITE = f"""
[site]
name = "Tasmota Courtyard"
edge_id = "{EDGE_ID}"

[[devices]]
id = "hall-smoke"
kind = "smoke"
location = "Building 1/Floor 1/Hall"
tasmota_topic = "zbbridge/0x8F20"            # behind a Sonoff ZBBridge

[[devices]]
id = "b3-sos"
kind = "sos_button"
location = "Building 3/Floor 12/Unit 1201"
zigbee_name = "b3 1201 sos"                  # behind Zigbee2MQTT, never heard here

[[devices]]
id = "kitchen-th"
kind = "heat"
location = "Building 1/Floor 1/Kitchen"
tasmota_topic = "sonoff-th"                  # a Tasmota device of its own
"""


@pytest.fixture
def tasmota_site(site_file: Path, make_settings: SettingsFactory) -> SettingsFactory:
    site_file.write_text(TASMOTA_SITE)
    return make_settings


async def test_a_tasmota_zigbee_bridges_lwt_is_one_alert_for_the_devices_behind_it(
    mosquitto: MosquittoProcess, tasmota_site: SettingsFactory
) -> None:
    tasmota = bridge_id(EDGE_ID, "zbbridge")
    clock = WallClock(T0)
    agent = EdgeAgent(tasmota_site(detection_tick_s=3600.0), clock=clock)
    async with running_edge(mosquitto, agent) as (hub, devices):
        await devices.publish("tele/zbbridge/LWT", "Online", retain=True)
        await eventually(lambda: tasmota in agent.detection.states, "the bridge heard")
        clock.advance(60)
        await devices.publish("tele/zbbridge/LWT", "Offline", retain=True)
        await eventually(
            lambda: agent.detection.states[tasmota].offline_since is not None,
            "the bridge heard offline",
        )
        for seconds in (60, HOUR_S, HOUR_S, HOUR_S):  # the grace, then hours
            clock.advance(seconds)
            await agent.detect_tick()
        expected = [
            ("b3-sos", AlertState.RAISED),  # Zigbee2MQTT's devices: judged as ever
            (tasmota, AlertState.RAISED),
            ("kitchen-th", AlertState.RAISED),
        ]

        def distinct() -> list[tuple[str, AlertState]]:
            # By alert id: a copy re-sent before its ack (a loaded machine) is the same alert.
            kinds = (AlertKind.DEVICE_OFFLINE, AlertKind.BRIDGE_OFFLINE)
            return sorted(
                {a.id: (a.device_id, a.state) for a in hub.alerts if a.kind in kinds}.values()
            )

        await eventually(
            lambda: agent.outbox.depth() == 0 and distinct() == expected, "every alert delivered"
        )
        [alert] = {a.id: a for a in hub.alerts if a.device_id == tasmota}.values()
        assert (alert.severity, alert.location) == (
            Severity.HIGH,
            "Zigbee network of edge edge-test/Tasmota zbbridge",
        )
        # A plain Tasmota device's LWT is still its own: offline at once.
        await devices.publish("tele/sonoff-th/LWT", "Online", retain=True)
        await devices.publish("tele/zbbridge/LWT", "Online", retain=True)
        await eventually(
            lambda: (tasmota, AlertState.CLEARED) in offline_alerts(hub), "the bridge back"
        )
        assert ("kitchen-th", AlertState.CLEARED) in offline_alerts(hub)
