"""The ``[detection]`` table of a site file: detector settings per site and per device.

Every key is optional: what a site leaves out keeps the edge's default (the standards in
PRODUCT.md), and what a device's own table leaves out keeps the site's value. Strict like all
our configuration (``extra="forbid"``): a misspelt key or a value outside its bounds is refused
when the site file is loaded, and the error names the key (``detection.heat_fixed_c``,
``detection.devices.<id>.sos.cancel_window_s``).

Example::

    [detection]
    co_profile = "en50291"
    heat_fixed_c = 60
    leak_dry_hold_s = 600

    [detection.checkin_s]          # per device kind, seconds
    sos_button = 3600

    [detection.sos]
    cancel_on = ["press"]          # a second press within the window cancels the first
    cancel_window_s = 10

    [detection.devices.b3-f12-1201-sos]
    checkin_s = 1800               # this device only
    sos = { raise_on = ["long_press"], cancel_on = [] }

The cross-key rules (gas levels must rise, the battery clear level above the raise level)
are checked when the edge builds each device's profile: a device's table may change one
level of a pair that the site set.
"""

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from devices.kinds import DeviceKind
from devices.payloads import ButtonEvent
from devices.registry import Identifier

DAY_S = 86_400.0

Seconds = Annotated[float, Field(gt=0, le=30 * DAY_S)]
Percent = Annotated[float, Field(ge=0, le=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SosConfig(_Strict):
    """How an SOS button's gestures are read, and when a press looks uncommanded."""

    raise_on: frozenset[ButtonEvent] | None = None
    """Button events that call for help (default: press, double_press, long_press).
    Zigbee2MQTT's ``emergency``/``sos``/``single`` actions arrive as ``press``."""
    cancel_on: frozenset[ButtonEvent] | None = None
    """Events that cancel the SOS raised just before, within ``cancel_window_s``
    (default: none, no cancel gesture). The cancel is recorded; the case stays open."""
    cancel_window_s: Annotated[float, Field(gt=0, le=60)] | None = None
    rejoin_window_s: Annotated[float, Field(ge=0, le=3600)] | None = None
    """A press this soon after the device rejoined or came back online is marked
    ``suspected_uncommanded`` (0 switches the rule off)."""
    periodic_repeats: Annotated[int, Field(ge=3, le=20)] | None = None
    """This many presses at equal intervals are marked ``suspected_uncommanded``."""
    periodic_tolerance_s: Annotated[float, Field(ge=0, le=60)] | None = None
    periodic_min_interval_s: Annotated[float, Field(ge=10, le=DAY_S)] | None = None

    @model_validator(mode="after")
    def _raise_on_not_empty(self) -> Self:
        if self.raise_on is not None and not self.raise_on:
            raise ValueError("raise_on must name at least one event: a button must call help")
        return self


class BatteryTrendConfig(_Strict):
    """When a falling battery is worth a maintenance visit before it is low."""

    window_days: Annotated[float, Field(ge=1, le=90)] | None = None
    """Fit the trend over this many days of readings."""
    horizon_days: Annotated[float, Field(ge=1, le=365)] | None = None
    """Alert when the trend reaches empty within this many days."""
    min_span_days: Annotated[float, Field(ge=0.5, le=30)] | None = None
    """Judge no trend before the readings span this long."""
    replacement_jump_pct: Annotated[float, Field(ge=5, le=100)] | None = None
    """A rise of this many points is a new battery: the history starts again."""


class StuckConfig(_Strict):
    """When an analog reading that never moves is a stuck sensor (temperature, humidity)."""

    after_s: Annotated[float, Field(ge=600, le=30 * DAY_S)] | None = None
    min_readings: Annotated[int, Field(ge=3, le=10_000)] | None = None


class FloodConfig(_Strict):
    """When a device's messages are a flood (``device_flooding``): ``messages`` in each of
    ``windows`` windows of ``window_s`` in a row; cleared after ``clear_after_s`` without."""

    messages: Annotated[int, Field(ge=10, le=1_000_000)] | None = None
    window_s: Annotated[float, Field(gt=0, le=3600)] | None = None
    windows: Annotated[int, Field(ge=1, le=1000)] | None = None
    clear_after_s: Annotated[float, Field(gt=0, le=DAY_S)] | None = None


class DetectionKeys(_Strict):
    """Keys a site and a device may both set."""

    co_profile: Literal["ul2034", "en50291"] | None = None
    heat_fixed_c: Annotated[float, Field(ge=54, le=65)] | None = None
    """EN 54-5 class A1: a static response temperature between 54 and 65 °C."""
    heat_rate_of_rise_c_per_min: Annotated[float, Field(ge=5, le=15)] | None = None
    gas_warning_lel_pct: Annotated[float, Field(gt=0, le=60)] | None = None
    gas_alarm_lel_pct: Annotated[float, Field(gt=0, le=60)] | None = None
    gas_clear_lel_pct: Annotated[float, Field(ge=0, lt=60)] | None = None
    gas_clear_hold_s: Annotated[float, Field(ge=0, le=DAY_S)] | None = None
    """How long every gas reading must stay below the clear level before raised gas clears."""
    leak_dry_hold_s: Annotated[float, Field(ge=0, le=DAY_S)] | None = None
    battery_low_pct: Annotated[float, Field(ge=1, le=50)] | None = None
    battery_ok_pct: Annotated[float, Field(ge=2, le=80)] | None = None
    smoke_density_alarm_db_per_m: Annotated[float, Field(ge=0.05, le=0.58)] | None = None
    """Analog obscuration alarm level: within EN 54-7's floor (0.05 dB/m) and UL 217/268's
    sensitivity window (0.5-4.0 %/ft = 0.072-0.58 dB/m)."""
    sos: SosConfig | None = None
    battery_trend: BatteryTrendConfig | None = None
    stuck: StuckConfig | None = None


class DeviceDetection(DetectionKeys):
    """One device's overrides (``[detection.devices.<id>]``)."""

    checkin_s: Seconds | None = None
    """This device's check-in deadline, seconds; never learned over (docs/detection.md)."""


class SiteDetection(DetectionKeys):
    """The ``[detection]`` table: the site's defaults and its devices' overrides."""

    checkin_s: dict[DeviceKind, Seconds] = {}
    """Check-in deadline per device kind, seconds. A kind set here is never learned from its
    devices' rhythm (docs/detection.md): the site's word beats a guess."""
    flood: FloodConfig | None = None
    """The edge counts every topic's messages the same way: a site setting only."""
    devices: dict[Identifier, DeviceDetection] = {}
