"""Incidents: what the world does over simulated time, and the messages devices send about it.

Two layers, both pure:

- *profiles* are functions of ``t``, the seconds since the incident began, returning the true
  physical value (CO ppm, °C, %LEL, wet or dry). They carry the numbers of the scenarios in
  PRODUCT.md and nothing else;
- *incident builders* drive simulated devices (``simulators.sensors``) through a profile from
  ``start`` and return the steps, sorted by time. They cover the incident only: the lead-in
  and the background are the scenario's business.
"""

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from devices.payloads import ButtonEvent, Readings
from simulators.sensors import (
    ZIGBEE_ACTION_RESET_S,
    Battery,
    CoSensor,
    GasSensor,
    HeatSensor,
    SimulatedDevice,
    SmokeDetector,
    SosButton,
    Step,
    WaterLeakSensor,
)

# --- CO from a faulty water heater ---------------------------------------------------------

CO_RAMP_S = 300.0
CO_PEAK_PPM = 200.0
# Held long enough that a dose model also alarms: UL 2034 requires an alarm by 50 min at
# 150 ppm, and this holds ~200 ppm for 50 min.
CO_HOLD_S = 3_000.0
CO_VENTILATION_S = 600.0
CO_RISING_DURATION_S = CO_RAMP_S + CO_HOLD_S + CO_VENTILATION_S
CO_REPORT_EVERY_S = 15.0


def co_rising_ppm(t: float) -> float:
    """Return the CO ppm ``t`` s in: a ramp to ~200 ppm over 5 min, a hold, then ventilation."""
    if t <= 0:
        return 0.0
    if t < CO_RAMP_S:
        return CO_PEAK_PPM * t / CO_RAMP_S
    if t < CO_RAMP_S + CO_HOLD_S:
        return CO_PEAK_PPM
    # Someone opens the windows: the room air is exchanged with a ~2 min time constant.
    return CO_PEAK_PPM * math.exp(-(t - CO_RAMP_S - CO_HOLD_S) / 120.0)


def co_rising(sensors: Sequence[CoSensor], start: float) -> list[Step]:
    """Return the reports of CO detectors in a room where CO builds up from ``start``."""
    return _sampled(
        sensors,
        start,
        CO_RISING_DURATION_S,
        CO_REPORT_EVERY_S,
        lambda sensor, at, t: sensor.reading(at, ambient_ppm=co_rising_ppm(t)),
    )


# --- Kitchen fire ----------------------------------------------------------------------------

FIRE_RISE_C_PER_MIN = 10.0
FIRE_PEAK_C = 78.0
FIRE_SMOKE_AT_S = 90.0
FIRE_SOS_AT_S = 240.0
FIRE_EXTINGUISHED_S = 480.0
FIRE_SMOKE_CLEARS_S = 780.0
FIRE_DURATION_S = 1_080.0
FIRE_HEAT_REPORT_EVERY_S = 10.0
SMOKE_ALARM_REPEAT_S = 30.0


def fire_temperature_c(t: float, room_c: float) -> float:
    """Return the kitchen's temperature ``t`` s after ignition: +10 °C/min to ~78 °C, then cooling.

    10 °C/min is above EN 54-5's 8.3 °C/min rate-of-rise, and 57 °C (the fixed-heat point) is
    crossed a little over 3 min in.
    """
    if t <= 0:
        return room_c
    if t < FIRE_EXTINGUISHED_S:
        return min(room_c + FIRE_RISE_C_PER_MIN * t / 60.0, FIRE_PEAK_C)
    peak = min(room_c + FIRE_RISE_C_PER_MIN * FIRE_EXTINGUISHED_S / 60.0, FIRE_PEAK_C)
    return room_c + (peak - room_c) * math.exp(-(t - FIRE_EXTINGUISHED_S) / 150.0)


def fire_smoke(t: float) -> bool:
    """Return whether there is smoke at the detector ``t`` s after ignition."""
    return FIRE_SMOKE_AT_S <= t < FIRE_SMOKE_CLEARS_S


def fire(
    start: float,
    *,
    heat: Sequence[HeatSensor],
    smoke: Sequence[SmokeDetector],
    sos: Sequence[SosButton],
) -> list[Step]:
    """Return a kitchen fire from ``start``: heat rises, smoke trips, a neighbour presses SOS."""
    steps: list[Step] = []
    for sensor in heat:
        room_c = sensor.room_temperature(start)
        for t in _ticks(FIRE_DURATION_S, FIRE_HEAT_REPORT_EVERY_S):
            reading = sensor.reading(start + t, temperature_c=fire_temperature_c(t, room_c))
            steps.append(sensor.report(start + t, reading))
    for detector in smoke:
        steps.extend(
            _flag_reports(
                detector,
                detector.reading,
                start,
                fire_smoke,
                FIRE_DURATION_S,
                changes=(FIRE_SMOKE_AT_S, FIRE_SMOKE_CLEARS_S),
                repeat_s=SMOKE_ALARM_REPEAT_S,
            )
        )
    if sos:
        steps.extend(sos[0].press(start + FIRE_SOS_AT_S))
    return _in_time_order(steps)


# --- Gas leak in the boiler room ---------------------------------------------------------------

GAS_RISE_LEL_PER_MIN = 2.0
GAS_PEAK_LEL = 25.0
GAS_PEAK_AT_S = GAS_PEAK_LEL / GAS_RISE_LEL_PER_MIN * 60.0
GAS_VALVE_CLOSED_S = GAS_PEAK_AT_S + 300.0
GAS_LEAK_DURATION_S = GAS_VALVE_CLOSED_S + 600.0
GAS_REPORT_EVERY_S = 10.0


def gas_leak_lel(t: float) -> float:
    """Return %LEL ``t`` s into a leak: +2 %LEL/min through 10 and 20 to 25, then shut off."""
    if t <= 0:
        return 0.0
    if t < GAS_VALVE_CLOSED_S:
        return min(GAS_RISE_LEL_PER_MIN * t / 60.0, GAS_PEAK_LEL)
    return GAS_PEAK_LEL * math.exp(-(t - GAS_VALVE_CLOSED_S) / 120.0)


def gas_leak(sensors: Sequence[GasSensor], start: float) -> list[Step]:
    """Return the reports of gas detectors in a room where gas leaks from ``start``."""
    return _sampled(
        sensors,
        start,
        GAS_LEAK_DURATION_S,
        GAS_REPORT_EVERY_S,
        lambda sensor, at, t: sensor.reading(at, lel_pct=gas_leak_lel(t)),
    )


# --- Burst pipe in the bike basement ---------------------------------------------------------

WATER_LEAK_DURATION_S = 900.0
WATER_LEAK_DRIED_S = 840.0
WATER_LEAK_REPORT_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class WaterLeakProfile:
    """Water reaching a leak sensor: it flaps wet/dry at ``flips`` (seconds), then stays wet."""

    flips: tuple[float, ...]
    dried_at: float = WATER_LEAK_DRIED_S

    @classmethod
    def spreading(cls, rng: random.Random) -> "WaterLeakProfile":
        """Return a profile that flaps 3-4 times within a few seconds, then stays wet."""
        flips = [0.0]
        for _ in range(2 * rng.randint(3, 4)):
            flips.append(round(flips[-1] + rng.uniform(0.3, 1.5), 2))
        return cls(tuple(flips))

    def wet(self, t: float) -> bool:
        """Return whether the sensor is wet ``t`` s after water first reached it."""
        if t < 0 or t >= self.dried_at:
            return False
        changes = sum(1 for flip in self.flips if flip <= t)
        return changes % 2 == 1 or t >= self.flips[-1]


def water_leak(
    sensors: Sequence[WaterLeakSensor], start: float, profile: WaterLeakProfile
) -> list[Step]:
    """Return the reports of leak sensors reached by spreading water from ``start``."""
    steps: list[Step] = []
    for sensor in sensors:
        steps.extend(
            _flag_reports(
                sensor,
                sensor.reading,
                start,
                profile.wet,
                WATER_LEAK_DURATION_S,
                changes=(*profile.flips, profile.dried_at),
                repeat_s=WATER_LEAK_REPORT_EVERY_S,
            )
        )
    return _in_time_order(steps)


# --- SOS ------------------------------------------------------------------------------------

SOS_DURATION_S = ZIGBEE_ACTION_RESET_S


def sos_press(button: SosButton, start: float) -> list[Step]:
    """Return a resident pressing the SOS button once at ``start``."""
    return button.press(start, ButtonEvent.PRESS)


# --- A battery running down ------------------------------------------------------------------

BATTERY_DYING_FROM_PCT = 19.0
BATTERY_DYING_PCT_PER_MIN = 1.0
BATTERY_DYING_REPORTS = 8  # 19 % down to 12 %: the last reports are below the 15 % threshold
BATTERY_DYING_REPORT_EVERY_S = 60.0
BATTERY_DYING_SILENCE_S = 300.0
BATTERY_DYING_DURATION_S = (
    BATTERY_DYING_REPORTS - 1
) * BATTERY_DYING_REPORT_EVERY_S + BATTERY_DYING_SILENCE_S


def battery_dying_pct(t: float) -> float:
    """Return the battery charge ``t`` s into its last minutes: 19 %, one point a minute."""
    return max(BATTERY_DYING_FROM_PCT - BATTERY_DYING_PCT_PER_MIN * t / 60.0, 0.0)


def battery_dying(sensor: SimulatedDevice, start: float) -> list[Step]:
    """Return a device whose battery drains below 15 %, falls silent, then goes offline.

    The offline message stands for what the broker publishes as the device's last will once
    its keep-alive lapses. The device's battery is left dead: it says nothing afterwards.
    """
    sensor.battery = Battery(
        BATTERY_DYING_FROM_PCT, BATTERY_DYING_PCT_PER_MIN * 24 * 60, start_at=start
    )
    steps = [
        sensor.report(start + t)
        for t in _ticks(
            (BATTERY_DYING_REPORTS - 1) * BATTERY_DYING_REPORT_EVERY_S,
            BATTERY_DYING_REPORT_EVERY_S,
        )
    ]
    offline = sensor.availability(start + BATTERY_DYING_DURATION_S, online=False)
    if offline is not None:
        steps.append(offline)
    return steps


def battery_replaced(sensor: SimulatedDevice, at: float) -> list[Step]:
    """Return a device coming back with a fresh battery at ``at``: online, then a report."""
    sensor.battery = Battery(100.0, 0.1, start_at=at)
    online = sensor.availability(at, online=True)
    return [*([online] if online is not None else []), sensor.report(at)]


# --- helpers ---------------------------------------------------------------------------------


def _ticks(duration: float, every: float) -> list[float]:
    """Return 0, every, 2·every, … up to and including ``duration``."""
    return [i * every for i in range(math.floor(duration / every) + 1)]


_Sensor = TypeVar("_Sensor", bound=SimulatedDevice)


def _sampled(
    sensors: Sequence[_Sensor],
    start: float,
    duration: float,
    every: float,
    read: Callable[[_Sensor, float, float], Readings],
) -> list[Step]:
    """Report each sensor every ``every`` s from ``start``, in time order.

    ``read(sensor, at, t)`` is the sensor's reading at ``at``, ``t`` s into the incident.
    """
    steps = [
        sensor.report(start + t, read(sensor, start + t, t))
        for t in _ticks(duration, every)
        for sensor in sensors
    ]
    return _in_time_order(steps)


def _flag_reports(
    sensor: SimulatedDevice,
    read: Callable[[float, bool], Readings],
    start: float,
    flag: Callable[[float], bool],
    duration: float,
    *,
    changes: Iterable[float],
    repeat_s: float,
) -> list[Step]:
    """Report a flag at each instant it changes and every ``repeat_s`` s in between.

    Real detectors report on change (so each change is a message of its own, to the
    fraction of a second) and repeat their state while alarmed, and as a periodic check-in.
    """
    times = sorted({*_ticks(duration, repeat_s), *(t for t in changes if 0 <= t <= duration)})
    return [sensor.report(start + t, read(start + t, flag(t))) for t in times]


def _in_time_order(steps: list[Step]) -> list[Step]:
    return sorted(steps, key=lambda step: step.at)
