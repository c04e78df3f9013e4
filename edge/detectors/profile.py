"""The detection profile: every detector parameter of one site in one frozen value.

The defaults are the standards in the product brief; a site overrides what it must (its CO
standard, a heat detector's fixed temperature, longer check-ins for its battery devices).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from devices.kinds import DeviceKind
from edge.detectors.co import STANDARDS, CoSettings
from edge.detectors.heat import HeatSettings
from edge.detectors.liveness import DEFAULT_CHECKIN_S


@dataclass(frozen=True, slots=True)
class DetectionProfile:
    """Every detector parameter; ``DetectionProfile()`` is the default site."""

    co: CoSettings = field(default_factory=CoSettings)
    heat: HeatSettings = field(default_factory=HeatSettings)
    gas_warning_lel_pct: float = 10.0  # industry default warning level
    gas_alarm_lel_pct: float = 20.0  # industry default alarm level
    gas_clear_lel_pct: float = 8.0
    leak_dry_clear_s: float = 300.0
    """A raised leak clears only after the sensor has read dry for this long."""
    battery_raise_pct: float = 15.0
    battery_clear_pct: float = 25.0
    checkin_s: Mapping[DeviceKind, float] = field(default_factory=lambda: DEFAULT_CHECKIN_S)

    def __post_init__(self) -> None:
        if not self.gas_clear_lel_pct < self.gas_warning_lel_pct <= self.gas_alarm_lel_pct:
            raise ValueError("gas levels must rise: clear < warning <= alarm")
        if not self.battery_raise_pct < self.battery_clear_pct:
            raise ValueError("battery_raise_pct must be below battery_clear_pct")

    @classmethod
    def for_co_standard(cls, name: str) -> "DetectionProfile":
        """Return the default profile with the named CO standard (``ul2034``, ``en50291``)."""
        return cls(co=CoSettings(standard=STANDARDS[name]))


DEFAULT_PROFILE = DetectionProfile()
