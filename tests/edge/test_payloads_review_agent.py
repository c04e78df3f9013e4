"""Outside review: real device payload shapes through a real Mosquitto and ``EdgeAgent``.

Each payload was read as nothing, lost with the message, or escaped the adapter as an
internal error; tests/devices/test_payloads_review_*.py quote each one's source. Here the
edge raises the alarm each one is, and counts no internal error.
"""

import json
from pathlib import Path

import pytest

from devices.kinds import AlertKind, AlertState
from edge.agent import EdgeAgent
from linli.brokers import MosquittoProcess
from tests.edge.conftest import EDGE_ID, SettingsFactory, eventually, running_edge

pytestmark = pytest.mark.mosquitto

SITE_TOML = f"""
[site]
name = "Payload review courtyard"
edge_id = "{EDGE_ID}"

[[devices]]
id = "b3-1201-smoke"
kind = "smoke"
location = "Building 3/Floor 12/Unit 1201"

[[devices]]
id = "b3-1201-sos"
kind = "sos_button"
location = "Building 3/Floor 12/Unit 1201"
tasmota_topic = "zbbridge/0x5E54"            # an Aqara WXKG11LM behind a Sonoff ZBBridge

[[devices]]
id = "b3-stair-smoke"
kind = "smoke"
location = "Building 3/Floor 12/Stairwell"
tasmota_topic = "zbbridge/0x3B2C"            # a Heiman smoke detector, its zone as attribute

[[devices]]
id = "bike-leak"
kind = "water_leak"
location = "Building 3/Basement/Bike room"
zigbee_name = "b3 bike leak"                 # a CTM Lyng AX Water Sensor

[[devices]]
id = "laundry-leak"
kind = "water_leak"
location = "Building 3/Basement/Laundry"
shelly_id = "shellyfloodg4-b0b21c12ab34"     # a Shelly with two flood instances
"""


@pytest.fixture
def review_settings(site_file: Path, make_settings: SettingsFactory) -> SettingsFactory:
    site_file.write_text(SITE_TOML)
    return make_settings


async def test_each_reviewed_payload_raises_its_alarm(
    mosquitto: MosquittoProcess, review_settings: SettingsFactory
) -> None:
    huge = "1" + "0" * 400
    flood = {
        "src": "shellyfloodg4-b0b21c12ab34",
        "method": "NotifyStatus",
        "params": {
            "ts": 1733616000.12,
            "flood:0": {"id": 0, "alarm": True, "mute": False},
            "flood:1": {"id": 1, "alarm": False, "mute": False},
        },
    }
    agent = EdgeAgent(review_settings())
    async with running_edge(mosquitto, agent) as (hub, devices):
        await devices.publish_cli(
            "linli/dev/b3-1201-smoke/state", f'{{"smoke": true, "co_ppm": {huge}}}'
        )
        await devices.publish_cli(
            "tele/zbbridge/SENSOR",
            '{"ZbReceived":{"0x5E54":{"Device":"0x5E54","click":"single","Click":"single",'
            '"Endpoint":1,"LinkQuality":128}}}',
        )
        await devices.publish_cli(
            "tele/zbbridge/SENSOR",
            '{"ZbReceived":{"0x3B2C":{"Device":"0x3B2C","ZoneStatus":1,"Endpoint":1,'
            '"LinkQuality":120}}}',
        )
        await devices.publish_cli(
            "zigbee2mqtt/b3 bike leak",
            '{"active_water_leak":true,"battery":90,"battery_low":false,"water_leak":false}',
        )
        await devices.publish_cli("shellyfloodg4-b0b21c12ab34/events/rpc", json.dumps(flood))
        await eventually(lambda: len(hub.alerts) >= 5, "the five alarms")

    raised = {(a.device_id, a.kind) for a in hub.alerts if a.state is AlertState.RAISED}
    assert raised == {
        ("b3-1201-smoke", AlertKind.SMOKE),
        ("b3-1201-sos", AlertKind.SOS),
        ("b3-stair-smoke", AlertKind.SMOKE),
        ("bike-leak", AlertKind.WATER_LEAK),
        ("laundry-leak", AlertKind.WATER_LEAK),
    }
    assert not any(k.startswith("rejected.") for k in agent.counters), agent.counters
