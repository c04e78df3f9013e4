"""The detection profile: every detector parameter of one device in one frozen value.

The defaults are the standards in the product brief. A site file's ``[detection]`` table
(``devices.detection_config``) overrides what a site must, and its
``[detection.devices.<id>]`` tables what one device must: ``ProfileBook`` builds each
device's profile as edge default → site → device, once, at start.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from devices.detection_config import DetectionKeys, DeviceDetection, SiteDetection
from devices.kinds import DeviceKind
from devices.registry import Device
from edge.detectors.co import STANDARDS, CoSettings
from edge.detectors.faults import BatteryTrendSettings, StuckSettings
from edge.detectors.flooding import FloodSettings
from edge.detectors.heat import HeatSettings
from edge.detectors.liveness import DEFAULT_CHECKIN_S
from edge.detectors.sos import SosSettings

SMOKE_DENSITY_ALARM_DB_PER_M = 0.1
"""Analog smoke obscuration that counts as smoke, dB/m. EN 54-7 forbids point detectors
more sensitive than 0.05 dB/m (clause 5.2.3: m_min >= 0.05 dB/m); UL 217/268 allow 0.5-4.0
%/ft obscuration (0.072-0.58 dB/m). 0.1 dB/m (2.3 %/m, 0.7 %/ft) lies inside both, and in the
middle of the Aqara JY-GZ-01AQ's reported scale (0.085-0.125 dB/m, zigbee-herdsman-converters)."""

SELF_TEST_MAX_S = 300.0
"""How long a detector's self-test is believed, from when the edge first heard it said (its
clock). A test sounds for seconds (a test button held; FireAngel's converter ends one 8 s
after its last report); a sleepy Xiaomi runs a requested test up to minutes later
(Koenkk/zigbee2mqtt#3818). A flag said for longer is stale: Zigbee2MQTT republishes its cached
``self_test: true`` (set by the request, Koenkk/zigbee-herdsman-converters#6351) with every
message until the device reports otherwise, and would hide every later real alarm."""


class DetectionConfigError(ValueError):
    """A site file's detection settings that cannot make a valid profile."""


@dataclass(frozen=True, slots=True)
class DetectionProfile:
    """Every detector parameter; ``DetectionProfile()`` is the default site."""

    co: CoSettings = field(default_factory=CoSettings)
    heat: HeatSettings = field(default_factory=HeatSettings)
    gas_warning_lel_pct: float = 10.0  # industry default warning level
    gas_alarm_lel_pct: float = 20.0  # industry default alarm level
    gas_clear_lel_pct: float = 8.0
    gas_clear_hold_s: float = 300.0
    """Raised gas clears only once every reading has been below ``gas_clear_lel_pct`` for
    this long (event time; or the detector silent this long after one, edge's clock): a
    concentration swinging with draughts and ventilation round the clear level raised and
    cleared at each swing. As heat's and a leak's 5 min."""
    leak_dry_clear_s: float = 300.0
    """A raised leak clears only after the sensor has read dry for this long."""
    battery_raise_pct: float = 15.0
    battery_clear_pct: float = 25.0
    checkin_s: Mapping[DeviceKind, float] = field(default_factory=lambda: DEFAULT_CHECKIN_S)
    checkin_configured: frozenset[DeviceKind] = frozenset()
    """Kinds whose ``checkin_s`` the site (or, in a device's profile, the device) set: an
    operator's word, which a device's learned rhythm never overrides."""
    smoke_density_alarm_db_per_m: float = SMOKE_DENSITY_ALARM_DB_PER_M
    smoke_density_clear_db_per_m: float = SMOKE_DENSITY_ALARM_DB_PER_M / 2
    self_test_max_s: float = SELF_TEST_MAX_S
    sos: SosSettings = field(default_factory=SosSettings)
    battery_trend: BatteryTrendSettings = field(default_factory=BatteryTrendSettings)
    stuck: StuckSettings = field(default_factory=StuckSettings)
    flood: FloodSettings = field(default_factory=FloodSettings)

    def __post_init__(self) -> None:
        if not self.gas_clear_lel_pct < self.gas_warning_lel_pct <= self.gas_alarm_lel_pct:
            raise ValueError(
                "gas levels must rise: gas_clear_lel_pct < gas_warning_lel_pct <= "
                f"gas_alarm_lel_pct, not {self.gas_clear_lel_pct:g} / "
                f"{self.gas_warning_lel_pct:g} / {self.gas_alarm_lel_pct:g}"
            )
        if not self.battery_raise_pct < self.battery_clear_pct:
            raise ValueError(
                f"battery_low_pct ({self.battery_raise_pct:g}) must be below battery_ok_pct "
                f"({self.battery_clear_pct:g})"
            )

    @classmethod
    def for_co_standard(cls, name: str) -> "DetectionProfile":
        """Return the default profile with the named CO standard (``ul2034``, ``en50291``)."""
        return cls(co=CoSettings(standard=STANDARDS[name]))

    def with_config(self, config: DetectionKeys) -> "DetectionProfile":
        """Return this profile with the keys ``config`` sets applied (or raise ValueError)."""
        c = config
        changes: dict[str, Any] = _present(
            gas_warning_lel_pct=c.gas_warning_lel_pct,
            gas_alarm_lel_pct=c.gas_alarm_lel_pct,
            gas_clear_lel_pct=c.gas_clear_lel_pct,
            gas_clear_hold_s=c.gas_clear_hold_s,
            leak_dry_clear_s=c.leak_dry_hold_s,
            battery_raise_pct=c.battery_low_pct,
            battery_clear_pct=c.battery_ok_pct,
        )
        if c.co_profile is not None:
            changes["co"] = replace(self.co, standard=STANDARDS[c.co_profile])
        heat = self.heat
        if c.heat_fixed_c is not None:
            heat = replace(heat, fixed_c=c.heat_fixed_c)
        if c.heat_rate_of_rise_c_per_min is not None:
            heat = replace(heat, ror_c_per_min=c.heat_rate_of_rise_c_per_min)
        changes["heat"] = heat
        if c.smoke_density_alarm_db_per_m is not None:
            changes["smoke_density_alarm_db_per_m"] = c.smoke_density_alarm_db_per_m
            changes["smoke_density_clear_db_per_m"] = c.smoke_density_alarm_db_per_m / 2
        if c.sos is not None:
            sos = c.sos.model_dump(exclude_none=True)
            for key in ("raise_on", "cancel_on"):
                if key in sos:
                    sos[key] = frozenset(str(event) for event in sos[key])
            changes["sos"] = replace(self.sos, **sos)
        if c.battery_trend is not None:
            trend = c.battery_trend.model_dump(exclude_none=True)
            changes["battery_trend"] = replace(self.battery_trend, **trend)
        if c.stuck is not None:
            changes["stuck"] = replace(self.stuck, **c.stuck.model_dump(exclude_none=True))
        if isinstance(c, SiteDetection) and c.flood is not None:
            changes["flood"] = replace(self.flood, **c.flood.model_dump(exclude_none=True))
        if isinstance(c, SiteDetection) and c.checkin_s:
            changes["checkin_s"] = MappingProxyType({**self.checkin_s, **c.checkin_s})
            changes["checkin_configured"] = self.checkin_configured | frozenset(c.checkin_s)
        return replace(self, **changes)

    def for_device(self, device: Device, config: DeviceDetection) -> "DetectionProfile":
        """Return this (site) profile with one device's overrides applied."""
        profile = self.with_config(config)
        if config.checkin_s is not None:
            checkin = MappingProxyType({**profile.checkin_s, device.kind: config.checkin_s})
            configured = profile.checkin_configured | {device.kind}
            profile = replace(profile, checkin_s=checkin, checkin_configured=configured)
        return profile


DEFAULT_PROFILE = DetectionProfile()


def _present(**values: float | None) -> dict[str, float]:
    return {name: value for name, value in values.items() if value is not None}


class ProfileBook:
    """Each device's detection profile: edge default → site ``[detection]`` → the device's."""

    def __init__(self, site: DetectionProfile, overrides: Mapping[str, DeviceDetection]) -> None:
        self.site = site
        self._overrides = dict(overrides)
        self._cache: dict[tuple[str, DeviceKind], DetectionProfile] = {}

    @classmethod
    def build(
        cls,
        config: SiteDetection,
        base: DetectionProfile = DetectionProfile(),
        devices: Iterable[Device] = (),
    ) -> "ProfileBook":
        """Build and check every profile the site file describes, or raise a clear error.

        ``devices`` are the site file's devices: each one's profile is built now, so a bad
        combination fails at start, naming the device, not at its first reading.
        """
        try:
            site = base.with_config(config)
        except ValueError as exc:
            raise DetectionConfigError(f"detection: {exc}") from exc
        for device_id, override in config.devices.items():
            try:
                site.with_config(override)
            except ValueError as exc:
                raise DetectionConfigError(f"detection.devices.{device_id}: {exc}") from exc
        book = cls(site, config.devices)
        for device in devices:
            book.for_device(device)
        return book

    def for_device(self, device: Device) -> DetectionProfile:
        """Return the profile of ``device`` (the site's if it has no table of its own)."""
        key = (device.id, device.kind)
        profile = self._cache.get(key)
        if profile is None:
            override = self._overrides.get(device.id)
            try:
                profile = self.site if override is None else self.site.for_device(device, override)
            except ValueError as exc:
                raise DetectionConfigError(f"detection.devices.{device.id}: {exc}") from exc
            self._cache[key] = profile
        return profile
