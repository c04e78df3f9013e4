"""Zigbee2MQTT payloads, as devices really send them, mapped to Linli readings and events.

Quirks handled here, all seen in real messages (shared/realdata/payloads, and the public
sources quoted in tests/devices/test_zigbee_vendors.py):

- ``contact: true`` means the door is CLOSED (kept as is: Linli uses the same convention);
- ``battery`` arrives as a number, a numeric string (``"80.00"``) or ``null``;
- SOS buttons send ``action: "emergency"`` and then ``null`` or ``""`` in later messages: only
  a non-empty action is an event; ``off`` (Heiman HS1EB, ORVIBO SE21: zone status 0) is none;
- bridges in legacy mode (before ``action``) say ``click: "single"``: read as an action when
  the message has no ``action`` key (one that has both sends them apart for one press);
- ``last_seen`` is epoch milliseconds or ISO 8601, depending on the bridge's settings; one
  that is neither is dropped (noted), the message kept: the receive time stands in;
- availability is plain ``online`` in old bridges and ``{"state": "online"}`` in new ones;
- a device that (re)joins (new battery, power back, re-pairing) is announced on
  ``bridge/event`` as ``device_announce``: some SOS buttons then send ``emergency`` by
  themselves (Koenkk/zigbee2mqtt#31727), so the edge wants to know.

Vendor fields (zigbee-herdsman-converters' exposes and Tuya datapoints):

- flags come as JSON booleans, and as ``"ON"``/``"OFF"`` (Tuya DCR-CO's ``carbon_monoxide``)
  or ``"True"``/``"False"`` (a Tuya gas sensor's ``gas``, Koenkk/zigbee-herdsman-converters#6351);
- CO in ppm: ``co`` (exposes ``e.co()``, unit ppm: Tuya DCR-CO, DCR-RQJ, JKD-816COM-Z,
  TS0601_smoke_co, Moes ZC-HM, Heiman HS1CA-E-PLUS, Sonoff, Lincukoo), ``carbon_monoxide_value``
  (Nous E12), ``co_ppm`` (Halo); never ``co2`` (carbon DIOXIDE, an air-quality reading);
- IAS zones with both alarm bits publish ``<zone>_alarm_1``/``_alarm_2`` (``modernExtend.
  iasZoneAlarm``: water leak, gas, smoke on Sunricher SR-ZG9070A-SS, carbon monoxide on
  SR-ZG9060B-CS): either bit is the alarm; Tuya enum states ``smoke_state``, ``co_state``,
  ``gas_sensor_state`` (``alarm``/``normal``/``none``) are the detector's alarm flag;
- CTM Lyng AX Water Sensor names its alarm 1 ``active_water_leak`` (the leak now) and its
  alarm 2 ``water_leak`` (ctm.ts ``ctm_water_leak_alarm``): either is the leak;
- an IAS zone of no known type publishes its bits as ``alarm_1``/``alarm_2`` or ``alarm``
  (``iasZoneAlarm`` with ``zoneType: "generic"``: ORVIBO SE30 SOS button, Heiman HS2SA-5 and
  MultIR MIR-SM100-E smoke, Heiman HM-5HA-E heat; and Zigbee2MQTT's generated definition of
  any unsupported IAS device, src/lib/generateDefinition.ts). They say nothing without the
  zone type, so they are read by the REGISTERED kind (``devices.ias_zone``): a smoke, CO, gas
  or leak detector's bit is that alarm (a specific key in the same message wins), a door
  contact's is the door open (unless ``contact`` is there), an SOS button's is its alarm
  state (below); a heat detector's is not read (``Readings`` has no heat flag: a heat
  detector is judged by its temperature), an unregistered device's is ignored. ``alarm`` is
  text on some devices (a siren's mode, a window handle's ``ALARM``/``IDLE``): a value that
  is no flag is skipped, never the message; and ``"ON"``/``"OFF"`` text is a switch's
  setting, not the zone's bit (Tuya TS0601_smoke_5 "Enable the alarm", HOBEIAN ZG-226Z
  "Audible and visual alarm": read as the bit, the resident enabling the siren was a fire or
  a leak wherever the message lacked ``smoke``/``water_leak``: attribute output, or before
  the detector's first report). A boolean ``alarm`` stays the bit (Ecolink FFZB1-SM-ECO),
  though Tuya SA12IZL and Woox R7049 publish their "Alarm enable" setting as one;
- an SOS button's IAS alarm (``sos``: Feibit SEB01ZB, ``fz.ias_sos_alarm_2``; the generic
  bits on a registered SOS button: ORVIBO SE30, Koenkk/zigbee2mqtt#25421) is a STATE, each
  bit an ``InputState`` of its own name: Zigbee2MQTT re-publishes its cached state with every
  message (a battery report repeats ``alarm_1: true`` until the device clears it), and the
  edge reads an input's off → on as one press (``edge.detectors.inputs``). Bits are inputs
  apart, so that attribute output (one bit per message) is no flicker; a message whose
  ``action`` is a press says only the press (its alarm state beside it would raise again).
  The price, accepted: a later message repeating that bit is its first sighting, a second
  SOS marked ``first-sighting``; a device raising both bits at once raises twice. A duplicate
  SOS is better than a lost one;
- ZCL's "no measurement" temperatures, 0x7FFF and 0x8000 hundredths (327.67 and
  −327.68 °C: OWON THS317-ET reports 327.67 below −20 °C, Koenkk/zigbee2mqtt#15173), are no
  temperature (``devices.lenient.measured_celsius``, every adapter's); nor is one outside
  what a reading may hold (below −100 °C, above 1500 °C, not finite): Tuya devices decode a
  temperature below 0 °C as 6550.9 °C (Koenkk/zigbee2mqtt#20774, #31813) or −326.76 °C
  (Koenkk/zigbee-herdsman-converters#11459). It is dropped, and the message's other
  readings kept: a smoke detector with a thermometer (Tuya 228WZH) in a cold stairwell
  lost its ``smoke: true`` with the whole message;
- ``gas`` is a flag everywhere but on Lincukoo E04CF-Z10T, where a number is % LEL
  (``e.numeric("gas").withUnit("%LEL")``): a number is read as ``gas_lel_pct``;
- the self-test (``test``, ``testing``, ``self_test`` as a flag or ``checking``/``Checking``,
  ``self_test_result: "checking"``; Tuya's other names: ``self_checking`` and
  ``checking_result`` on Alecto SMART-SMOKE10 and Lincukoo gas/CO, ``test_alarm`` and
  ``test_alarm_result`` on Woox R7049) is ``smoke_test``: the detector's own alarm flags
  meanwhile are a test, never a fire, CO or gas (edge.detection_rules), for as long as a
  test takes (a flag left standing in Zigbee2MQTT's cache is then no longer believed);
- ``battery_state``/``battery_level`` ``low`` is ``battery_low``;
- a presence radar's ``presence`` (exposes ``e.presence()``: Aqara FP1, Tuya mmWave) is
  ``presence``: someone there, moving or still. Its ``presence_state`` says both: ``none``
  is nobody there, any other name someone there, and the moving ones (``move``,
  ``small_movement``, ``large_movement``, ``motion``) are also ``occupancy``, as a motion
  sensor's; so is a radar's ``motion_state`` ``small``/``medium``/``large`` (``none`` and
  ``static`` are no motion). A radar re-sends ``presence: true`` for as long as someone is
  in view, a person lying still after a fall too; so only its changes are signs of life in a
  care household (``hub.care.rules``), not its repetitions;
- deliberately NOT read: ``gas_value`` and ``gas_density`` (their unit differs by model: % LEL
  on Tuya TS0601_gas_sensor_2 and Aqara JT-BZ-01AQ/A, ppm on Tuya ZG-225Z, a raw 0-255 density
  on Xiaomi JTQJ-BF-01LM/BW; the payload does not say which, so such detectors rely on their
  ``gas`` flag), ``smoke_concentration`` ("ppm of smoke", no obscuration unit), and
  ``fault``, ``fault_alarm``, ``device_fault``, ``trouble``, ``preheat``: a fault is never an
  alarm.
"""

import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from devices.errors import PayloadError
from devices.ias_zone import fill_zone_alarm
from devices.kinds import DeviceKind
from devices.lenient import (
    LenientFlag,
    LenientNumber,
    clamp_percent,
    lenient_flag,
    lenient_number,
    lenient_time,
    measured_celsius,
)
from devices.observations import DeviceEvent, InputState, Observation, StateUpdate
from devices.payloads import (
    CELSIUS_MAX,
    CELSIUS_MIN,
    ButtonEvent,
    DropReason,
    Readings,
    note_dropped,
)

logger = logging.getLogger(__name__)

# Zigbee2MQTT action names (zigbee-herdsman-converters) mapped to Linli button events. Not
# "off": Heiman HS1EB and ORVIBO SE21 emergency buttons send it for zone status 0 (no alarm).
ACTION_EVENTS: dict[str, str] = {
    "emergency": ButtonEvent.PRESS,
    "sos": ButtonEvent.PRESS,
    "panic": ButtonEvent.PRESS,
    "single": ButtonEvent.PRESS,
    "press": ButtonEvent.PRESS,
    "on": ButtonEvent.PRESS,
    "double": ButtonEvent.DOUBLE_PRESS,
    "long": ButtonEvent.LONG_PRESS,
    "hold": ButtonEvent.LONG_PRESS,
}

GESTURES: dict[str, str] = {
    "single": ButtonEvent.PRESS,
    "press": ButtonEvent.PRESS,
    "toggle": ButtonEvent.PRESS,
    "triple": ButtonEvent.PRESS,
    "quadruple": ButtonEvent.PRESS,
    "many": ButtonEvent.PRESS,
    "double": ButtonEvent.DOUBLE_PRESS,
    "long": ButtonEvent.LONG_PRESS,
    "hold": ButtonEvent.LONG_PRESS,
}
"""The gesture in a generic button's action, once its button is taken off the name. A
panicking hand presses three times or more as readily as twice: a press."""

_BUTTON_PREFIX = re.compile(r"(?:button_)?[0-9]{1,2}_")
"""Multi-button remotes name the button first: Tuya TS0041-TS0044 ``1_single``, Aqara Opple
``button_1_double``."""
_BUTTON_SUFFIX = re.compile(r"_(?:left|right|both|[0-9]{1,2})$")
"""Or after the gesture: Aqara WXKG02LM/WXKG07LM ``single_left``, ``hold_both``."""
_HUE_DIMMER = re.compile(r"(?:on|off|up|down)_(press|hold)")
"""Philips Hue dimmers: ``on_press``, ``on_hold``; each is followed by its ``…_release``."""


def action_event(action: str) -> str | None:
    """Return the button event a Zigbee2MQTT ``action`` is, or None for one that is not a
    press (a release, a dimming step, an emergency button's ``off`` at rest).

    SOS buttons say ``emergency``; a generic wireless button pressed for help names its
    gesture, often with its button: ``1_single``, ``button_1_double``, ``single_left``,
    ``on_press``. A release (``release``, ``on_press_release``, ``button_1_release``) follows
    every press or hold and is never one.
    """
    event = ACTION_EVENTS.get(action)
    if event is not None:
        return event
    name = action.strip().lower()
    if name.endswith("release"):
        return None
    if hue := _HUE_DIMMER.fullmatch(name):
        return ButtonEvent.PRESS if hue.group(1) == "press" else ButtonEvent.LONG_PRESS
    if prefix := _BUTTON_PREFIX.match(name):
        name = name[prefix.end() :]
    return GESTURES.get(_BUTTON_SUFFIX.sub("", name))


ALARM_STATES: dict[str, bool] = {"alarm": True, "normal": False, "none": False}
"""Tuya enum states of a detector (``smoke_state``, ``co_state``, ``gas_sensor_state``);
``detecting``/``unknown`` say nothing."""

SELF_TEST_STATES: dict[str, bool] = {
    "checking": True,
    "test": True,
    "idle": False,
    "success": False,
    "failure": False,
    "others": False,
    "check_success": False,
    "check_failure": False,
}
"""Text forms of a detector's self-test (``self_test``, ``self_test_result``, Nous ``test``):
only ``checking``/``test`` say a test is running now."""

PRESENCE_STATES: dict[str, bool] = {
    "none": False,
    "presence": False,
    "peaceful": False,
    "stationary": False,
    "small_movement": True,
    "large_movement": True,
    "motion": True,
    "move": True,
}
"""A presence radar's ``presence_state`` (Tuya, Aqara), by name: whether it says someone
*moves*. Any name here but ``none`` says someone is there."""

MOTION_STATES: dict[str, bool] = {
    "none": False,
    "static": False,
    "small": True,
    "medium": True,
    "large": True,
}
"""A radar's ``motion_state`` (Tuya ZG-204ZM, ZG-204ZV: ``e.enum("motion_state", …, ["none",
"large", "small", "static"])``): whether someone moves; ``static`` is someone there, still."""

BATTERY_STATES: dict[str, bool] = {"low": True, "middle": False, "medium": False, "high": False}
"""Tuya ``battery_state`` / ``battery_level`` text → the low-battery flag."""


def _enum_text(value: Any) -> str | None:
    # A state name is auxiliary (the alarm flags are strict): one in an unexpected form is
    # logged and skipped, so it never costs the alarm flag beside it in the same message.
    if isinstance(value, str) and value:
        return value.strip().lower().replace(" ", "_")
    if value not in (None, ""):
        logger.debug("ignoring Zigbee2MQTT state %r", value)
    return None


def _text_state(table: Mapping[str, bool]) -> Callable[[Any], bool | None]:
    def parse(value: Any) -> bool | None:
        text = _enum_text(value)
        if text is None:
            return None
        if text not in table:
            logger.debug("ignoring Zigbee2MQTT state %r", value)
        return table.get(text)

    return parse


def _known_text(table: Mapping[str, bool]) -> Callable[[Any], str | None]:
    def parse(value: Any) -> str | None:
        text = _enum_text(value)
        if text is not None and text not in table:
            logger.debug("ignoring Zigbee2MQTT state %r", value)
            return None
        return text

    return parse


def _flag_or_text_state(table: Mapping[str, bool]) -> Callable[[Any], bool | None]:
    by_text = _text_state(table)

    def parse(value: Any) -> bool | None:
        try:
            return lenient_flag(value)
        except ValueError:
            return by_text(value)

    return parse


def _flag_or_nothing(value: Any) -> bool | None:
    """Read a generic IAS bit: a flag; anything else (``alarm`` is a siren's mode on some
    devices) is skipped, never the message."""
    try:
        return lenient_flag(value)
    except ValueError:
        logger.debug("ignoring Zigbee2MQTT alarm %r", value)
        return None


def _flag_or_level(value: Any) -> bool | float | None:
    """Read ``gas``: a flag almost everywhere, a level in % LEL on Lincukoo E04CF-Z10T (a
    number no float holds is no level, as ``lenient_number`` reads it)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return lenient_number(value)
    return lenient_flag(value)


def _time_or_nothing(value: Any) -> datetime | None:
    """Read ``last_seen``, which the bridge writes itself; one it cannot have written is
    dropped and noted (as a native ``ts``), never the press or the alarm beside it."""
    try:
        return lenient_time(value)
    except ValueError:
        note_dropped("last_seen", DropReason.UNREADABLE_TIME, value)
        return None


AlarmState = Annotated[bool | None, BeforeValidator(_text_state(ALARM_STATES))]
SelfTest = Annotated[bool | None, BeforeValidator(_flag_or_text_state(SELF_TEST_STATES))]
BatteryState = Annotated[bool | None, BeforeValidator(_text_state(BATTERY_STATES))]
PresenceState = Annotated[str | None, BeforeValidator(_known_text(PRESENCE_STATES))]
MotionState = Annotated[bool | None, BeforeValidator(_text_state(MOTION_STATES))]
GasReading = Annotated[bool | float | None, BeforeValidator(_flag_or_level)]
GenericAlarm = Annotated[bool | None, BeforeValidator(_flag_or_nothing)]


class ZigbeePayload(BaseModel):
    """The fields of a Zigbee2MQTT device message that Linli reads; the rest is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    smoke: LenientFlag = None
    smoke_alarm_1: LenientFlag = None
    smoke_alarm_2: LenientFlag = None
    smoke_state: AlarmState = None
    test: SelfTest = None
    testing: SelfTest = None
    self_test: SelfTest = None
    self_test_result: SelfTest = None
    self_checking: SelfTest = None
    checking_result: SelfTest = None
    test_alarm: SelfTest = None
    test_alarm_result: SelfTest = None
    water_leak: LenientFlag = None
    water_leak_alarm_1: LenientFlag = None
    water_leak_alarm_2: LenientFlag = None
    active_water_leak: LenientFlag = None
    contact: LenientFlag = None
    occupancy: LenientFlag = None
    presence: LenientFlag = None
    presence_state: PresenceState = None
    motion_state: MotionState = None
    tamper: LenientFlag = None
    gas: GasReading = None
    gas_alarm_1: LenientFlag = None
    gas_alarm_2: LenientFlag = None
    gas_sensor_state: AlarmState = None
    carbon_monoxide: LenientFlag = None
    carbon_monoxide_alarm_1: LenientFlag = None
    carbon_monoxide_alarm_2: LenientFlag = None
    co_state: AlarmState = None
    co: LenientNumber = None
    carbon_monoxide_value: LenientNumber = None
    co_ppm: LenientNumber = None
    battery_low: LenientFlag = None
    battery_state: BatteryState = None
    battery_level: BatteryState = None
    smoke_density_dbm: LenientNumber = None
    battery: LenientNumber = None
    temperature: LenientNumber = None
    humidity: LenientNumber = None
    sos: LenientFlag = None
    alarm_1: GenericAlarm = None
    alarm_2: GenericAlarm = None
    alarm: GenericAlarm = None
    action: str | None = None
    click: str | None = None
    last_seen: Annotated[datetime | None, BeforeValidator(_time_or_nothing)] = None


def _any(*flags: bool | None) -> bool | None:
    """Combine flags that say the same thing: any true is true, else any false is false."""
    combined: bool | None = None
    for flag in flags:  # a loop, not any() over generators: this runs per message
        if flag is True:
            return True
        if flag is False:
            combined = False
    return combined


def _first(*numbers: float | None) -> float | None:
    return next((n for n in numbers if n is not None), None)


def _moving(state: str | None) -> bool | None:
    return None if state is None else PRESENCE_STATES[state]


def _someone_there(state: str | None) -> bool | None:
    return None if state is None else state != "none"


def _plausible_celsius(celsius: float | None) -> float | None:
    """Return a temperature, or None for one no sensor measures (logged): the message's other
    readings, its alarm flags first, are kept (before, the whole message was refused)."""
    if celsius is not None and not CELSIUS_MIN <= celsius <= CELSIUS_MAX:
        logger.debug("ignoring Zigbee2MQTT temperature %r: no measurement", celsius)
        return None
    return celsius


def _a_setting(value: Any) -> bool:
    """Whether a bare ``alarm`` is a switch's setting, ``"ON"``/``"OFF"`` text (Tuya
    ``valueConverter.onOff``: TS0601_smoke_5's "Enable the alarm", ZG-226Z's "Audible and
    visual alarm"), never an IAS zone's bit, which every converter publishes as a boolean."""
    return isinstance(value, str) and value.strip().upper() in ("ON", "OFF")


def _readings(z: ZigbeePayload, kind: DeviceKind | None, *, alarm_setting: bool) -> Readings:
    gas_flag = z.gas if isinstance(z.gas, bool) else None
    gas_level = None if isinstance(z.gas, bool) else clamp_percent(z.gas)
    values: dict[str, Any] = {
        "smoke": _any(z.smoke, z.smoke_alarm_1, z.smoke_alarm_2, z.smoke_state),
        "smoke_test": _any(
            z.test,
            z.testing,
            z.self_test,
            z.self_test_result,
            z.self_checking,
            z.checking_result,
            z.test_alarm,
            z.test_alarm_result,
        ),
        "water_leak": _any(
            z.water_leak, z.water_leak_alarm_1, z.water_leak_alarm_2, z.active_water_leak
        ),
        "contact": z.contact,
        "occupancy": _any(z.occupancy, _moving(z.presence_state), z.motion_state),
        "presence": _any(z.presence, _someone_there(z.presence_state)),
        "tamper": z.tamper,
        "gas": _any(gas_flag, z.gas_alarm_1, z.gas_alarm_2, z.gas_sensor_state),
        "gas_lel_pct": gas_level,
        "co_alarm": _any(
            z.carbon_monoxide, z.carbon_monoxide_alarm_1, z.carbon_monoxide_alarm_2, z.co_state
        ),
        "co_ppm": _first(z.co, z.carbon_monoxide_value, z.co_ppm),
        "battery_low": _any(z.battery_low, z.battery_state, z.battery_level),
        "battery_pct": clamp_percent(z.battery),
        "temperature_c": _plausible_celsius(measured_celsius(z.temperature, "Zigbee2MQTT")),
        "humidity_pct": clamp_percent(z.humidity),
        "smoke_density_db_per_m": (
            None if z.smoke_density_dbm is None else max(z.smoke_density_dbm, 0.0)
        ),
    }
    generic = _any(z.alarm_1, z.alarm_2, None if alarm_setting else z.alarm)
    if generic is not None and kind is not DeviceKind.SOS_BUTTON:
        fill_zone_alarm(generic, kind, values, "Zigbee2MQTT alarm_1/alarm_2/alarm")
    return Readings.model_validate({k: v for k, v in values.items() if v is not None})


def _alarm_inputs(z: ZigbeePayload, kind: DeviceKind | None) -> list[Observation]:
    """Return an SOS button's IAS alarm bits as the states of inputs of their own names."""
    bits = {"sos": z.sos}
    if kind is DeviceKind.SOS_BUTTON:
        bits.update(alarm_1=z.alarm_1, alarm_2=z.alarm_2, alarm=z.alarm)
    return [InputState(name, on, z.last_seen) for name, on in bits.items() if on is not None]


def decode_zigbee_state(
    data: dict[str, Any], kind: DeviceKind | None = None
) -> tuple[Observation, ...]:
    """Map one Zigbee2MQTT device message to Linli observations; ``kind`` is the registered
    kind of its device (None: nobody registered it), which the generic IAS bits need."""
    try:
        z = ZigbeePayload.model_validate(data)
        readings = _readings(z, kind, alarm_setting=_a_setting(data.get("alarm")))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise PayloadError(f"Zigbee2MQTT payload: {where}: {first['msg']}") from exc
    observations: list[Observation] = []
    if readings.present():
        observations.append(StateUpdate(readings, z.last_seen))
    # Bridges before the "action" key said "click" (legacy mode); one with both keys sends
    # them in separate messages for one press (Koenkk/zigbee2mqtt#21661): "click" counts only
    # where the message has no "action" at all.
    action = z.action if "action" in data else z.click
    event = action_event(action) if action else None
    if action and event is None:
        logger.debug("ignoring Zigbee2MQTT action %r", action)
    if event is not None:
        observations.append(DeviceEvent(event, z.last_seen))
    else:
        # The press says it all: its alarm state beside it would be a second one.
        observations += _alarm_inputs(z, kind)
    return tuple(observations)


TEXT_ATTRIBUTES = frozenset({"action", "click"})
"""Attributes whose value is text even where it reads as a number (an action ``1_single``
would not, a button's ``1`` would)."""


def decode_zigbee_attribute(
    key: str, text: str, kind: DeviceKind | None = None
) -> tuple[Observation, ...]:
    """Map one attribute of a Zigbee2MQTT device's state, published on its own topic
    (``advanced.output: attribute``), to Linli observations, as its key in a whole message
    of a device of ``kind``.

    Zigbee2MQTT writes the value as it is for text, as JSON for numbers and booleans, and an
    empty payload for null (``Controller.iteratePayloadAttributeOutput``).
    """
    value: Any = text
    if text == "":
        value = None
    elif key not in TEXT_ATTRIBUTES:
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            value = text
    return decode_zigbee_state({key: value}, kind)


ANNOUNCE_TYPES = frozenset({"device_announce", "device_joined"})
"""``bridge/event`` types that say a device (re)joined the network."""


def decode_zigbee_announce(data: Any) -> str | None:
    """Return the friendly name a ``bridge/event`` announces (re)joining, else None."""
    if not isinstance(data, dict) or data.get("type") not in ANNOUNCE_TYPES:
        return None
    body = data.get("data")
    name = body.get("friendly_name") if isinstance(body, dict) else None
    return name if isinstance(name, str) and name else None


def decode_zigbee_availability(text: str, data: Any) -> bool:
    """Return whether a Zigbee2MQTT availability payload says online."""
    state = data.get("state") if isinstance(data, dict) else text.strip()
    if state not in ("online", "offline"):
        raise PayloadError(f"availability {text[:40]!r} is neither online nor offline")
    return state == "online"
