"""The edge agent against real Mosquitto brokers: the test plays the devices and the hub.

The agent runs in-process as an asyncio task, as in the demo. Every wait is a deadline on a
condition; where a resend must or must not happen, the agent's monotonic clock is a
``ManualClock`` the test moves, so no assertion depends on how fast the machine is.
"""

import asyncio
import sqlite3
from collections import Counter
from contextlib import closing
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import DeviceRegistry, HubStatus
from devices.observations import ZigbeeAddress
from devices.registry import Device
from devices.topics import HUB_STATUS_TOPIC, EdgeChannel, edge_topic
from edge.agent import EdgeAgent
from edge.outbox import FILE_NAME
from linli.brokers import MosquittoProcess
from tests.edge.conftest import (
    EDGE_ID,
    Devices,
    ManualClock,
    SettingsFactory,
    WallClock,
    eventually,
    no_jitter,
    running_agent,
    running_edge,
    running_hub,
    telemetry_of,
)

pytestmark = pytest.mark.mosquitto

SOS_TOPIC = "zigbee2mqtt/b3 1201 sos"
SMOKE_STATE = "linli/dev/b3-smoke/state"
CO_STATE = "linli/dev/b3-co/state"

T0 = datetime(2026, 4, 17, 12, tzinfo=UTC)


def co_exposure(ppm: float, minutes: int, start: datetime) -> list[str]:
    """A CO sensor's readings, one a minute from ``start``: 400 ppm alarms at minute 8
    (UL 2034's dose)."""
    return [
        f'{{"co_ppm": {ppm}, "ts": "{(start + timedelta(minutes=m)).isoformat()}"}}'
        for m in range(minutes + 1)
    ]


def minutes_ago(minutes: int) -> datetime:
    """Return a device time that many minutes before the agent's (real) clock: readings
    taken then and delivered now, as a backlog is (a device's time is bounded by the
    edge's clock, ``devices.observations.observed_at``)."""
    return (datetime.now(UTC) - timedelta(minutes=minutes)).replace(microsecond=0)


# The records of shared/realdata/payloads/*.json whose ``payload`` is null (not valid JSON),
# byte for byte: Tasmota's docs print these Zigbee readings with a closing brace missing
# (tasmota/docs docs/Zigbee.md, commit 9849ab94), its LWT and Zigbee2MQTT's old bridge state
# are plain text.
REALDATA_INVALID_JSON = [
    '{"ZbReceived": {"0x8F20": {"Name": "Kitchen", "Voltage": 2.995, "Battery": 98, '
    '"Temperature": 21.01, "Humidity": 53.68, "Pressure": 1004.04, "PressureUnit": "hPa", '
    '"Endpoint": 1, "LinkQuality": 88}}',
    '{"ZbReceived": {"Kitchen": {"Device": "0x8F20", "Voltage": 2.995, "Battery": 98, '
    '"Temperature": 21.01, "Humidity": 53.68, "Pressure": 1004.04, "PressureUnit": "hPa", '
    '"Endpoint": 1, "LinkQuality": 88}}',
    "Online",
    "Offline",
    "online",
    "offline",
]


async def test_a_reading_becomes_an_alert_at_the_hub(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings())
    stamped = minutes_ago(1)
    async with running_hub(mosquitto) as hub, running_agent(agent):
        await Devices(mosquitto).publish(
            SMOKE_STATE, f'{{"smoke": true, "ts": "{stamped.isoformat()}"}}'
        )
        await eventually(lambda: len(hub.alerts) == 1, "the smoke alert at the hub")
        alert = hub.alerts[0]
        assert (alert.kind, alert.state, alert.severity) == (
            AlertKind.SMOKE,
            AlertState.RAISED,
            Severity.CRITICAL,
        )
        assert (alert.edge_id, alert.device_id) == (EDGE_ID, "b3-smoke")
        assert alert.location == "Building 3/Floor 12/Unit 1201"
        assert alert.ts == stamped
        assert alert.reason.rule == "smoke=true"
        await eventually(lambda: agent.outbox.depth() == 0, "the acknowledged alert to be deleted")
        assert agent.counters["alerts_created"] == 1

        online = [s for s in hub.statuses if s.state == "online"]
        assert online, "the agent announces itself (retained) when it connects"
        assert {d.id for d in online[0].devices} == {"b3-smoke", "b3-co", "b3-sos", "bike-leak"}
        assert {d.edge_id for d in online[0].devices} == {EDGE_ID}


async def test_zigbee_sos_from_mosquitto_pub_is_exactly_one_alert(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    async with running_edge(mosquitto, EdgeAgent(make_settings())) as (hub, devices):
        # As the button really sends it: the action, then the same state with action null/"".
        # Its battery is low as well: one message, two alerts, and the SOS leads.
        await devices.publish_cli(SOS_TOPIC, '{"action":"emergency","battery":5,"linkquality":18}')
        await devices.publish_cli(SOS_TOPIC, '{"action":null,"battery":5,"linkquality":14}')
        await devices.publish_cli(SOS_TOPIC, '{"action":"","battery":5}')
        await devices.publish_cli(SMOKE_STATE, '{"smoke": true}')  # a marker behind them
        await eventually(lambda: len(hub.alerts) == 3, "the SOS and the marker at the hub")
        assert [(a.kind, a.device_id) for a in hub.alerts] == [
            (AlertKind.SOS, "b3-sos"),
            (AlertKind.BATTERY_LOW, "b3-sos"),
            (AlertKind.SMOKE, "b3-smoke"),
        ]


async def test_an_unacknowledged_alert_is_sent_again_and_an_acknowledged_one_is_not(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    clock = ManualClock()
    agent = EdgeAgent(make_settings(resend_after_s=5.0), monotonic=clock)
    async with running_edge(mosquitto, agent, auto_ack=False) as (hub, devices):
        await devices.publish(SMOKE_STATE, '{"smoke": true}')
        await eventually(lambda: len(hub.alerts) == 1, "the first copy")
        first = hub.alerts[0]

        clock.advance(5.0)
        await eventually(lambda: hub.received(first.id) == 2, "the alert to be sent again")
        assert agent.outbox.depth() == 1

        await hub.ack([first.id])
        await eventually(lambda: agent.outbox.depth() == 0, "the ack to delete the alert")
        clock.advance(60.0)
        await devices.publish("zigbee2mqtt/bike leak", '{"water_leak": true}')
        await eventually(
            lambda: any(a.kind is AlertKind.WATER_LEAK for a in hub.alerts),
            "a later alert, sent after the clock passed every resend deadline",
        )
        assert hub.received(first.id) == 2


async def test_hub_coming_back_online_gets_everything_in_flight_at_once(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    clock = ManualClock()  # never moves: no resend can be due to resend_after_s
    agent = EdgeAgent(make_settings(resend_after_s=5.0), monotonic=clock)
    start = minutes_ago(9)
    async with running_hub(mosquitto, auto_ack=False) as hub, running_agent(agent):
        for payload in co_exposure(400, 8, start):
            await Devices(mosquitto).publish(CO_STATE, payload)
        await eventually(lambda: len(hub.alerts) == 1, "the first copy")
        assert hub.alerts[0].ts == start + timedelta(minutes=8)
        first = hub.alerts[0]
        await hub.publish(
            HUB_STATUS_TOPIC, HubStatus(state="offline").model_dump_json(), retain=True
        )
        await hub.publish(
            HUB_STATUS_TOPIC, HubStatus(state="online").model_dump_json(), retain=True
        )
        await eventually(lambda: hub.received(first.id) == 2, "the resend when the hub is back")


async def test_at_most_max_in_flight_alerts_are_unacknowledged_on_the_wire(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    clock = ManualClock()
    agent = EdgeAgent(make_settings(max_in_flight=3, resend_after_s=5.0), monotonic=clock)
    async with running_hub(mosquitto, auto_ack=False) as hub, running_agent(agent):
        for _ in range(6):
            await Devices(mosquitto).publish(SOS_TOPIC, '{"action": "emergency"}')
        await eventually(lambda: agent.outbox.depth() == 6, "six SOS alerts stored")
        await eventually(lambda: len(hub.alerts) == 3, "a full window at the hub")
        assert agent.outbox.in_flight() == 3
        await hub.ack([hub.alerts[0].id])
        await eventually(lambda: len(hub.alerts) == 4, "one more alert for the one acknowledged")
        assert agent.outbox.in_flight() == 3
        assert len({a.id for a in hub.alerts}) == 4


async def test_alerts_made_while_the_uplink_is_down_arrive_afterwards_life_safety_first(
    tmp_path: Path, mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    hub_broker = MosquittoProcess(tmp_path / "hubmq")
    hub_broker.start()
    try:
        agent = EdgeAgent(
            make_settings(hub_mqtt_port=hub_broker.port, resend_after_s=60.0), rng=no_jitter
        )
        async with running_edge(mosquitto, agent, hub_broker=hub_broker) as (hub, devices):
            await asyncio.to_thread(hub_broker.stop)
            await eventually(lambda: not agent.uplink_ready, "the agent to notice the hub is gone")

            await devices.publish("zigbee2mqtt/bike leak", '{"battery": 5}')
            await devices.publish(SMOKE_STATE, '{"battery_pct": 3}')
            await devices.publish(SMOKE_STATE, '{"smoke": true}')
            await devices.publish_cli(SOS_TOPIC, '{"action": "emergency"}')
            await eventually(lambda: agent.outbox.depth() == 4, "four alerts kept in the outbox")
            assert hub.alerts == []

            await asyncio.to_thread(hub_broker.start)
            await eventually(
                lambda: len(hub.alerts) >= 4, "the alerts after the outage", deadline_s=40
            )
            assert [(a.device_id, a.kind) for a in hub.alerts] == [
                ("b3-sos", AlertKind.SOS),
                ("b3-smoke", AlertKind.BATTERY_LOW),  # smoke-1's own order is kept …
                ("b3-smoke", AlertKind.SMOKE),  # … and its smoke takes it ahead of the leak
                ("bike-leak", AlertKind.BATTERY_LOW),
            ]
            await eventually(lambda: agent.outbox.depth() == 0, "the acks to empty the outbox")
    finally:
        hub_broker.stop()


async def test_readings_sent_while_the_agent_is_down_are_handled_on_restart_without_repeats(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    settings = make_settings()
    devices = Devices(mosquitto)
    async with running_hub(mosquitto) as hub:
        async with running_agent(EdgeAgent(settings)) as agent:
            await devices.publish(SMOKE_STATE, '{"smoke": true}')
            await eventually(lambda: len(hub.alerts) == 1, "the smoke alert")
            await eventually(lambda: agent.outbox.depth() == 0, "its acknowledgement")
        await eventually(
            lambda: hub.statuses[-1].state == "offline", "the agent to say it went offline"
        )

        # The agent is down; its persistent session keeps these for it.
        await devices.publish(SMOKE_STATE, '{"smoke": true}')  # no transition: no alert
        exposure = co_exposure(400, 8, minutes_ago(9))
        for payload in exposure:
            await devices.publish(CO_STATE, payload)

        async with running_agent(EdgeAgent(settings)) as again:
            await eventually(lambda: len(hub.alerts) == 2, "the CO alert after the restart")
            assert [a.kind for a in hub.alerts] == [AlertKind.SMOKE, AlertKind.CO]
            assert again.counters["messages_received"] == 1 + len(exposure)


async def test_an_alert_unacknowledged_at_shutdown_is_sent_again_after_restart(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    settings = make_settings(resend_after_s=60.0)
    async with running_hub(mosquitto, auto_ack=False) as hub:
        async with running_agent(EdgeAgent(settings)):
            await Devices(mosquitto).publish(SOS_TOPIC, '{"action": "emergency"}')
            await eventually(lambda: len(hub.alerts) == 1, "the SOS at the hub")
        sos = hub.alerts[0]
        async with running_agent(EdgeAgent(settings)) as again:
            await eventually(lambda: hub.received(sos.id) == 2, "the same SOS again")
            await hub.ack([sos.id])
            await eventually(lambda: again.outbox.depth() == 0, "the ack to delete it")


async def test_a_message_whose_alert_cannot_be_stored_is_redelivered_not_lost(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    settings = make_settings()
    agent = EdgeAgent(settings, rng=no_jitter)
    async with running_hub(mosquitto) as hub, running_agent(agent):
        with closing(sqlite3.connect(settings.data_dir / FILE_NAME)) as db:
            db.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON alerts "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        await Devices(mosquitto).publish(SMOKE_STATE, '{"smoke": true}')
        # Two failures mean the broker delivered the message again after the first one.
        await eventually(lambda: agent.counters.get("outbox_errors", 0) >= 2, "a redelivery")
        assert hub.alerts == []
        with closing(sqlite3.connect(settings.data_dir / FILE_NAME)) as db:
            db.execute("DROP TRIGGER refuse")
        await eventually(lambda: len(hub.alerts) == 1, "the alert once the disk recovers")
        assert hub.alerts[0].kind is AlertKind.SMOKE


async def test_bad_input_is_rejected_counted_and_the_agent_keeps_working(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    bad: list[tuple[str, bytes, str]] = [
        (SMOKE_STATE, b'{"smoke": tru', "malformed_json"),
        (CO_STATE, b'{"co_ppm": "12"}', "wrong_type"),
        (CO_STATE, b'{"co_ppm": -3}', "wrong_type"),
        (SMOKE_STATE, b"[true]", "not_an_object"),
        (SMOKE_STATE, b"\xff\xfe{}", "malformed"),
        (SMOKE_STATE, b"x" * 1_000_000, "oversized"),
        ("linli/dev/b3-smoke/availability", b"maybe", "malformed"),
        (SOS_TOPIC, b'{"battery": true}', "malformed"),
        ("linli/dev/nobody/state", b'{"smoke": true}', "unknown_device"),
        # A thermometer nobody registered (a detector would be discovered: edge.discovery).
        ("zigbee2mqtt/nobody", b'{"temperature": 21.5}', "unknown_device"),
        ("linli/dev/x/bogus", b"{}", "unknown_topic"),
        ("linli/dev/$bad id/state", b"{}", "unknown_topic"),
    ]
    for text in REALDATA_INVALID_JSON:
        bad.append((SOS_TOPIC, text.encode(), "malformed_json"))
        bad.append((SMOKE_STATE, text.encode(), "malformed_json"))
    agent = EdgeAgent(make_settings())
    async with running_edge(mosquitto, agent) as (hub, devices):
        for topic, payload, _ in bad:
            await devices.publish(topic, payload)
        # The bridge's own topics are not device readings: ignored, not rejected (but its
        # state: the site's Zigbee network heard or deaf, edge.zigbee_bridge).
        await devices.publish_cli("zigbee2mqtt/bridge/info", '{"version": "1.40.2"}')
        await devices.publish_cli(SMOKE_STATE, '{"smoke": true}')
        await eventually(lambda: len(hub.alerts) == 1, "an alert from a good message afterwards")

    rejected = {
        k.removeprefix("rejected."): v
        for k, v in agent.counters.items()
        if k.startswith("rejected.")
    }
    assert rejected == Counter(reason for _, _, reason in bad)
    assert agent.counters["messages_ignored"] == 1
    assert hub.alerts[0].kind is AlertKind.SMOKE


async def test_the_hub_can_push_devices_to_the_edge(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    # Not discovered meanwhile (edge.discovery; tests/edge/test_agent_discovery.py): refused.
    agent = EdgeAgent(make_settings(discover_detectors=False))
    devices = Devices(mosquitto)
    new_leak = Device(
        id="hub-leak", kind=DeviceKind.WATER_LEAK, location="B3/Basement", zigbee_name="new leak"
    )
    async with running_hub(mosquitto) as hub, running_agent(agent):
        await devices.publish("zigbee2mqtt/new leak", '{"water_leak": true}')
        await eventually(lambda: agent.counters.get("rejected.unknown_device") == 1, "a reject")

        registry = DeviceRegistry(edge_id=EDGE_ID, devices=[new_leak])
        await hub.publish(
            edge_topic(EDGE_ID, EdgeChannel.DEVICES), registry.model_dump_json(), retain=True
        )
        await eventually(
            lambda: agent.directory.resolve(ZigbeeAddress("new leak")) is not None, "the registry"
        )

        await devices.publish("zigbee2mqtt/new leak", '{"water_leak": true}')
        await devices.publish(SMOKE_STATE, '{"smoke": true}')  # site devices still known
        await eventually(lambda: len(hub.alerts) == 2, "alerts from both")
        assert {(a.device_id, a.location) for a in hub.alerts} == {
            ("hub-leak", "B3/Basement"),
            ("b3-smoke", "Building 3/Floor 12/Unit 1201"),
        }


async def test_readings_go_up_as_telemetry_and_heartbeats_carry_counters(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings(heartbeat_s=0.1))
    async with running_hub(mosquitto) as hub, running_agent(agent):
        await Devices(mosquitto).publish(CO_STATE, '{"co_ppm": 12.5, "temperature_c": 21}')
        point = await telemetry_of(hub, "b3-co")
        assert (point.readings.co_ppm, point.readings.temperature_c) == (12.5, 21.0)
        await eventually(
            lambda: hub.statuses[-1].counters.get("messages_received") == 1,
            "a heartbeat with the counters",
        )
        assert hub.statuses[-1].state == "online"
        assert hub.statuses[-1].outbox_depth == 0


async def test_time_driven_detection_clears_a_dry_leak_and_reports_a_silent_device(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    clock = WallClock(T0)
    agent = EdgeAgent(make_settings(detection_tick_s=0.05), clock=clock)
    async with running_edge(mosquitto, agent) as (hub, devices):
        await devices.publish("zigbee2mqtt/bike leak", '{"water_leak": true}')
        await devices.publish("zigbee2mqtt/bike leak", '{"water_leak": false}')
        await eventually(lambda: agent.counters.get("messages_received") == 2, "both readings")
        await eventually(lambda: len(hub.alerts) == 1, "the leak")
        assert (hub.alerts[0].kind, hub.alerts[0].state) == (
            AlertKind.WATER_LEAK,
            AlertState.RAISED,
        )

        clock.advance(299)  # dry, but not for long enough
        await asyncio.sleep(0.3)
        assert len(hub.alerts) == 1
        clock.advance(2)
        await eventually(lambda: len(hub.alerts) == 2, "the leak cleared with no new reading")
        cleared = hub.alerts[1]
        assert (cleared.kind, cleared.state) == (AlertKind.WATER_LEAK, AlertState.CLEARED)
        assert cleared.ts == T0 + timedelta(seconds=300)

        clock.advance(6 * 3600)  # a leak sensor's check-in deadline
        # Every site device is overdue now: the three never heard from since the agent
        # started (a 2 h deadline from then), and the leak sensor 6 h after its last word.
        await eventually(lambda: len(hub.alerts) == 6, "the silent devices reported offline")
        offline = {a.device_id: a for a in hub.alerts[2:]}
        assert {(a.kind, a.state, a.severity) for a in offline.values()} == {
            (AlertKind.DEVICE_OFFLINE, AlertState.RAISED, Severity.MEDIUM)
        }
        assert {d: a.ts - T0 for d, a in offline.items()} == {
            "b3-smoke": timedelta(hours=2),
            "b3-co": timedelta(hours=2),
            "b3-sos": timedelta(hours=2),
            "bike-leak": timedelta(hours=6),
        }
        await devices.publish("zigbee2mqtt/bike leak", '{"battery": 90}')
        await eventually(lambda: len(hub.alerts) == 7, "back online on its next message")
        assert (hub.alerts[6].device_id, hub.alerts[6].kind, hub.alerts[6].state) == (
            "bike-leak",
            AlertKind.DEVICE_OFFLINE,
            AlertState.CLEARED,
        )
        await eventually(lambda: agent.outbox.depth() == 0, "every alert acknowledged")


async def test_a_co_level_reported_once_alarms_from_the_agents_tick_at_the_dose(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    """A detector reporting on change says 400 ppm once: the agent's time-driven detection
    raises CO when the dose reaches 1 (UL 2034: 8 min), stamped then, with no new reading."""
    clock = WallClock(T0)
    agent = EdgeAgent(make_settings(detection_tick_s=0.05), clock=clock)
    async with running_hub(mosquitto) as hub, running_agent(agent):
        await Devices(mosquitto).publish(CO_STATE, f'{{"co_ppm": 400, "ts": "{T0.isoformat()}"}}')
        await eventually(lambda: agent.counters.get("messages_received") == 1, "the reading")
        clock.advance(7 * 60)
        await asyncio.sleep(0.3)
        assert hub.alerts == []
        clock.advance(2 * 60)
        await eventually(lambda: len(hub.alerts) == 1, "the CO alarm from the tick")
        alarm = hub.alerts[0]
        assert (alarm.device_id, alarm.kind, alarm.state) == (
            "b3-co",
            AlertKind.CO,
            AlertState.RAISED,
        )
        assert alarm.ts == T0 + timedelta(minutes=8)
        await eventually(lambda: agent.outbox.depth() == 0, "the alarm acknowledged")


def heard(agent: EdgeAgent, messages: int) -> bool:
    """Return whether the agent has received that many device messages."""
    return agent.counters.get("messages_received") == messages


async def test_a_reading_stamped_a_day_ahead_does_not_blind_the_detectors(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    """A device whose clock ran a day ahead and was then set right: the edge bounds its time
    by its own clock (5 s of skew), so its later, truly stamped readings are not taken for
    older ones and the fire alarms at once, stamped when it happened."""
    clock = WallClock(T0)
    agent = EdgeAgent(make_settings(), clock=clock)
    devices = Devices(mosquitto)
    smoke_heat = "linli/dev/b3-smoke/state"
    async with running_hub(mosquitto) as hub, running_agent(agent):
        ahead = (T0 + timedelta(days=1)).isoformat()
        await devices.publish(smoke_heat, f'{{"temperature_c": 22.0, "ts": "{ahead}"}}')
        for minute, celsius in ((1, 58.0), (2, 59.0)):
            # Received before the clock moves: each reading is received in its own minute.
            await eventually(partial(heard, agent, minute), "the reading before")
            clock.advance(60.0)
            stamp = (T0 + timedelta(minutes=minute)).isoformat()
            await devices.publish(smoke_heat, f'{{"temperature_c": {celsius}, "ts": "{stamp}"}}')
        await eventually(lambda: len(hub.alerts) == 1, "the heat alarm")
        alarm = hub.alerts[0]
        assert (alarm.kind, alarm.state) == (AlertKind.HEAT, AlertState.RAISED)
        assert alarm.ts == T0 + timedelta(minutes=2)


async def test_a_retained_press_replayed_on_subscribing_is_not_a_new_sos(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    """Zigbee2MQTT with ``retain: true`` keeps a button's last message at the broker: the
    edge subscribing anew (first start, a lost session) gets yesterday's press replayed with
    the retain flag, which is not a press now. Its readings still count."""
    devices = Devices(mosquitto)
    await devices.publish(SOS_TOPIC, '{"action": "emergency", "battery": 5}', retain=True)
    agent = EdgeAgent(make_settings())
    async with running_hub(mosquitto) as hub, running_agent(agent):
        await eventually(lambda: len(hub.alerts) == 1, "the low battery of the retained state")
        assert [(a.device_id, a.kind) for a in hub.alerts] == [("b3-sos", AlertKind.BATTERY_LOW)]
        assert agent.counters.get("retained_events_ignored") == 1
        # A press now, published retained as that bridge does: live, it is delivered
        # without the retain flag, and it is an SOS.
        await devices.publish(SOS_TOPIC, '{"action": "emergency", "battery": 5}', retain=True)
        await eventually(lambda: len(hub.alerts) == 2, "a press now is an SOS")
        assert (hub.alerts[1].device_id, hub.alerts[1].kind) == ("b3-sos", AlertKind.SOS)


async def test_a_press_published_retained_while_the_agent_is_down_is_one_sos(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    """The press reaches the persistent session as a live message, and the broker's replay of
    the same retained message on subscribing adds nothing: one SOS, not none and not two."""
    settings = make_settings()
    devices = Devices(mosquitto)
    async with running_hub(mosquitto) as hub:
        async with running_agent(EdgeAgent(settings)):
            await devices.publish(SOS_TOPIC, '{"battery": 90}')
            await eventually(lambda: len(hub.statuses) > 0, "the agent online")
        await eventually(lambda: hub.statuses[-1].state == "offline", "the agent down")
        await devices.publish(SOS_TOPIC, '{"action": "emergency", "battery": 90}', retain=True)
        async with running_agent(EdgeAgent(settings)) as again:
            await eventually(lambda: len(hub.alerts) == 1, "the SOS after the restart")
            await eventually(
                lambda: again.counters.get("retained_events_ignored") == 1, "the replay ignored"
            )
            await asyncio.sleep(0.3)
            assert [(a.device_id, a.kind) for a in hub.alerts] == [("b3-sos", AlertKind.SOS)]
