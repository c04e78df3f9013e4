"""Outside review: Tasmota Zigbee bridge payload shapes the adapter read as nothing.

Tasmota names the attributes it publishes in ``ZbReceived`` in its docs (tasmota/docs
@9849ab94, docs/Zigbee.md, the attribute table: ``ZoneStatus`` 0x0500/0x0002 map16, beside
the ``ZoneStatusChange`` command the adapter read) and in its converters (arendst/Tasmota
tasmota/tasmota_xdrv_driver/xdrv_23_zigbee_5_2_converters.ino, ``ZCLFrame::
syntheticAqaraCubeOrButton``: Aqara buttons ``lumi.remote*``/``lumi.sensor_swit*`` publish
``"Click"`` ``single``/``double``/``triple``/``quadruple``/``hold``, then ``release``).
"""

from devices.kinds import AlertKind, DeviceKind
from devices.observations import DeviceEvent, InputState, StateUpdate
from devices.payloads import ButtonEvent
from tests.devices.test_tasmota_shelly import decode, readings
from tests.edge.detection_series import RAISED, feed

# An IAS zone's status as an attribute (a report, or a read's response), not the change
# notification: Heiman HS1SA smoke detectors report it (zigbee-herdsman-converters
# fromZigbee.ts ``ias_smoke_alarm_1`` reads ``attributeReport``/``readResponse`` of
# ``zoneStatus`` for them), and so does every zone Tasmota reads (``ZbRead`` 0x0500).
ZONE_ATTRIBUTE = (
    '{"ZbReceived":{"0x3B2C":{"Device":"0x3B2C","Name":"b3 1201 smoke","ZoneStatus":%d,'
    '"Endpoint":1,"LinkQuality":120}}}'
)
# An Aqara WXKG11LM button pressed once, as Tasmota publishes it (the converter above
# writes "Click" and, deprecated, "click" for a single press).
AQARA_CLICK = (
    '{"ZbReceived":{"0x5E54":{"Device":"0x5E54","Name":"b3 1201 sos","click":"single",'
    '"Click":"single","Endpoint":1,"LinkQuality":128}}}'
)


def test_a_zone_status_attribute_is_read_as_the_zone_status() -> None:
    # Before: {} — a smoke detector reporting its alarm as an attribute read as nothing.
    topic = "tele/zbbridge/SENSOR"
    assert readings(decode(topic, ZONE_ATTRIBUTE % 1, DeviceKind.SMOKE)) == {"smoke": True}
    assert readings(decode(topic, ZONE_ATTRIBUTE % 0, DeviceKind.SMOKE)) == {"smoke": False}
    assert readings(decode(topic, ZONE_ATTRIBUTE % 1, DeviceKind.WATER_LEAK)) == {
        "water_leak": True
    }
    # The test bit (0x0100) of a smoke detector is its self-test, as in the notification.
    assert readings(decode(topic, ZONE_ATTRIBUTE % 0x0101, DeviceKind.SMOKE)) == {
        "smoke": True,
        "smoke_test": True,
    }
    # Unregistered: the bits say nothing, as ever.
    assert readings(decode(topic, ZONE_ATTRIBUTE % 1, None)) == {}


def test_a_zone_status_attribute_raises_the_smoke_alarm() -> None:
    (decoded,) = decode("tele/zbbridge/SENSOR", ZONE_ATTRIBUTE % 1, DeviceKind.SMOKE)
    _, alerts = feed(DeviceKind.SMOKE, [(0.0, o) for o in decoded.observations])
    assert [(a.kind, a.state) for a in alerts] == [(AlertKind.SMOKE, RAISED)]


def test_an_sos_buttons_zone_status_attribute_is_its_alarm_state() -> None:
    # A report is a state (repeated while it stands), not a change: an input, whose off → on
    # the edge reads as one press, so a periodic report raises no second SOS.
    topic = "tele/zbbridge/SENSOR"
    (pressed,) = decode(topic, ZONE_ATTRIBUTE % 2, DeviceKind.SOS_BUTTON)
    assert pressed.observations == (InputState("ZoneStatus", True),)
    timed = [
        (60.0 * i, o)
        for i, status in enumerate([0, 2, 2, 0])
        for o in decode(topic, ZONE_ATTRIBUTE % status, DeviceKind.SOS_BUTTON)[0].observations
    ]
    _, alerts = feed(DeviceKind.SOS_BUTTON, timed)
    assert [(a.kind, a.state) for a in alerts if a.state is RAISED] == [(AlertKind.SOS, RAISED)]


def test_an_aqara_click_is_a_press() -> None:
    # Before: () — a resident's SOS press on an Aqara button behind a Tasmota bridge lost.
    (decoded,) = decode("tele/zbbridge/SENSOR", AQARA_CLICK, DeviceKind.SOS_BUTTON)
    assert [o for o in decoded.observations if not isinstance(o, StateUpdate)] == [
        DeviceEvent(ButtonEvent.PRESS)
    ]
    _, alerts = feed(DeviceKind.SOS_BUTTON, [(0.0, o) for o in decoded.observations])
    assert [(a.kind, a.state) for a in alerts] == [(AlertKind.SOS, RAISED)]


def test_aqara_clicks_by_gesture() -> None:
    def events(click: str) -> list[object]:
        raw = AQARA_CLICK.replace('"click":"single",', "").replace("single", click)
        (decoded,) = decode("tele/zbbridge/SENSOR", raw, DeviceKind.SOS_BUTTON)
        return [o for o in decoded.observations if isinstance(o, DeviceEvent)]

    assert events("double") == [DeviceEvent(ButtonEvent.DOUBLE_PRESS)]
    assert events("triple") == [DeviceEvent(ButtonEvent.PRESS)]
    assert events("quadruple") == [DeviceEvent(ButtonEvent.PRESS)]
    assert events("hold") == [DeviceEvent(ButtonEvent.LONG_PRESS)]
    # The release after a hold, and the cube's shake, are no press.
    assert events("release") == []
    assert events("shake") == []
