"""Device payloads on the native topics, and the readings every adapter normalises to.

Device payload models are tolerant of extra keys (real firmware adds fields) but strict about
the types of the fields we read: ``"co_ppm": "12"`` is refused, not guessed at. A number that
is not finite in a measurement (``1e999``, ``Infinity``, ``NaN``) is no measurement, as in
every adapter: that reading is dropped and the message's others kept (``StatePayload``).
"""

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

logger = logging.getLogger(__name__)

_EPOCH_MS_MIN = 10**11  # 1973 in milliseconds: smaller numbers are not epoch milliseconds


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
            parsed = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"ts {value!r} is not RFC 3339") from exc
        try:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
        except OverflowError as exc:
            # '0001-01-01T00:00:00+14:00': its UTC instant is before year 1 (found by fuzzing
            # the door readers' frames); as above, only a ValueError is a validation error.
            raise ValueError(f"ts {value!r} is out of range") from exc
    raise ValueError("ts must be RFC 3339 text or epoch milliseconds")


_no_measurement: ContextVar[list[str] | None] = ContextVar("no_measurement", default=None)


@contextmanager
def noting_no_measurement() -> Iterator[list[str]]:
    """Note, while the block runs, the readings ``finite_or_none`` drops: yield the list it
    fills (the name of each, where the decoder knows it). The edge decodes each device message
    in one, to count and log what a device sent that was no measurement, with its source."""
    noted: list[str] = []
    token = _no_measurement.set(noted)
    try:
        yield noted
    finally:
        _no_measurement.reset(token)


def finite_or_none(value: float | None, where: str = "") -> float | None:
    """Return ``value``, or None for NaN and ±infinity (no measurement), logged at debug with
    ``where`` (the reading it was sent as, where the caller knows it) and noted for a
    ``noting_no_measurement`` block around the decoding."""
    if value is not None and not math.isfinite(value):
        logger.debug(
            "%sa number that is not finite (%s) is no measurement, ignored",
            f"{where}: " if where else "",
            value,
        )
        noted = _no_measurement.get()
        if noted is not None:
            noted.append(where or "a reading")
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
"""The readings that are numbers: a number there that is not finite is no measurement."""


class StatePayload(Readings):
    """A JSON object on ``linli/dev/<device_id>/state``.

    A measurement whose number is not finite (JSON ``1e999``, ``Infinity``, ``NaN``: a
    detector's overflowed chamber reading) is dropped, the rest kept: refusing the message
    would lose the ``smoke: true`` beside it, and keeping the number would make it the
    highest level (an infinite CO was a CO alarm in about a minute). A message left with no
    reading at all is refused, as before. Anything else that is not a value of its field
    (``"co_ppm": "80"``, ``"smoke": Infinity``, ``"humidity_pct": 140``) refuses the message.
    """

    ts: EventTime | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_numbers_that_are_no_measurement(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        dropped = {
            name
            for name in MEASUREMENTS
            if isinstance(value := data.get(name), float) and finite_or_none(value, name) is None
        }
        if not dropped:
            return data
        kept = {key: value for key, value in data.items() if key not in dropped}
        if all(kept.get(name) is None for name in Readings.model_fields):
            raise PydanticCustomError(
                "no_measurement",
                "{names}: a number that is not finite is no measurement, and the message "
                "holds no other reading",
                {"names": ", ".join(sorted(dropped))},
            )
        return kept


class EventPayload(BaseModel):
    """A JSON object on ``linli/dev/<device_id>/event``, e.g. ``{"event": "press"}``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event: Annotated[str, Field(strict=True, min_length=1, max_length=32, pattern=r"^[a-z_]+$")]
    ts: EventTime | None = None


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
