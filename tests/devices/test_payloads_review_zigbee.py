"""Outside review: real Zigbee2MQTT payload shapes the adapter read as nothing.

Keys are those of zigbee-herdsman-converters (Koenkk/zigbee-herdsman-converters @df72005),
the converter quoted with its path; no published message was found, so each message is the
converter's output as Zigbee2MQTT publishes it (the device's cached state merged in).
"""

from devices.adapters import decode_all
from devices.kinds import AlertKind, DeviceKind
from devices.observations import StateUpdate
from devices.topics import DeviceChannel, ZigbeeTopic
from tests.devices.test_tasmota_shelly import decode
from tests.edge.detection_series import RAISED, feed

# CTM Lyng AX Water Sensor (src/devices/ctm.ts, model "AX_Water_Sensor", fzLocal
# ctm_water_leak_alarm): its IAS zone's alarm 1 is ``active_water_leak`` ("Indicates whether
# there is an active water leak"), alarm 2 ``water_leak``:
#     active_water_leak: (zoneStatus & 1) > 0,
#     water_leak: (zoneStatus & (1 << 1)) > 0,
#     battery_low: (zoneStatus & (1 << 3)) > 0,
CTM_LEAKING = '{"active_water_leak":true,"battery":90,"battery_low":false,"water_leak":false}'
CTM_DRY = '{"active_water_leak":false,"battery":90,"battery_low":false,"water_leak":false}'


def state_of(payload: str, kind: DeviceKind | None) -> StateUpdate:
    """Decode one whole Zigbee2MQTT message and return its one state update."""
    (decoded,) = decode("zigbee2mqtt/b3 basement leak", payload, kind)
    (state,) = [o for o in decoded.observations if isinstance(o, StateUpdate)]
    return state


def test_a_ctm_active_water_leak_is_a_leak() -> None:
    # Before: {"water_leak": False}, the bike basement flooding read as dry.
    assert state_of(CTM_LEAKING, DeviceKind.WATER_LEAK).readings.water_leak is True
    assert state_of(CTM_LEAKING, None).readings.water_leak is True
    assert state_of(CTM_DRY, DeviceKind.WATER_LEAK).readings.water_leak is False


def test_a_ctm_active_water_leak_raises_the_leak_alarm() -> None:
    (decoded,) = decode("zigbee2mqtt/b3 basement leak", CTM_LEAKING, DeviceKind.WATER_LEAK)
    _, alerts = feed(DeviceKind.WATER_LEAK, [(0.0, o) for o in decoded.observations])
    assert [(a.kind, a.state) for a in alerts] == [(AlertKind.WATER_LEAK, RAISED)]


# --- "alarm" as a setting: a forged alarm from a benign payload -----------------------------

# Tuya TS0601_smoke_5 (_TZE200_ytibqbra, src/devices/tuya.ts): ``e.smoke()`` and
# ``e.binary("alarm", ea.STATE_SET, "ON", "OFF").withDescription("Enable the alarm")``, DP 17
# through ``tuya.valueConverter.onOff``; HOBEIAN ZG-226Z water leak alarm (tuya.ts):
# ``e.water_leak()`` and ``e.binary("alarm", ea.STATE_SET, "ON", "OFF")`` "Audible and visual
# alarm", DP 101. Both settings, published as "ON"/"OFF" text; an IAS zone's bit is a JSON
# boolean in every Zigbee2MQTT converter (modernExtend.iasZoneAlarm, fz.ias_*).


def test_an_alarm_setting_switched_on_is_no_fire_and_no_leak() -> None:
    # With ``advanced.output: attribute``, the setting on its own topic (text as it is):
    # before, {"smoke": True} — a fire alarm from the resident switching the siren on.
    for kind, name in ((DeviceKind.SMOKE, "b3 kitchen smoke"), (DeviceKind.WATER_LEAK, "leak")):
        observed = decode_attribute(name, "alarm", "ON", kind)
        assert observed == (), (kind, observed)
    # A whole message without the detector's own key (``cache_state: false``, or before the
    # detector's first report), the setting beside its battery: no alarm either.
    assert state_of('{"alarm":"ON","battery":100}', DeviceKind.SMOKE).readings.present() == {
        "battery_pct": 100.0
    }
    assert state_of('{"alarm":"OFF","battery":100}', DeviceKind.WATER_LEAK).readings.present() == {
        "battery_pct": 100.0
    }


def test_a_generic_zones_boolean_alarm_is_still_read() -> None:
    # Ecolink FFZB1-SM-ECO (ecolink.ts: iasZoneAlarm zoneType "alarm", alarm_1): "alarm" true
    # is the smoke alarm it heard; kept.
    assert state_of('{"alarm":true,"battery":90}', DeviceKind.SMOKE).readings.smoke is True
    assert decode_attribute("b3 kitchen smoke", "alarm", "true", DeviceKind.SMOKE) != ()


def decode_attribute(name: str, key: str, text: str, kind: DeviceKind) -> tuple[object, ...]:
    """Decode one attribute message, ``advanced.output: attribute``, of a device of ``kind``."""
    (decoded,) = decode_all(
        ZigbeeTopic(name, DeviceChannel.STATE, key), text.encode(), kind_of=lambda _: kind
    )
    return tuple(decoded.observations)
