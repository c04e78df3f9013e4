"""Tasmota payloads, as devices really send them, mapped to Linli readings and events.

Two kinds of Tasmota device reach an edge (shared/realdata tasmota_zigbee_and_sensors.json):

- a wired Tasmota (ESP board with a DS18B20, AM2301, ...): ``tele/<topic>/SENSOR`` holds one
  object per sensor, ``{"Time": ..., "AM2301": {"Temperature": 24.6, ...}, "TempUnit": "C"}``;
  registered with ``tasmota_topic = "<topic>"``. Several temperature probes on one Tasmota
  report the hottest: a heat detector must not miss the probe near the fire.
- Zigbee devices behind a Tasmota Zigbee bridge (Zigbee2Tasmota, Sonoff ZBBridge):
  ``{"ZbReceived": {"0x2916": {"Device": "0x2916", "Name": "Kitchen", ...}}}``, keyed by the
  short address, or by the friendly name with ``SetOption83 1``; per-device topics with
  ``SetOption89 1`` (and the other output options: ``_zigbee_entries``). Registered with
  ``tasmota_topic = "<bridge topic>/<name or 0xSHORT>"``: the friendly name survives a
  re-pairing, the short address does not.

Quirks handled here:

- Tasmota's ``Contact`` is 1 when the door is OPEN (IAS zone alarm), Linli's ``contact`` is
  true when CLOSED: inverted;
- an IAS zone change may come without its decoded key (``ZoneStatusChange: 1`` but no
  ``Water``: arendst/Tasmota#14096), or only as the raw ``"0500<00": "010000FF0000"``: the zone
  status bits are then read by the registered device's kind (a water sensor's alarm bit is a
  leak, a smoke detector's is smoke, an SOS button's is a press: ``devices.ias_zone``); the
  test bit (0x0100) of a smoke, CO or gas detector is its self-test, ``smoke_test``;
- a Zigbee button that is no IAS zone (Sonoff SNZB-01) sends On/Off cluster commands, as
  ``"0006!02": ""`` (arendst/Tasmota#9216: a single press is ``{"Device":"0xECE2",
  "0006!02":"","Power":2,"Endpoint":1,"LinkQuality":71}``): 02 toggle, 01 on, 00 off, which
  the SNZB-01 sends for a single, a double and a long press. Read on a registered SOS button
  only, by the command (``ON_OFF_COMMANDS``), never by ``Power``: a plug's ``Power`` is its
  relay's state;
- an IAS zone's status may also come as its attribute, ``"ZoneStatus": 1`` (a report or a
  read's response: tasmota/docs Zigbee.md, 0x0500/0x0002), read as the notification's bits
  are; on an SOS button it is the button's alarm STATE (``InputState``), not a press each
  time it is reported;
- an Aqara button (WXKG11LM, WXKG12LM) behind the bridge says ``"Click": "single"``
  (``double``, ``triple``, ``quadruple``, ``hold``; then ``release``): a press, a double
  press, a press, a press, a long press (``AQARA_CLICKS``);
- ``Name`` may carry stray spaces (``" door_sensor"``);
- ``Time`` is the device's local time without a zone: not used, the edge's receive time is;
- ``TempUnit: "F"`` converts wired readings to °C (Zigbee readings are always °C);
- an ESP32 reports its own chip's temperature as ``"ESP32": {"Temperature": 55.3}``
  (home-assistant/core#128956): not the room's, and near a heat detector's 57 °C, so skipped;
- the ``ANALOG`` block's ``Temperature`` is an NTC on the ESP8266's A0: often the relay's own
  thermistor (a Shelly 1PM, 2.5 or Plug S under Tasmota), or junk from an input left open.
  Tasmota's xdrv_59_influxdb.ino quotes one beside two real probes: ``"ANALOG":
  {"Temperature": 184.72}, "DS18B20": {"Temperature": 27.50}, "HTU21": {"Temperature":
  28.23}``. It counts only where no other block has a temperature (a thermistor on A0 is
  sometimes the only probe);
- ZCL's "no measurement" temperatures, 327.67 and −327.68 °C (0x7FFF and 0x8000 hundredths:
  OWON THS317-ET below −20 °C, Koenkk/zigbee2mqtt#15173), are no temperature, Zigbee or
  wired (``devices.lenient.measured_celsius``);
- a wired button detached from its relay (``SetOption73 1``) says ``{"Button1": {"Action":
  "SINGLE"}}`` on ``stat/<topic>/RESULT``: ``SINGLE``/``DOUBLE``/``HOLD`` are a press, a double
  press and a long press; ``TRIPLE``, ``QUAD``, ``PENTA`` a press too (a panicking hand
  presses three times as readily as twice, as Zigbee2MQTT's ``triple`` is read);
- a wired switch input, a pull cord's: ``{"Switch1": {"Action": "ON"}}`` on
  ``stat/<topic>/RESULT`` (``SetOption114 1``: switches detached from the relays) or
  ``"Switch1": "ON"`` in ``tele/<topic>/SENSOR`` (``SwitchMode 15``) is the input's state
  (``InputState``: the edge reads off → on on an SOS button as a press); ``TOGGLE`` and the
  other actions of a toggle switch say no state and are not read;
- a DS18x20 probe (``"DS18B20"``, ``"DS18B20-1"``, ``"DS18B20_2"`` with ``SetOption64 1``,
  ``"DS18S20"``, ``"DS1822"``) reports -127 °C when it is disconnected or its CRC fails, and
  85.0 °C exactly when it was read before any conversion (its power-on reset value). Below
  its -55 °C range it is no temperature (dropped, the message's other readings kept); an
  exact 85.0 is both that error and a plausible fire, so it is passed on marked doubtful
  (``StateUpdate.doubtful``) when it is the hottest probe: detection lets it confirm the fixed
  temperature only together with a reading that is not doubtful (``edge.detectors.heat``);
- ``LWT`` is plain text ``Online``/``Offline``; Tasmota's docs print some SENSOR examples with
  a closing brace missing: refused as malformed JSON.
"""

import logging
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from devices.errors import PayloadError
from devices.ias_zone import (
    SELF_TESTED,
    ZONE_ALARM1,
    ZONE_ALARM2,
    ZONE_BATTERY_LOW,
    ZONE_TAMPER,
    ZONE_TEST,
    fill_zone_alarm,
)
from devices.kinds import DeviceKind
from devices.lenient import (
    LenientFlag,
    LenientNumber,
    clamp_percent,
    json_object,
    log_unknown_keys,
    measured_celsius,
    read_number,
)
from devices.observations import (
    AvailabilityChange,
    Decoded,
    DeviceAddress,
    DeviceEvent,
    InputState,
    Observation,
    StateUpdate,
    TasmotaAddress,
)
from devices.payloads import ButtonEvent, Readings
from devices.topics import TasmotaChannel, TasmotaTopic

logger = logging.getLogger(__name__)

KindOf = Callable[[DeviceAddress], DeviceKind | None]
"""The kind of the device registered at an address, None if nobody registered it."""

CHIP_SENSORS = frozenset({"ESP32"})
"""SENSOR objects that hold the microcontroller's own temperature, not a room's."""
ANALOG_SENSOR = "ANALOG"
"""The SENSOR object of the ESP8266's A0 input: its temperature is read only where no other
object has one (often the relay's own NTC, or an input left open)."""

ON_OFF_COMMANDS: dict[str, str] = {
    "0006!02": ButtonEvent.PRESS,
    "0006!01": ButtonEvent.DOUBLE_PRESS,
    "0006!00": ButtonEvent.LONG_PRESS,
}
"""On/Off cluster commands a Zigbee button sent (toggle, on, off), as Sonoff SNZB-01 sends
them for a single, a double and a long press; an SOS button's gestures."""

DS18X20_SENSOR = re.compile(r"(?:DS18[BS]20|DS1822|MAX31850)(?:[-_][0-9]+)?")
"""Tasmota's names of a DS18x20 probe's SENSOR object: alone, or numbered (``-1``, or ``_1``
with ``SetOption64 1``) when several share the bus."""
DS18X20_MIN_C = -55.0
"""The DS18x20's lowest measurable temperature; its -127 °C (no device, CRC error) is below."""
DS18X20_POWER_ON_C = 85.0
"""The DS18x20's temperature register at power-on: read before a conversion, it says 85.0."""

AQARA_CLICKS: dict[str, str] = {
    "single": ButtonEvent.PRESS,
    "double": ButtonEvent.DOUBLE_PRESS,
    "triple": ButtonEvent.PRESS,
    "quadruple": ButtonEvent.PRESS,
    "hold": ButtonEvent.LONG_PRESS,
}
"""An Aqara button's ``Click`` (``lumi.remote*``, ``lumi.sensor_swit*``: Tasmota's
``syntheticAqaraCubeOrButton``); ``release`` and ``shake`` are no press. Three presses or
more are a press, as Zigbee2MQTT's ``triple``."""
ZONE_STATUS_INPUT = "ZoneStatus"
"""The input an SOS button's ``ZoneStatus`` attribute is the state of."""

_SHORT_ADDRESS = re.compile(r"(?:0x)?([0-9A-Fa-f]{4})")
_ZONE_HEX = re.compile(r"[0-9A-Fa-f]{4,}")


def tasmota_key(value: str) -> str:
    """Return how a registered ``tasmota_topic`` is matched: a short address as ``0xABCD``.

    ``"zbbridge/0x8f20"`` and ``"zbbridge/8F20"`` name the same device; names stay as they
    are, stripped.
    """
    topic, sep, zigbee = value.strip().partition("/")
    if not sep:
        return topic
    return f"{topic}/{_zigbee_name(zigbee)}"


def address_keys(address: TasmotaAddress) -> list[str]:
    """Return the registered ``tasmota_topic`` values that may name ``address``, best first."""
    if not address.zigbee:
        return [address.topic]
    return [f"{address.topic}/{name}" for name in address.zigbee]


def _zigbee_name(name: str) -> str:
    name = name.strip()
    short = _SHORT_ADDRESS.fullmatch(name)
    return f"0x{short.group(1).upper()}" if short else name


class TasmotaZigbeeEntry(BaseModel):
    """The fields of one ``ZbReceived`` device that Linli reads; the rest is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    device: str | None = Field(None, alias="Device")
    name: str | None = Field(None, alias="Name")
    temperature: LenientNumber = Field(None, alias="Temperature")
    humidity: LenientNumber = Field(None, alias="Humidity")
    battery: LenientNumber = Field(
        None, validation_alias=AliasChoices("BatteryPercentage", "Battery")
    )
    water: LenientFlag = Field(None, alias="Water")
    fire: LenientFlag = Field(None, alias="Fire")
    contact: LenientFlag = Field(None, alias="Contact")
    co: LenientFlag = Field(None, alias="CO")
    tamper: LenientFlag = Field(None, alias="Tamper")
    zone_status: int | None = Field(None, alias="ZoneStatusChange")
    zone_raw: str | None = Field(None, validation_alias=AliasChoices("0500<00", "0500!00"))
    zone_attribute: int | None = Field(None, alias="ZoneStatus")
    click: str | None = Field(None, alias="Click")


_ENTRY_KEYS = frozenset(
    {
        "Device",
        "Name",
        "Temperature",
        "Humidity",
        "BatteryPercentage",
        "Battery",
        "Water",
        "Fire",
        "Contact",
        "CO",
        "Tamper",
        "ZoneStatusChange",
        "0500<00",
        "0500!00",
        "ZoneStatus",
        "Click",
        "click",
        "Endpoint",
        "LinkQuality",
        *ON_OFF_COMMANDS,
    }
)


def decode_tasmota(parsed: TasmotaTopic, text: str, kind_of: KindOf) -> tuple[Decoded, ...]:
    """Map one Tasmota message to the observations of each device it speaks for."""
    if parsed.channel is TasmotaChannel.LWT:
        state = text.strip()
        if state not in ("Online", "Offline"):
            raise PayloadError(f"Tasmota LWT {text[:40]!r} is neither Online nor Offline")
        return (Decoded(TasmotaAddress(parsed.topic), (AvailabilityChange(state == "Online"),)),)
    data = json_object(text)
    status = data.get("StatusSNS")
    if isinstance(status, dict):
        data = status
    received = _zigbee_entries(data)
    if received is not None:
        return tuple(_decode_zigbee(parsed, key, entry, kind_of) for key, entry in received.items())
    return (Decoded(TasmotaAddress(parsed.topic), _decode_wired(parsed.topic, data)),)


def _zigbee_entries(data: dict[str, Any]) -> dict[str, Any] | None:
    """Return a Zigbee bridge's devices in a message, by the key each is under; None for a
    wired Tasmota's sensors.

    A bridge writes every device's entry with its ``Device`` (the short address), wrapped in
    ``{"ZbReceived": {"<key>": entry}}`` by default. ``SetOption100 1`` drops the wrapper,
    ``SetOption119 1`` the key (the entry alone, its device named by the topic), both the
    entry alone; ``SetOption118 1`` moves ``ZbReceived`` into the topic.
    """
    if "ZbReceived" in data:
        received = data["ZbReceived"]
        if not isinstance(received, dict):
            raise PayloadError("ZbReceived must be a JSON object", reason="wrong_type")
        return {"": received} if "Device" in received else received
    if "Device" in data:
        return {"": data}
    entries = {k: v for k, v in data.items() if isinstance(v, dict) and "Device" in v}
    return entries or None


def _decode_zigbee(parsed: TasmotaTopic, key: str, entry: Any, kind_of: KindOf) -> Decoded:
    if not isinstance(entry, dict):
        raise PayloadError(f"ZbReceived[{key!r}] must be a JSON object", reason="wrong_type")
    try:
        z = TasmotaZigbeeEntry.model_validate(entry)
    except ValidationError as exc:
        raise PayloadError(
            f"Tasmota Zigbee payload has wrong types: {exc.errors()[0]['msg']}", reason="wrong_type"
        ) from exc
    log_unknown_keys(f"tasmota {parsed.topic} {key}", entry, _ENTRY_KEYS)
    names: list[str] = []
    for candidate in (z.name, key, z.device, parsed.zigbee):
        if candidate and candidate.strip() and _zigbee_name(candidate) not in names:
            names.append(_zigbee_name(candidate))
    address = TasmotaAddress(parsed.topic, tuple(names))
    kind = kind_of(address)
    where = f"tasmota {parsed.topic} {key}"
    values: dict[str, Any] = {
        "temperature_c": measured_celsius(z.temperature, where),
        "humidity_pct": clamp_percent(z.humidity),
        "battery_pct": clamp_percent(z.battery),
        "water_leak": z.water,
        "smoke": z.fire,
        "contact": None if z.contact is None else not z.contact,
        "co_alarm": z.co,
        "tamper": z.tamper,
    }
    events: list[Observation] = []
    zone = z.zone_status if z.zone_status is not None else _zone_from_raw(z.zone_raw)
    if zone is not None:
        events = _apply_zone(zone, kind, values, where)
    elif z.zone_attribute is not None:
        events = _apply_zone(z.zone_attribute, kind, values, where, as_state=True)
    if kind is DeviceKind.SOS_BUTTON:
        events += [DeviceEvent(ON_OFF_COMMANDS[k]) for k in entry if k in ON_OFF_COMMANDS]
    clicked = AQARA_CLICKS.get(z.click.strip().lower()) if z.click else None
    if clicked is not None:
        events.append(DeviceEvent(clicked))
    readings = _readings({k: v for k, v in values.items() if v is not None}, parsed.topic)
    state: list[Observation] = [StateUpdate(readings)] if readings.present() else []
    return Decoded(address, (*state, *events))


def _zone_from_raw(raw: str | None) -> int | None:
    """Read the zone status of a raw ZoneStatusChangeNotification (little-endian uint16)."""
    if raw is None or not _ZONE_HEX.match(raw):
        return None
    return int(raw[2:4] + raw[0:2], 16)


def _apply_zone(
    zone: int,
    kind: DeviceKind | None,
    values: dict[str, Any],
    where: str,
    *,
    as_state: bool = False,
) -> list[Observation]:
    """Fill what an IAS zone status says into ``values``, by the device's kind.

    A decoded key (``Water``, ``Fire``, ``Contact``) wins over the bits: Tasmota knows the
    zone type, the registration may be wrong. Tasmota sends ``ZoneStatusChange`` when it
    changes (one Zigbee notification, not a cached state): an SOS button's alarm is a press.
    The ``ZoneStatus`` attribute (``as_state``: a report, repeated while it stands, or a
    read's response) is the button's alarm state, an ``InputState`` whose off → on the edge
    reads as one press.
    """
    alarm = bool(zone & (ZONE_ALARM1 | ZONE_ALARM2))
    if zone & ZONE_TAMPER:
        values["tamper"] = True
    if zone & ZONE_BATTERY_LOW:
        values["battery_low"] = True
    if zone & ZONE_TEST and kind in SELF_TESTED:
        values["smoke_test"] = True
    if kind is DeviceKind.SOS_BUTTON:
        if as_state:
            return [InputState(ZONE_STATUS_INPUT, alarm)]
        return [DeviceEvent(ButtonEvent.PRESS)] if alarm else []
    fill_zone_alarm(alarm, kind, values, f"{where}: zone status {zone:#06x}")
    return []


BUTTON_ACTIONS: dict[str, str] = {
    "SINGLE": ButtonEvent.PRESS,
    "DOUBLE": ButtonEvent.DOUBLE_PRESS,
    "TRIPLE": ButtonEvent.PRESS,
    "QUAD": ButtonEvent.PRESS,
    "PENTA": ButtonEvent.PRESS,
    "HOLD": ButtonEvent.LONG_PRESS,
}
"""A wired button's ``{"Button1": {"Action": "SINGLE"}}`` (``SetOption73 1``: the buttons
detached from the relays, arendst/Tasmota#23910). Three presses or more are a press, as
Zigbee2MQTT's ``triple``; ``CLEAR`` (the release after a hold) is none."""
_BUTTON = re.compile(r"Button[0-9]+")
_SWITCH = re.compile(r"Switch[0-9]+")
SWITCH_STATES: dict[str, bool] = {"ON": True, "OFF": False}
"""A switch input's state (``SwitchMode`` follow modes); ``TOGGLE``, ``HOLD`` … say none."""


def _decode_wired(topic: str, data: Mapping[str, Any]) -> tuple[Observation, ...]:
    fahrenheit = data.get("TempUnit") == "F"
    temperatures: list[float] = []
    analog: list[float] = []
    power_on: list[float] = []
    humidity: float | None = None
    events: list[Observation] = []
    for name, block in data.items():
        if _SWITCH.fullmatch(name):
            state = block.get("Action") if isinstance(block, dict) else block
            on = SWITCH_STATES.get(state.strip().upper()) if isinstance(state, str) else None
            if on is None:
                logger.debug("ignoring Tasmota %s %s %r", topic, name, block)
            else:
                events.append(InputState(name, on))
            continue
        if not isinstance(block, dict) or name in CHIP_SENSORS:
            continue
        if _BUTTON.fullmatch(name):
            action = block.get("Action")
            pressed = BUTTON_ACTIONS.get(action) if isinstance(action, str) else None
            if pressed:
                events.append(DeviceEvent(pressed))
            continue
        temperature = measured_celsius(read_number(block, "Temperature"), f"tasmota {topic} {name}")
        rh = read_number(block, "Humidity")
        if temperature is not None:
            celsius = (temperature - 32) * 5 / 9 if fahrenheit else temperature
            probes = analog if name == ANALOG_SENSOR else temperatures
            if DS18X20_SENSOR.fullmatch(name):
                if celsius < DS18X20_MIN_C:
                    logger.debug("tasmota %s %s: %s is a probe error, ignored", topic, name, block)
                    continue
                if abs(celsius - DS18X20_POWER_ON_C) < 0.05:
                    probes = power_on
            probes.append(celsius)
        if humidity is None and rh is not None:
            humidity = rh
        log_unknown_keys(f"tasmota {topic} {name}", block, ("Temperature", "Humidity", "Id"))
    temperatures = temperatures or analog
    # A power-on 85.0 counts as the hottest only if no measured probe is as hot; then doubtful.
    doubtful = bool(power_on) and max(power_on) > max(temperatures, default=-math.inf)
    temperatures += power_on
    readings = _readings(
        {
            k: v
            for k, v in {
                "temperature_c": max(temperatures) if temperatures else None,
                "humidity_pct": clamp_percent(humidity),
            }.items()
            if v is not None
        },
        topic,
    )
    marked = frozenset({"temperature_c"}) if doubtful else frozenset()
    state = (StateUpdate(readings, doubtful=marked),) if readings.present() else ()
    return state + tuple(events)


def _readings(values: dict[str, Any], topic: str) -> Readings:
    try:
        return Readings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PayloadError(
            f"Tasmota {topic}: {first['loc'][0]}: {first['msg']}", reason="wrong_type"
        ) from exc
