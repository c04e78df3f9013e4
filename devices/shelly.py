"""Shelly payloads, Gen1 and Gen2+, as devices really send them, mapped to Linli readings.

Gen1 (shared/realdata shelly_mqtt.json, from the ioBroker.shelly device maps): one plain-text
value per topic, ``shellies/<id>/sensor/<name>``:

- ``flood`` (Shelly Flood) and ``smoke`` (Shelly Smoke): ``true``/``false`` (also ``1``/``0``);
- ``temperature`` in the unit set on the device, which MQTT does not say: °C unless the
  device is registered with ``temperature_unit = "F"`` (``Device``), ``humidity``,
  ``battery``;
- ``state`` (Door/Window 2): ``open``/``close`` → ``contact`` (true = closed, as Linli's);
- ``gas`` (Shelly Gas): ``none`` → no gas, ``mild``/``heavy`` → the detector's gas alarm,
  ``test``/``unknown`` → nothing; ``concentration`` in ppm of natural gas → % LEL (methane's
  LEL is 5 % vol = 50 000 ppm, so 500 ppm = 1 % LEL);
- ``shellies/<id>/input_event/<n>`` ``{"event": "S", "event_cnt": 4}`` (Shelly Button1,
  inputs): ``S`` press, ``SS`` double, ``SSS`` (triple) a press too (a panicking hand presses
  three times as readily as twice, as Zigbee2MQTT's ``triple`` is read), ``L`` long. A mains
  Shelly re-publishes its last event
  every 30 s with the same ``event_cnt`` (bieniu/ha-shellies-discovery#91): the count goes with
  the event, and the edge takes a count it has seen as a repeat, not a press. A message with
  a count and no press (``{"event": "", "event_cnt": 0}``, what a Gen1 publishes after a
  restart until its first event) carries the count alone (``COUNT_ONLY``), so that the first
  press after a restart is not taken for a repeat of the last before it;
- ``shellies/<id>/input/<n>`` ``0``/``1``: the input terminal's state, in every input mode
  (a pull cord on an input in switch mode says only this). An ``InputState``: the edge
  decides what a change means (``edge.detectors.inputs``);
- ``shellies/<id>/online``: ``true``/``false`` (the device's last will).

Gen2+ (Plus, Pro, Gen3, Gen4): JSON-RPC notifications on ``<prefix>/events/rpc``. The device
is the one its prefix names (``rpc_sender``): the broker binds a Gen2 identity to its prefix,
never to the ``src`` it writes, so a ``src`` naming another registered device is refused.
``NotifyStatus``/``NotifyFullStatus`` with components
``temperature:N`` (``tC``), ``humidity:N`` (``rh``), ``devicepower:N`` (``battery.percent``),
``flood:N`` and ``smoke:N`` (``alarm``; a flood probe with its cable unplugged says
``alarm: null`` with ``errors: ["cable_unplugged"]``: no reading, logged; of several
instances, any alarming one is the alarm, as the hottest ``temperature:N`` is the
temperature), ``input:N``
(``state``: true/false for an input in switch mode, an ``InputState``; null in button
mode, whose pushes come as events); ``NotifyEvent``
with ``input:N`` events ``single_push``/``double_push``/``long_push``, and ``triple_push`` a
press as Gen1's ``SSS``. Also
``<prefix>/status/<component:id>`` (one component's status) and ``<prefix>/online``.

Device time (``ts``) is not used: battery Shellies wake with unsynchronised clocks. ZCL's
"no measurement" temperatures (327.67 and −327.68 °C) are no temperature here either, as in
every adapter (``devices.lenient.measured_celsius``).
"""

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from devices.errors import PayloadError
from devices.lenient import (
    clamp_percent,
    json_object,
    lenient_flag,
    lenient_number,
    log_unknown_keys,
    measured_celsius,
)
from devices.observations import (
    COUNT_ONLY,
    AvailabilityChange,
    Decoded,
    DeviceEvent,
    InputState,
    Observation,
    ShellyAddress,
    StateUpdate,
)
from devices.payloads import ButtonEvent, Readings
from devices.topics import ShellyChannel, ShellyTopic

logger = logging.getLogger(__name__)

T = TypeVar("T")

PPM_PER_LEL_PCT = 500.0
"""Natural gas (methane): LEL 5 % by volume = 50 000 ppm, so 1 % LEL = 500 ppm."""

GEN1_INPUT_EVENTS: dict[str, str] = {
    "S": ButtonEvent.PRESS,
    "SS": ButtonEvent.DOUBLE_PRESS,
    "SSS": ButtonEvent.PRESS,
    "L": ButtonEvent.LONG_PRESS,
}
GEN2_INPUT_EVENTS: dict[str, str] = {
    "single_push": ButtonEvent.PRESS,
    "double_push": ButtonEvent.DOUBLE_PRESS,
    "triple_push": ButtonEvent.PRESS,
    "long_push": ButtonEvent.LONG_PRESS,
}
"""A triple press is a press: a panicking hand presses three times as readily as twice."""
_GAS_ALARM = {"none": False, "mild": True, "heavy": True}


def _nobody(_: ShellyAddress) -> bool:
    return False


def decode_shelly(
    parsed: ShellyTopic,
    text: str,
    *,
    fahrenheit: Callable[[ShellyAddress], bool] = _nobody,
    registered: Callable[[ShellyAddress], bool] = _nobody,
) -> tuple[Decoded, ...]:
    """Map one Shelly message (Gen1 or Gen2+) to the observations of the device it names.

    ``fahrenheit`` tells whether a device's Gen1 ``sensor/temperature`` is in °F;
    ``registered`` whether a device is registered at an address (``rpc_sender``).
    """
    address = ShellyAddress(parsed.shelly_id)
    match parsed.channel:
        case ShellyChannel.ONLINE:
            online = _flag(text.strip(), "online")
            if online is None:
                raise PayloadError(f"Shelly online {text[:40]!r} is neither true nor false")
            return (Decoded(address, (AvailabilityChange(online),)),)
        case ShellyChannel.SENSOR:
            name, value = parsed.name or "", text.strip()
            return (Decoded(address, _gen1_sensor(name, value, fahrenheit(address))),)
        case ShellyChannel.INPUT_EVENT:
            body = json_object(text)
            event, count = body.get("event"), body.get("event_cnt")
            pressed = GEN1_INPUT_EVENTS.get(event) if isinstance(event, str) else None
            counted = (
                (parsed.name or "", count)
                if isinstance(count, int) and not isinstance(count, bool)
                else None
            )
            if pressed is None:
                # No press (a restart's ``""``, an i3's ``LS``): its count is still the one
                # the device goes on from, so the next press is not taken for a repeat.
                return (
                    Decoded(address, (DeviceEvent(COUNT_ONLY, count=counted),) if counted else ()),
                )
            return (Decoded(address, (DeviceEvent(pressed, count=counted),)),)
        case ShellyChannel.INPUT:
            on = _flag(text.strip(), f"input/{parsed.name}")
            if on is None:
                raise PayloadError(f"Shelly input {text[:40]!r} is neither 1 nor 0")
            return (Decoded(address, (InputState(parsed.name or "", on),)),)
        case ShellyChannel.STATUS:
            components = {parsed.name or "": json_object(text)}
            return (Decoded(address, _components(parsed.shelly_id, components)),)
        case ShellyChannel.RPC:
            return _rpc(parsed, json_object(text), registered)
    raise AssertionError(f"unhandled Shelly topic {parsed!r}")  # pragma: no cover


def _gen1_sensor(name: str, text: str, fahrenheit: bool) -> tuple[Observation, ...]:
    values: dict[str, Any]
    match name:
        case "flood":
            values = {"water_leak": _flag(text, name)}
        case "smoke":
            values = {"smoke": _flag(text, name)}
        case "temperature":
            value = measured_celsius(_number(text, name), f"Shelly sensor/{name}")
            if fahrenheit and value is not None:
                value = round((value - 32) * 5 / 9, 2)
            values = {"temperature_c": value}
        case "humidity":
            values = {"humidity_pct": clamp_percent(_number(text, name))}
        case "battery":
            values = {"battery_pct": clamp_percent(_number(text, name))}
        case "state":
            if text not in ("open", "close"):
                raise PayloadError(f"sensor/state {text[:40]!r} is neither open nor close")
            values = {"contact": text == "close"}
        case "gas":
            values = {"gas": _GAS_ALARM.get(text)}
        case "concentration":
            ppm = _number(text, name)
            values = {"gas_lel_pct": None if ppm is None else clamp_percent(ppm / PPM_PER_LEL_PCT)}
        case _:
            logger.debug("ignoring Shelly sensor/%s", name)
            return ()
    return _state(values)


def rpc_sender(
    topic_id: str, src: object, registered: Callable[[ShellyAddress], bool]
) -> ShellyAddress:
    """Return the device a Gen2+ notification on ``<prefix>/events/rpc`` speaks for: the one
    its prefix names (``topic_id``, the prefix's last level).

    The firmware writes its own id in ``src``, the prefix's by default. Only the prefix is
    vouched for (the broker's ACL binds a ``shelly-gen2-<prefix>`` identity to it), so a
    ``src`` that names another registered device than the prefix's is a device speaking for
    another one (a compromised plug raising a smoke detector's fire) or a prefix registered
    under the wrong id: refused, ``PayloadError`` with reason ``src_mismatch``. A ``src``
    registered nowhere changes nothing: a device registered by its custom prefix
    (``shellies/kitchen-plug`` as ``kitchen-plug``) still writes its own id there. A prefix
    that names no registered device leaves ``src`` to decide, as before the prefix was
    trusted (a custom prefix registered by the device's id keeps working; an identity on such
    a prefix can speak for any device, so register custom prefixes by the prefix). Ids compare
    case-insensitively (MAC-based: ``src`` is lower case, the web UI shows upper case).
    """
    topic = ShellyAddress(topic_id)
    if not isinstance(src, str) or not src or src.lower() == topic_id.lower():
        return topic
    if not registered(topic):
        # A prefix that names no registered device: a device on a custom prefix registered
        # by its own id, which worked before the prefix was trusted and must not fall silent
        # on an upgrade. ``src`` decides, as it did; the broker vouches for none of it.
        return ShellyAddress(src)
    if registered(ShellyAddress(src)):
        raise PayloadError(
            f"src {src[:64]!r} is another registered device than the one of the topic's "
            f"prefix, {topic_id!r}",
            reason="src_mismatch",
        )
    return topic


def _rpc(
    parsed: ShellyTopic, message: Mapping[str, Any], registered: Callable[[ShellyAddress], bool]
) -> tuple[Decoded, ...]:
    address = rpc_sender(parsed.shelly_id, message.get("src"), registered)
    shelly_id = address.shelly_id
    method = message.get("method")
    params = message.get("params")
    if not isinstance(params, dict):
        if method in ("NotifyStatus", "NotifyFullStatus", "NotifyEvent"):
            raise PayloadError(f"{method} without params", reason="wrong_type")
        logger.debug("ignoring Shelly RPC message %r from %s", method, shelly_id)
        return ()
    match method:
        case "NotifyStatus" | "NotifyFullStatus":
            components = {k: v for k, v in params.items() if k != "ts"}
            return (Decoded(address, _components(shelly_id, components)),)
        case "NotifyEvent":
            return (Decoded(address, _events(shelly_id, params.get("events"))),)
    logger.debug("ignoring Shelly RPC method %r from %s", method, shelly_id)
    return ()


def _components(shelly_id: str, components: Mapping[str, Any]) -> tuple[Observation, ...]:
    temperatures: list[float] = []
    values: dict[str, Any] = {}
    inputs: list[Observation] = []
    for key, status in components.items():
        kind = key.partition(":")[0]
        if not isinstance(status, dict):
            if kind in ("temperature", "humidity", "devicepower", "flood", "smoke", "input"):
                raise PayloadError(f"{key} must be a JSON object", reason="wrong_type")
            continue
        match kind:
            case "temperature":
                celsius = measured_celsius(_field_number(status, "tC", key), f"Shelly {key}")
                if celsius is not None:
                    temperatures.append(celsius)
            case "humidity":
                values["humidity_pct"] = clamp_percent(_field_number(status, "rh", key))
            case "devicepower":
                battery = status.get("battery")
                if isinstance(battery, dict):
                    values["battery_pct"] = clamp_percent(_field_number(battery, "percent", key))
            case "flood" | "smoke":
                alarm = _field_flag(status, "alarm", key)
                if alarm is None and status.get("errors"):
                    logger.info("Shelly %s %s reports %s", shelly_id, key, status["errors"])
                # Several instances (``flood:0``, ``flood:1``): any alarming one is the
                # alarm, never the last one's word over it.
                reading = "water_leak" if kind == "flood" else "smoke"
                if alarm is not None and values.get(reading) is not True:
                    values[reading] = alarm
            case "input":
                # A switch-mode input's state; null (button mode) or absent: nothing here.
                on = _field_flag(status, "state", key)
                if on is not None:
                    inputs.append(InputState(key, on))
            case _:
                log_unknown_keys(f"shelly {shelly_id}", {key: status}, ())
    if temperatures:
        values["temperature_c"] = max(temperatures)
    return (*_state(values), *inputs)


def _events(shelly_id: str, events: Any) -> tuple[Observation, ...]:
    if not isinstance(events, list):
        raise PayloadError("NotifyEvent params.events must be a list", reason="wrong_type")
    observations: list[Observation] = []
    for event in events:
        if not isinstance(event, dict):
            raise PayloadError("a NotifyEvent event must be a JSON object", reason="wrong_type")
        component, name = event.get("component"), event.get("event")
        pressed = GEN2_INPUT_EVENTS.get(name) if isinstance(name, str) else None
        if isinstance(component, str) and component.startswith("input:") and pressed:
            observations.append(DeviceEvent(pressed))
        else:
            logger.debug("ignoring Shelly event %r of %r from %s", name, component, shelly_id)
    return tuple(observations)


def _state(values: dict[str, Any]) -> tuple[Observation, ...]:
    try:
        readings = Readings.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = f"Shelly {first['loc'][0]}"
        raise PayloadError(f"{where}: {first['msg']}", reason="wrong_type") from exc
    return (StateUpdate(readings),) if readings.present() else ()


def _number(text: str, name: str) -> float | None:
    return _lenient(lenient_number, text, f"sensor/{name} {text[:40]!r}", "a number")


def _flag(text: str, name: str) -> bool | None:
    return _lenient(lenient_flag, text, f"{name} {text[:40]!r}", "true or false")


def _field_number(status: Mapping[str, Any], field: str, key: str) -> float | None:
    return _lenient(lenient_number, status.get(field), f"{key}.{field}", "a number")


def _lenient(parse: Callable[[Any], T], value: Any, what: str, expected: str) -> T:
    """Return ``parse(value)``; a value it refuses is a wrong-type PayloadError on ``what``."""
    try:
        return parse(value)
    except ValueError as exc:
        raise PayloadError(f"{what} is not {expected}", reason="wrong_type") from exc


def _field_flag(status: Mapping[str, Any], field: str, key: str) -> bool | None:
    value = status.get(field)
    if value is None or isinstance(value, bool):
        return value
    raise PayloadError(f"{key}.{field} must be true, false or null", reason="wrong_type")
