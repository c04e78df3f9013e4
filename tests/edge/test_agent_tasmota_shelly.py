"""Tasmota and Shelly devices through a real Mosquitto and a real ``EdgeAgent``.

The payloads are the real ones of shared/realdata/payloads (tasmota_zigbee_and_sensors.json and
shelly_mqtt.json; sources and licences in each record), published byte for byte; the invalid
ones are refused and counted, and the agent keeps going.
"""

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from devices.kinds import AlertKind, AlertState
from edge.agent import EdgeAgent
from linli.brokers import MosquittoProcess
from tests.conftest import realdata_records
from tests.edge.conftest import (
    EDGE_ID,
    Devices,
    SettingsFactory,
    eventually,
    running_agent,
    running_edge,
    running_hub,
    telemetry_of,
)

pytestmark = pytest.mark.mosquitto

SITE_TOML = f"""
[site]
name = "Tasmota and Shelly Courtyard"
edge_id = "{EDGE_ID}"

[[devices]]
id = "boiler-heat"
kind = "heat"
location = "Building 1/Basement/Boiler room"
tasmota_topic = "boiler"                     # a wired Tasmota with DS18B20 probes

[[devices]]
id = "laundry-leak"
kind = "water_leak"
location = "Building 1/Basement/Laundry"
tasmota_topic = "SonoffZigbeeBridge/0x898e"  # an Aqara leak sensor behind a Sonoff ZBBridge

[[devices]]
id = "kitchen-smoke"
kind = "smoke"
location = "Building 1/Floor 2/Unit 201"
shelly_id = "shellysmoke-a1b2c3"             # Shelly Smoke (Gen1)

[[devices]]
id = "bike-leak"
kind = "water_leak"
location = "Building 1/Basement/Bike room"
shelly_id = "shellyfloodg4-d4e5f6"           # Shelly Flood Gen4 (JSON-RPC)

[[devices]]
id = "hall-climate"
kind = "heat"
location = "Building 1/Floor 1/Hall"
shelly_id = "shellyplusht-c049ef8bc088"      # Shelly Plus H&T, the realdata unit

[[devices]]
id = "pull-cord"
kind = "sos_button"
location = "Building 1/Floor 1/Unit 101"
shelly_id = "shelly1-10521c454394"           # a pull cord on a Shelly 1's input, momentary
"""


@pytest.fixture
def tasmota_shelly_settings(site_file: Path, make_settings: SettingsFactory) -> SettingsFactory:
    site_file.write_text(SITE_TOML)
    return make_settings


@pytest.fixture
def more_settings(
    request: pytest.FixtureRequest, site_file: Path, make_settings: SettingsFactory
) -> SettingsFactory:
    """The site file with the devices the test adds (an indirect parameter)."""
    site_file.write_text(SITE_TOML + request.param)
    return make_settings


async def test_tasmota_and_shelly_readings_raise_the_right_alerts(
    mosquitto: MosquittoProcess, tasmota_shelly_settings: SettingsFactory, realdata: Path
) -> None:
    tasmota = realdata_records(realdata, "tasmota_zigbee_and_sensors.json")
    shelly = realdata_records(realdata, "shelly_mqtt.json")
    leak_dry = next(r for r in tasmota if '"Water":0' in r["payload_raw"])["payload_raw"]
    # arendst/Tasmota#14096: the leak arrives as a zone change without a "Water" key.
    leak_wet = next(r for r in tasmota if '"ZoneStatusChange":1,"Endpoint"' in r["payload_raw"])
    broken = [r["payload_raw"] for r in tasmota if r["payload"] is None and "LWT" not in r["topic"]]
    agent = EdgeAgent(tasmota_shelly_settings())
    async with running_edge(mosquitto, agent) as (hub, devices):
        # The realdata leak sensor, on the default FullTopic (the was customised).
        await devices.publish_cli("tele/SonoffZigbeeBridge/SENSOR", leak_dry)
        await devices.publish_cli("tele/SonoffZigbeeBridge/SENSOR", leak_wet["payload_raw"])
        await eventually(lambda: len(hub.alerts) == 1, "the Tasmota Zigbee leak")
        for text in broken:  # Tasmota's docs print these with a closing brace missing
            await devices.publish_cli("tele/SonoffZigbeeBridge/SENSOR", text)
        # The hottest probe counts; EN 54-5's fixed point wants two readings above it.
        for _ in range(2):
            await devices.publish_cli(
                "tele/boiler/SENSOR",
                '{"Time":"2026-12-02T10:00:00","DS18B20-1":{"Id":"00000566CC39","Temperature":21.0},'
                '"DS18B20-2":{"Id":"0000059352D4","Temperature":71.5},"TempUnit":"C"}',
            )
        await devices.publish_cli("shellies/shellysmoke-a1b2c3/sensor/smoke", "true")
        # The realdata H&T: 19 °C, fine, but its battery reads 0 %.
        await devices.publish_cli(shelly[0]["topic"], shelly[0]["payload_raw"])
        flood = {
            "src": "shellyfloodg4-d4e5f6",
            "dst": "shellyfloodg4-d4e5f6/events",
            "method": "NotifyStatus",
            "params": {"ts": 1764669600.12, "flood:0": {"id": 0, "alarm": True, "mute": False}},
        }
        await devices.publish_cli("shellyfloodg4-d4e5f6/events/rpc", json.dumps(flood))
        await devices.publish_cli("shellies/shellysmoke-a1b2c3/sensor/smoke", "smouldering")
        await devices.publish_cli(
            "tele/unknown-bridge/SENSOR", '{"ZbReceived":{"0x1":{"Water":1}}}'
        )
        await eventually(lambda: len(hub.alerts) == 5, "the heat, smoke, flood, battery alerts")

    raised = {(a.device_id, a.kind) for a in hub.alerts if a.state is AlertState.RAISED}
    assert raised == {
        ("laundry-leak", AlertKind.WATER_LEAK),
        ("boiler-heat", AlertKind.HEAT),
        ("kitchen-smoke", AlertKind.SMOKE),
        ("bike-leak", AlertKind.WATER_LEAK),
        ("hall-climate", AlertKind.BATTERY_LOW),
    }
    assert all(a.edge_id == EDGE_ID for a in hub.alerts)
    rejected = Counter(
        {
            k.removeprefix("rejected."): v
            for k, v in agent.counters.items()
            if k.startswith("rejected.")
        }
    )
    assert rejected == Counter({"malformed_json": 3, "wrong_type": 1, "unknown_device": 1})


async def test_tasmota_lwt_and_shelly_online_are_availability(
    mosquitto: MosquittoProcess, tasmota_shelly_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(tasmota_shelly_settings())
    async with running_edge(mosquitto, agent) as (hub, devices):
        await devices.publish_cli("tele/boiler/STATE", '{"Uptime":"0T01:00:00"}')
        await devices.publish_cli("tele/boiler/LWT", "Offline")
        await devices.publish_cli("shellies/shellysmoke-a1b2c3/online", "false")
        await eventually(lambda: len(hub.alerts) == 2, "two devices offline")
    assert {(a.device_id, a.kind) for a in hub.alerts} == {
        ("boiler-heat", AlertKind.DEVICE_OFFLINE),
        ("kitchen-smoke", AlertKind.DEVICE_OFFLINE),
    }
    assert agent.counters["messages_ignored"] == 1  # tele/<topic>/STATE carries no reading
    assert not any(k.startswith("rejected.") for k in agent.counters)


async def test_a_shelly_repeating_its_last_event_every_30_s_is_one_sos(
    mosquitto: MosquittoProcess, tasmota_shelly_settings: SettingsFactory
) -> None:
    """A mains Shelly re-publishes its last input event every 30 s with the same count, as
    published (bieniu/ha-shellies-discovery#91: ``{"event":"L","event_cnt":849}`` every 30 s
    from a Shelly 1): one pull of the cord is one SOS, the next pull another."""
    topic = "shellies/shelly1-10521C454394/input_event/0"
    async with running_edge(mosquitto, EdgeAgent(tasmota_shelly_settings())) as (hub, devices):
        for _ in range(3):  # the pull, then its repeats
            await devices.publish_cli(topic, '{"event":"L","event_cnt":849}')
        await devices.publish_cli(topic, '{"event":"S","event_cnt":850}')  # the next pull
        # Handled and sent in order: once the next pull's SOS is in, the repeats' were too.
        await eventually(
            lambda: any(a.reason.values.get("event") == "press" for a in hub.alerts),
            "the next pull's SOS",
        )
    assert [(a.device_id, a.kind, a.reason.values["event"]) for a in hub.alerts] == [
        ("pull-cord", AlertKind.SOS, "long_press"),
        ("pull-cord", AlertKind.SOS, "press"),
    ]


HOME_ASSISTANT_BRIDGE = """
[[devices]]
id = "attic-smoke"
kind = "smoke"
location = "Building 1/Attic"
tasmota_topic = "zbbridge/attic smoke"       # behind a bridge set up for Home Assistant
"""


@pytest.mark.parametrize("more_settings", [HOME_ASSISTANT_BRIDGE], indirect=True, ids=["bridge"])
async def test_a_bridge_with_per_device_topics_and_no_wrapper_still_raises(
    mosquitto: MosquittoProcess, more_settings: SettingsFactory
) -> None:
    # SetOption89 1, 112 1, 100 1, 119 1: a topic per device named by its friendly name (its
    # space made valid for MQTT), the entry alone without ZbReceived or its key.
    async with running_edge(mosquitto, EdgeAgent(more_settings())) as (hub, devices):
        await devices.publish_cli(
            "tele/zbbridge/attic_smoke/SENSOR",
            '{"Device":"0x5C2B","Name":"attic smoke","Fire":1,"Endpoint":1,"LinkQuality":92}',
        )
        await eventually(lambda: len(hub.alerts) == 1, "the attic's fire")
    [alert] = hub.alerts
    assert (alert.device_id, alert.kind, alert.state) == (
        "attic-smoke",
        AlertKind.SMOKE,
        AlertState.RAISED,
    )


PULL_CORDS = """
[[devices]]
id = "cord-101"
kind = "sos_button"
location = "Building 1/Floor 1/Unit 102"
shelly_id = "shelly1-e8db84d5a0c1"           # a latching pull cord on a Shelly 1's SW, switch mode

[[devices]]
id = "cord-102"
kind = "sos_button"
location = "Building 1/Floor 1/Unit 103"
shelly_id = "shellyplusi4-c4d8d5a0b1c2"      # a pull cord on a Plus i4's input 0, switch type

[[devices]]
id = "cord-103"
kind = "sos_button"
location = "Building 1/Floor 1/Unit 104"
tasmota_topic = "pullcord-104"               # a Tasmota's Switch1, SetOption114 1 (detached)
"""


@pytest.mark.parametrize("more_settings", [PULL_CORDS], indirect=True, ids=["cords"])
async def test_pull_cords_on_shelly_inputs_in_switch_mode_raise_sos(
    mosquitto: MosquittoProcess, more_settings: SettingsFactory
) -> None:
    """A pull cord on an input in switch mode (a Shelly Gen1 or Gen2+, a Tasmota's detached
    switch) says only the input's state, repeated: each pull is one SOS. The Gen1 Shelly 1
    in momentary mode sends its terminal's state as well as the push event: one push is
    still one SOS."""
    gen1 = "shellies/shelly1-e8db84d5a0c1/input/0"
    plus_i4 = "shellyplusi4-c4d8d5a0b1c2/events/rpc"

    def i4(state: str) -> str:
        return (
            '{"src":"shellyplusi4-c4d8d5a0b1c2","dst":"shellyplusi4-c4d8d5a0b1c2/events",'
            '"method":"NotifyStatus","params":{"ts":1733400000.12,'
            f'"input:0":{{"id":0,"state":{state}}}}}}}'
        )

    momentary = "shellies/shelly1-10521c454394"
    agent = EdgeAgent(more_settings())
    async with running_edge(mosquitto, agent) as (hub, devices):
        for payload in ("0", "1", "1", "0", "1"):  # pulled, its repeat, reset, pulled again
            await devices.publish_cli(gen1, payload)
        for state in ("false", "true", "true"):
            await devices.publish_cli(plus_i4, i4(state))
        for topic, payload in (
            (f"{momentary}/input/0", "0"),
            (f"{momentary}/input/0", "1"),
            (f"{momentary}/input/0", "0"),
            (f"{momentary}/input_event/0", '{"event":"S","event_cnt":12}'),
            (f"{momentary}/input/0", "1"),
            (f"{momentary}/input/0", "0"),
            (f"{momentary}/input_event/0", '{"event":"S","event_cnt":13}'),
        ):
            await devices.publish_cli(topic, payload)
        for action in ("OFF", "ON", "ON"):
            switch = f'{{"Switch1":{{"Action":"{action}"}}}}'
            await devices.publish_cli("stat/pullcord-104/RESULT", switch)
        await devices.publish_cli(gen1, "0")
        await devices.publish_cli(gen1, "1")  # the last: once in, all before it are in
        await eventually(lambda: len(hub.alerts) == 7, "seven pulls")
        await asyncio.sleep(0.5)
    assert [(a.device_id, a.kind, a.reason.rule) for a in hub.alerts] == [
        ("cord-101", AlertKind.SOS, "input_on"),
        ("cord-101", AlertKind.SOS, "input_on"),
        ("cord-102", AlertKind.SOS, "input_on"),
        ("pull-cord", AlertKind.SOS, "input_on"),
        ("pull-cord", AlertKind.SOS, "button_press"),
        ("cord-103", AlertKind.SOS, "input_on"),
        ("cord-101", AlertKind.SOS, "input_on"),
    ]
    assert not any(k.startswith("rejected.") for k in agent.counters)


FAHRENHEIT = """
[[devices]]
id = "den-ht"
kind = "heat"
location = "Building 1/Floor 1/Den"
shelly_id = "shellyht-f1f2f3"                # a Gen1 H&T set to °F in its own settings
temperature_unit = "F"
"""


@pytest.mark.parametrize("more_settings", [FAHRENHEIT], indirect=True, ids=["fahrenheit"])
async def test_a_gen1_shelly_set_to_fahrenheit_is_read_in_fahrenheit(
    mosquitto: MosquittoProcess, more_settings: SettingsFactory
) -> None:
    """A Gen1 H&T set to °F publishes a bare 72 for a 22 °C room. Registered with
    ``temperature_unit = "F"``, the edge reads 22.2 °C (what detection and the hub get); the
    heat alarm this would have raised is in tests/edge/test_detection_inputs.py."""
    topic = "shellies/shellyht-f1f2f3/sensor/temperature"
    agent = EdgeAgent(more_settings(heartbeat_s=0.1))
    async with running_hub(mosquitto) as hub, running_agent(agent):
        await Devices(mosquitto).publish_cli(topic, "72")
        point = await telemetry_of(hub, "den-ht")
    assert point.readings.temperature_c == pytest.approx(22.22)
    assert hub.alerts == []
