"""Device payloads on the native topics, and the readings every adapter normalises to.

Device payload models are tolerant of extra keys (real firmware adds fields) but strict about
the types of the fields we read: ``"co_ppm": "12"`` is refused, not guessed at.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

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


EventTime = Annotated[datetime, BeforeValidator(parse_event_time)]
"""The time a device says something happened (``ts``), always timezone-aware."""

# Finite only: JSON text such as 1e999 or Infinity parses as an infinite float. An infinite CO
# reading counted as the dose model's highest level (a CO alarm in about a minute from a
# broken payload), and the console history's batch holding it failed on PostgreSQL.
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


class StatePayload(Readings):
    """A JSON object on ``linli/dev/<device_id>/state``."""

    ts: EventTime | None = None


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
