"""Device payloads on the native topics, and the readings every adapter normalises to.

Device payload models are tolerant of extra keys (real firmware adds fields) but strict about
the types of the fields we read: ``"co_ppm": "12"`` is not guessed at. In a native state, a
measurement that cannot be read (not a number, out of its range, not finite: ``1e999``,
``NaN``) or a ``ts`` that cannot be read is dropped and the message's others kept, so an alarm
flag beside it still counts (``StatePayload``); a flag that cannot be read refuses the message.
Every reading dropped is noted for the caller (``noting_dropped``) with why.
"""

import logging
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

logger = logging.getLogger(__name__)

_EPOCH_MS_MIN = 10**11  # 1973 in milliseconds: smaller numbers are not epoch milliseconds


_LEAP_SECOND = re.compile(r"(\d{2}:\d{2}):60(?:\.\d+)?")


def _iso(text: str) -> str:
    """Return RFC 3339 text as ``datetime.fromisoformat`` reads it: its ``t`` and ``z`` may be
    lower-case (RFC 3339 section 5.6), and a leap second (``23:59:60``) is read as the last
    instant of the second before."""
    text = text.strip().upper()
    return _LEAP_SECOND.sub(r"\1:59.999999", text, count=1)


def parse_event_time(value: Any) -> datetime:
    """Return an aware UTC datetime from RFC 3339 text or epoch milliseconds."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        raise ValueError("ts must be RFC 3339 text or epoch milliseconds, not a boolean")
    if isinstance(value, int | float):
        if value < _EPOCH_MS_MIN:
            raise ValueError("ts as a number must be epoch milliseconds")
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            # Only ValueError becomes a validation error: anything else would escape the
            # model and, on the edge, a redelivered message would fail the session forever.
            raise ValueError(f"ts {value!r} is out of range") from exc
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(_iso(value))
        except ValueError as exc:
            raise ValueError(f"ts {value!r} is not RFC 3339") from exc
        try:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
        except OverflowError as exc:
            # '0001-01-01T00:00:00+14:00': its UTC instant is before year 1 (found by fuzzing
            # the door readers' frames); as above, only a ValueError is a validation error.
            raise ValueError(f"ts {value!r} is out of range") from exc
    raise ValueError("ts must be RFC 3339 text or epoch milliseconds")


class DropReason(StrEnum):
    """Why a reading of a message was dropped and the rest kept."""

    NOT_FINITE = "not_finite"
    """``NaN``, ``Infinity``, ``1e999``: a failed sensor, an overflowed reading."""
    OUT_OF_RANGE = "out_of_range"
    """A number no reading of its kind can be (``"humidity_pct": 140``, ``"co_ppm": -3``)."""
    NOT_A_NUMBER = "not_a_number"
    """A measurement that is no number (``"co_ppm": "80"``): not guessed at."""
    UNREADABLE_TIME = "unreadable_time"
    """A ``ts`` that is neither RFC 3339 text nor epoch milliseconds: the receive time is used."""


_dropped: ContextVar[list[tuple[str, DropReason]] | None] = ContextVar("dropped", default=None)


@contextmanager
def noting_dropped() -> Iterator[list[tuple[str, DropReason]]]:
    """Note, while the block runs, the readings a decoder drops and keeps the message without:
    yield the list it fills, each reading's name (where the decoder knows it) and why. The
    edge decodes each device message in one, to count and log them with their source."""
    noted: list[tuple[str, DropReason]] = []
    token = _dropped.set(noted)
    try:
        yield noted
    finally:
        _dropped.reset(token)


def note_dropped(where: str, why: DropReason, value: Any) -> None:
    """Note a reading dropped (logged at debug, and for a ``noting_dropped`` block)."""
    logger.debug("%s: %r dropped (%s), the rest of the message kept", where, value, why)
    noted = _dropped.get()
    if noted is not None:
        noted.append((where, why))


def finite_or_none(value: float | None, where: str = "a reading") -> float | None:
    """Return ``value``, or None for NaN and ±infinity (no measurement), noted as dropped."""
    if value is not None and not math.isfinite(value):
        note_dropped(where, DropReason.NOT_FINITE, value)
        return None
    return value


EventTime = Annotated[datetime, BeforeValidator(parse_event_time)]
"""The time a device says something happened (``ts``), always timezone-aware."""

# Finite only: JSON text such as 1e999 or Infinity parses as an infinite float. An infinite CO
# reading counted as the dose model's highest level (a CO alarm in about a minute from a
# broken payload), and the console history's batch holding it failed on PostgreSQL. Readings
# never hold one: the native payload drops it first (StatePayload), the adapters likewise.
Percent = Annotated[float, Field(ge=0, le=100, strict=True, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, strict=True, allow_inf_nan=False)]
CELSIUS_MIN, CELSIUS_MAX = -100.0, 1500.0
"""The temperatures a reading may hold: the coldest a site sees, the hottest a fire."""
Celsius = Annotated[float, Field(ge=CELSIUS_MIN, le=CELSIUS_MAX, strict=True, allow_inf_nan=False)]
Flag = Annotated[bool, Field(strict=True)]


class Readings(BaseModel):
    """The normalised reading names. Every field is optional: a device sends what it has.

    ``contact`` is true when the door is CLOSED, as in Zigbee2MQTT. ``gas``, ``co_alarm`` and
    ``battery_low`` are a detector's own alarm or low-battery flags, for devices that report
    no level.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    co_ppm: NonNegative | None = None
    temperature_c: Celsius | None = None
    humidity_pct: Percent | None = None
    gas_lel_pct: Percent | None = None
    smoke: Flag | None = None
    smoke_test: Flag | None = None
    water_leak: Flag | None = None
    contact: Flag | None = None
    occupancy: Flag | None = None
    """A motion sensor saw someone move (Zigbee2MQTT ``occupancy``, as it is)."""
    presence: Flag | None = None
    """A presence radar sees someone there, moving or still (mmWave: Aqara FP1, Tuya)."""
    battery_pct: Percent | None = None
    battery_low: Flag | None = None
    tamper: Flag | None = None
    gas: Flag | None = None
    co_alarm: Flag | None = None
    smoke_density_db_per_m: NonNegative | None = None
    """Analog smoke obscuration in dB/m, from detectors that measure it."""

    def present(self) -> dict[str, float | bool]:
        """Return only the readings the device actually sent."""
        return self.model_dump(exclude_none=True)


MEASUREMENTS = frozenset(
    {
        "co_ppm",
        "temperature_c",
        "humidity_pct",
        "gas_lel_pct",
        "battery_pct",
        "smoke_density_db_per_m",
    }
)
"""The readings that are numbers: one that cannot be read is dropped, the flags kept."""


def _bounds(name: str) -> tuple[float | None, float | None]:
    """Return the least and greatest value a measurement's field takes (None: no bound), as
    its annotation says (``Percent | None``: the ``Field`` of ``Percent``)."""
    low = high = None
    for kind in get_args(Readings.model_fields[name].annotation):
        for field in getattr(kind, "__metadata__", ()):
            for rule in getattr(field, "metadata", ()):
                low = getattr(rule, "ge", low)
                high = getattr(rule, "le", high)
    return low, high


_BOUNDS = {name: _bounds(name) for name in MEASUREMENTS}


def _unreadable(name: str, value: Any) -> DropReason | None:
    """Return why a measurement's value cannot be read as its field (``Readings``), None if it
    can (checked here, not by validating: every state message holds some)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DropReason.NOT_A_NUMBER
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer beyond any float (JSON 1 and 400 zeros): as 1e999
        return DropReason.NOT_FINITE
    if not finite:
        return DropReason.NOT_FINITE
    low, high = _BOUNDS[name]
    if (low is not None and value < low) or (high is not None and value > high):
        return DropReason.OUT_OF_RANGE
    return None


def _unreadable_time(value: Any) -> bool:
    try:
        parse_event_time(value)
    except ValueError:
        return True
    return False


class StatePayload(Readings):
    """A JSON object on ``linli/dev/<device_id>/state``.

    A measurement that cannot be read — not a number (``"co_ppm": "80"``), out of its range
    (``"humidity_pct": 140``, ``"battery_pct": 101``), not finite (JSON ``1e999``, ``NaN``: a
    detector's overflowed chamber reading; an integer beyond any float, ``1`` and 400 zeros)
    — is dropped and the rest kept, and so is a ``ts`` that cannot be read (the receive time
    stands in, as without one): refusing the message
    would lose the ``smoke: true`` beside it, and keeping an infinite number would make it the
    highest level (an infinite CO was a CO alarm in about a minute). Each is noted
    (``noting_dropped``). A message left with no reading at all is refused. A flag that is no
    flag (``"smoke": 1``, ``"smoke": "yes"``) refuses the message: what it says is unknown.
    """

    ts: EventTime | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_what_cannot_be_read(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        dropped: dict[str, DropReason] = {}
        for name in MEASUREMENTS:
            value = data.get(name)
            why = None if value is None else _unreadable(name, value)
            if why is not None:
                dropped[name] = why
        if data.get("ts") is not None and _unreadable_time(data["ts"]):
            dropped["ts"] = DropReason.UNREADABLE_TIME
        if not dropped:
            return data
        kept = {key: value for key, value in data.items() if key not in dropped}
        if all(kept.get(name) is None for name in Readings.model_fields):
            raise PydanticCustomError(
                "nothing_readable",
                "{names}: cannot be read ({reasons}), and the message holds no other reading",
                {
                    "names": ", ".join(sorted(dropped)),
                    "reasons": ", ".join(sorted(set(dropped.values()))),
                },
            )
        for name, why in sorted(dropped.items()):
            note_dropped(name, why, data[name])
        return kept


class EventPayload(BaseModel):
    """A JSON object on ``linli/dev/<device_id>/event``, e.g. ``{"event": "press"}``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event: Annotated[str, Field(strict=True, min_length=1, max_length=32, pattern=r"^[a-z_]+$")]
    ts: EventTime | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_an_unreadable_time(cls, data: Any) -> Any:
        """A press whose ``ts`` cannot be read is a press at its receive time, noted: refused,
        a resident's SOS would be lost to its button's clock."""
        if isinstance(data, dict) and data.get("ts") is not None and _unreadable_time(data["ts"]):
            note_dropped("ts", DropReason.UNREADABLE_TIME, data["ts"])
            return {key: value for key, value in data.items() if key != "ts"}
        return data


class Availability(StrEnum):
    """Plain-text payload of ``linli/dev/<device_id>/availability`` (retained)."""

    ONLINE = "online"
    OFFLINE = "offline"


class ButtonEvent(StrEnum):
    """Event names a button sends; other devices may send their own."""

    PRESS = "press"
    DOUBLE_PRESS = "double_press"
    LONG_PRESS = "long_press"


DEVICE_ANNOUNCE = "device_announce"
"""Event of a device that (re)joined its network: powered up, got a new battery, re-paired.
Zigbee2MQTT reports it on ``bridge/event``; a native device may send it on its event topic."""
