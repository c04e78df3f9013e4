"""Outside review: Shelly Gen2+ payloads with several components of one type.

Shelly's notifications name each instance of a component ``<type>:<id>`` ("If more than one
instance of this type of component are available, component will be substituted by
component_type:id (e.g., switch:2, input:0)": shelly-api-docs.shelly.cloud/gen2/General/
Notifications); the Flood and Smoke components report ``{"id": N, "alarm": bool, "mute":
bool}`` (…/gen2/ComponentsAndServices/Flood, …/Smoke). A device (or a NotifyFullStatus) with
two of them said the LAST one's alarm: a leak on ``flood:0`` beside a dry ``flood:1`` read dry.
"""

import json

import pytest

from devices.kinds import DeviceKind
from tests.devices.test_tasmota_shelly import decode, readings


def notify(components: dict[str, object], method: str = "NotifyStatus") -> str:
    """Return a Gen2+ notification of ``components`` as the device publishes it."""
    return json.dumps(
        {
            "src": "shellyfloodg4-b0b21c12ab34",
            "dst": "shellyfloodg4-b0b21c12ab34/events",
            "method": method,
            "params": {"ts": 1733616000.12, **components},
        }
    )


@pytest.mark.parametrize("method", ["NotifyStatus", "NotifyFullStatus"])
@pytest.mark.parametrize(("kind", "reading"), [("flood", "water_leak"), ("smoke", "smoke")])
def test_any_alarming_instance_is_the_alarm(method: str, kind: str, reading: str) -> None:
    topic = "shellyfloodg4-b0b21c12ab34/events/rpc"
    wet_first = notify(
        {
            f"{kind}:0": {"id": 0, "alarm": True, "mute": False},
            f"{kind}:1": {"id": 1, "alarm": False, "mute": False},
        },
        method,
    )
    # Before: {reading: False} — the alarm on instance 0 overwritten by instance 1.
    assert readings(decode(topic, wet_first, DeviceKind.WATER_LEAK)) == {reading: True}
    dry = wet_first.replace('"alarm": true', '"alarm": false')
    assert readings(decode(topic, dry, DeviceKind.WATER_LEAK)) == {reading: False}
    # An instance with its probe unplugged (alarm null) says nothing beside a dry one.
    unplugged = notify(
        {
            f"{kind}:0": {"id": 0, "alarm": None, "mute": False, "errors": ["cable_unplugged"]},
            f"{kind}:1": {"id": 1, "alarm": False, "mute": False},
        },
        method,
    )
    assert readings(decode(topic, unplugged, DeviceKind.WATER_LEAK)) == {reading: False}
