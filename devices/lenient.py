"""Lenient value parsing shared by the third-party adapters (Zigbee2MQTT, Tasmota, Shelly).

Real firmware sends numbers as strings, flags as ``0``/``1`` or ``"ON"``, and adds keys every
release: these validators accept what devices really send, refuse what is not a value at all,
and ``log_unknown_keys`` notes (at debug) what an adapter does not read.
"""

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, TypeAdapter, ValidationError

from devices.errors import PayloadError
from devices.payloads import DropReason, finite_or_none, note_dropped, parse_event_time

logger = logging.getLogger(__name__)

_TRUE_TEXT = frozenset({"true", "on", "1", "yes"})
_FALSE_TEXT = frozenset({"false", "off", "0", "no"})


def lenient_number(value: Any) -> float | None:
    """Return a number from a number or numeric text; None for null, "" and a number that is
    not finite; raise otherwise.

    ``NaN``, ``Infinity``, ``1e309`` (JSON a parser reads as infinity) and their text forms
    are no measurement, as ZCL's "no measurement" values are: the reading is dropped and the
    message's other readings kept. Refusing the message would lose a ``smoke: true`` beside
    a sensor's failed humidity; keeping the number would make an infinite gas level the
    highest one (``clamp_percent``), a gas alarm from a broken payload. So is an integer
    beyond any float (JSON ``1`` and 400 zeros), as ``1e309`` is: it refused the message.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int | float | str):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond a float: 1e309 written out, no measurement
            note_dropped("a reading", DropReason.NOT_FINITE, value)
            return None
        return finite_or_none(number)
    raise ValueError(f"{value!r} is not a number")


def lenient_flag(value: Any) -> bool | None:
    """Return a flag from a boolean, 0/1, or on/off/true/false text; None for null or ""."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE_TEXT | _FALSE_TEXT:
        return value.strip().lower() in _TRUE_TEXT
    raise ValueError(f"{value!r} is not a flag")


def lenient_time(value: Any) -> datetime | None:
    """Return an event time from RFC 3339 text or epoch milliseconds; None for null or ""."""
    if value is None or value == "":
        return None
    return parse_event_time(value)


LenientNumber = Annotated[float | None, BeforeValidator(lenient_number)]
LenientFlag = Annotated[bool | None, BeforeValidator(lenient_flag)]
LenientTime = Annotated[datetime | None, BeforeValidator(lenient_time)]


def clamp_percent(value: float | None) -> float | None:
    """Return a percentage clamped to 0-100 (devices report 101 % and -1 %), None kept; one
    that is not finite is None (``lenient_number``), never 100 % or 0 %."""
    value = finite_or_none(value)
    return None if value is None else min(max(value, 0.0), 100.0)


def log_unknown_keys(where: str, data: Mapping[str, Any], known: Iterable[str]) -> None:
    """Log at debug the keys of a device message that no adapter reads."""
    if logger.isEnabledFor(logging.DEBUG):
        unknown = sorted(set(data) - set(known))
        if unknown:
            logger.debug("%s: ignoring keys %s", where, ", ".join(unknown))


_NUMBER: TypeAdapter[float | None] = TypeAdapter(LenientNumber)


def read_number(block: Mapping[str, Any], key: str) -> float | None:
    """Return ``block[key]`` as a number, None if absent; raise ``PayloadError`` if not one."""
    try:
        return _NUMBER.validate_python(block.get(key))
    except ValidationError as exc:
        raise PayloadError(f"{key}: {exc.errors()[0]['msg']}", reason="wrong_type") from exc


def json_object(text: str) -> dict[str, Any]:
    """Parse a device message that must be a JSON object, or raise ``PayloadError``."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PayloadError(f"payload is not valid JSON: {exc}", reason="malformed_json") from exc
    except RecursionError:
        raise PayloadError("payload is nested too deeply", reason="malformed_json") from None
    if not isinstance(data, dict):
        raise PayloadError("payload must be a JSON object", reason="not_an_object")
    return data


ZCL_NO_TEMPERATURE = frozenset({327.67, -327.68})
"""ZCL's temperature that is no measurement: 0x8000 hundredths (invalid, −327.68 °C), and
0x7FFF (327.67 °C), OWON THS317-ET's below −20 °C (Koenkk/zigbee2mqtt#15173)."""


def measured_celsius(value: float | None, where: str) -> float | None:
    """Return a temperature in °C, None for none or for ZCL's no-measurement values."""
    if value in ZCL_NO_TEMPERATURE:
        logger.debug("%s: temperature %s is no measurement, ignored", where, value)
        return None
    return value
