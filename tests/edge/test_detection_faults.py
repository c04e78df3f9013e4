"""Device faults (tamper, battery trend, stuck sensor) and analog smoke, at their bounds.

Faults are maintenance matters: low or medium severity, never an alarm. All in simulated
time; a day of readings is a list of plain values.
"""

import random
from dataclasses import replace

import pytest

from devices.kinds import FAULTS, AlertKind, DeviceKind, Severity
from devices.observations import Observation, StateUpdate
from devices.zigbee2mqtt import decode_zigbee_state
from edge.detection import AlertDecision, DeviceState
from edge.detectors.faults import BatteryHistory, BatteryTrendSettings, FlatLine, StuckSettings
from edge.detectors.profile import DEFAULT_PROFILE
from tests.edge.detection_series import CLEARED, LOW, MED, RAISED, at, feed, reading, summary

DAY = 86_400.0
HOUR = 3_600.0


def kinds(alerts: list[AlertDecision], kind: AlertKind) -> list[AlertDecision]:
    return [a for a in alerts if a.kind is kind]


# --- tamper ----------------------------------------------------------------------------------


def test_tamper_raises_a_medium_fault_once_and_clears_when_false() -> None:
    timed: list[tuple[float, Observation]] = [
        (0, reading(tamper=False)),
        (1, reading(tamper=True)),
        (2, reading(tamper=True)),
        (3, reading(tamper=False)),
    ]
    _, alerts = feed(DeviceKind.SMOKE, timed)
    assert summary(alerts) == [
        (AlertKind.DEVICE_TAMPER, RAISED, MED),
        (AlertKind.DEVICE_TAMPER, CLEARED, MED),
    ]
    assert alerts[0].reason.rule == "tamper=true"


def test_zigbee2mqtt_tamper_true_is_a_tamper_fault() -> None:
    [update] = decode_zigbee_state({"tamper": True, "battery": 90, "smoke": False})
    _, alerts = feed(DeviceKind.SMOKE, [(0, update)])
    assert [a.kind for a in alerts] == [AlertKind.DEVICE_TAMPER]


# --- battery trend ---------------------------------------------------------------------------


def battery_days(levels: list[float], every_s: float = 6 * HOUR) -> list[tuple[float, Observation]]:
    return [(i * every_s, reading(battery_pct=pct)) for i, pct in enumerate(levels)]


def declining(start: float, per_day: float, days: float, every_s: float = 6 * HOUR) -> list[float]:
    steps = int(days * DAY / every_s) + 1
    return [max(start - per_day * i * every_s / DAY, 0.0) for i in range(steps)]


@pytest.mark.parametrize(
    ("start", "per_day", "raises"),
    [
        # Default horizon: empty within 30 days. After the 2-day minimum span the level is
        # start - 2·rate; it reaches 0 in (start - 2·rate) / rate days.
        (64.0, 2.0, True),  # 60 % after 2 days at 2 %/day: 30 days left, at the bound
        (64.4, 2.0, False),  # 60.4 %: 30.2 days left
        (95.0, 0.1, False),  # a healthy battery: years left
    ],
)
def test_battery_declining_at_the_horizon_bound(start: float, per_day: float, raises: bool) -> None:
    _, alerts = feed(DeviceKind.SMOKE, battery_days(declining(start, per_day, 2.0)))
    declining_alerts = kinds(alerts, AlertKind.BATTERY_DECLINING)
    assert bool(declining_alerts) is raises
    if raises:
        [alert] = declining_alerts
        assert alert.severity is LOW
        assert alert.reason.values["days_to_empty"] == pytest.approx(30.0, abs=0.05)
        assert alert.reason.values["slope_pct_per_day"] == pytest.approx(-2.0)


def test_no_trend_is_judged_before_the_minimum_span() -> None:
    _, alerts = feed(DeviceKind.SMOKE, battery_days(declining(40.0, 10.0, 1.9)))
    assert kinds(alerts, AlertKind.BATTERY_DECLINING) == []


def test_noise_and_one_absurd_reading_do_not_tip_a_healthy_battery() -> None:
    rng = random.Random(7)
    levels = [80.0 - 0.05 * i / 4 + rng.uniform(-3, 3) for i in range(14 * 4)]
    levels[20] = 0.0  # as in Koenkk/zigbee2mqtt#31821: "battery":0 beside 80 %
    _, alerts = feed(DeviceKind.SMOKE, battery_days(levels))
    assert kinds(alerts, AlertKind.BATTERY_DECLINING) == []


def test_a_noisy_failing_battery_is_still_seen() -> None:
    rng = random.Random(11)
    levels = [60.0 - 2.5 * i / 4 + rng.uniform(-3, 3) for i in range(7 * 4)]
    _, alerts = feed(DeviceKind.SMOKE, battery_days(levels))
    [alert] = kinds(alerts, AlertKind.BATTERY_DECLINING)
    assert alert.state is RAISED
    assert alert.reason.values["slope_pct_per_day"] == pytest.approx(-2.5, abs=0.5)


def test_a_new_battery_clears_the_trend_and_starts_a_new_history() -> None:
    state, alerts = feed(DeviceKind.SMOKE, battery_days(declining(30.0, 3.0, 3.0)))
    assert [a.state for a in kinds(alerts, AlertKind.BATTERY_DECLINING)] == [RAISED]
    replaced_at = 3 * DAY + 6 * HOUR
    state, alerts = feed(DeviceKind.SMOKE, [(replaced_at, reading(battery_pct=100.0))], state)
    [cleared] = kinds(alerts, AlertKind.BATTERY_DECLINING)
    assert cleared.state is CLEARED
    assert "replaced" in cleared.reason.rule
    assert state.battery.samples == ((at(replaced_at), 100.0),)
    # The old, steep history is gone: the next day on the new battery raises nothing.
    later = [(replaced_at + i * 6 * HOUR, reading(battery_pct=100.0 - i * 0.1)) for i in range(9)]
    _, alerts = feed(DeviceKind.SMOKE, later, state)
    assert kinds(alerts, AlertKind.BATTERY_DECLINING) == []


def test_a_small_rise_is_noise_not_a_new_battery() -> None:
    settings = BatteryTrendSettings()
    history, replaced = BatteryHistory(((at(0), 50.0),)).read(69.9, at(DAY), settings)
    assert not replaced
    assert len(history.samples) == 2
    history, replaced = BatteryHistory(((at(0), 50.0),)).read(70.0, at(DAY), settings)
    assert replaced
    assert history.samples == ((at(DAY), 70.0),)


def test_readings_closer_than_the_sampling_interval_are_not_kept() -> None:
    settings = BatteryTrendSettings()  # 14 days / 96 = 3.5 h
    history = BatteryHistory(((at(0), 50.0),))
    assert history.read(49.0, at(settings.sample_every_s - 1), settings)[0] == history
    assert len(history.read(49.0, at(settings.sample_every_s), settings)[0].samples) == 2
    assert history.read(49.0, at(-1), settings)[0] == history  # out of order


# --- stuck analog sensor ---------------------------------------------------------------------


def every_hour(count: int, **values: float) -> list[tuple[float, Observation]]:
    return [(i * HOUR, reading(**values)) for i in range(count)]


STUCK = StuckSettings()  # 24 readings over 24 h
N = STUCK.min_readings
SPAN_H = STUCK.after_s / HOUR


@pytest.mark.parametrize(
    ("readings_count", "every_h", "raises"),
    [
        (N, SPAN_H / (N - 1), True),  # exactly min_readings, exactly after_s: both bounds met
        (N - 1, SPAN_H / (N - 2), False),  # the full span, one reading short
        (N + 5, (SPAN_H - 0.01) / (N + 4), False),  # enough readings, a hair short of the span
    ],
)
def test_a_temperature_bit_identical_for_a_day_is_stuck(
    readings_count: int, every_h: float, raises: bool
) -> None:
    timed = [(i * every_h * HOUR, reading(temperature_c=21.5)) for i in range(readings_count)]
    _, alerts = feed(DeviceKind.HEAT, timed)
    stuck = kinds(alerts, AlertKind.SENSOR_STUCK)
    assert bool(stuck) is raises
    if raises:
        assert stuck[0].severity is MED
        assert stuck[0].reason.values["temperature_c"] == 21.5


def test_few_readings_over_a_long_time_are_not_enough() -> None:
    timed = [(i * 6 * HOUR, reading(temperature_c=21.5)) for i in range(N - 1)]  # days, too few
    _, alerts = feed(DeviceKind.HEAT, timed)
    assert kinds(alerts, AlertKind.SENSOR_STUCK) == []


def test_a_stuck_sensor_clears_when_its_value_moves_and_humidity_counts_too() -> None:
    state, alerts = feed(DeviceKind.SMOKE, every_hour(N + 1, humidity_pct=55.0, temperature_c=20.0))
    [raised] = kinds(alerts, AlertKind.SENSOR_STUCK)
    assert raised.reason.rule.startswith("humidity_pct bit-identical")
    moved = [((N + 1) * HOUR, reading(humidity_pct=55.0, temperature_c=20.1))]
    state, alerts = feed(DeviceKind.SMOKE, moved, state)
    # Humidity is still stuck: one moving quantity does not clear another one.
    assert kinds(alerts, AlertKind.SENSOR_STUCK) == []
    moved = [((N + 2) * HOUR, reading(humidity_pct=55.5, temperature_c=20.2))]
    state, alerts = feed(DeviceKind.SMOKE, moved, state)
    assert [a.state for a in kinds(alerts, AlertKind.SENSOR_STUCK)] == [CLEARED]
    assert DeviceState.from_json(state.to_json()) == state


def test_a_wandering_value_is_never_stuck() -> None:
    rng = random.Random(3)
    timed = [(i * HOUR, reading(temperature_c=round(21 + rng.gauss(0, 0.3), 1))) for i in range(48)]
    _, alerts = feed(DeviceKind.HEAT, timed)
    assert kinds(alerts, AlertKind.SENSOR_STUCK) == []


def test_clean_air_reading_a_constant_zero_co_or_gas_is_not_stuck() -> None:
    month = [(i * HOUR, reading(co_ppm=0.0, gas_lel_pct=0.0)) for i in range(30 * 24)]
    _, alerts = feed(DeviceKind.CO, month)
    assert alerts == []


def test_flat_line_ignores_an_out_of_order_reading() -> None:
    line = FlatLine(21.0, at(100), 5)
    assert line.read(22.0, at(50)) == line
    assert line.read(21.0, at(200)).count == 6
    assert not FlatLine().stuck(at(0), StuckSettings())


# --- analog smoke ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("density", "raised"),
    [(0.099, False), (0.1, True), (0.3, True)],
)
def test_smoke_obscuration_alarms_at_0_1_db_per_m(density: float, raised: bool) -> None:
    _, alerts = feed(DeviceKind.SMOKE, [(0, reading(smoke_density_db_per_m=density))])
    assert bool(kinds(alerts, AlertKind.SMOKE)) is raised
    if raised:
        assert alerts[0].reason.profile == "smoke-obscuration"
        assert alerts[0].severity is Severity.CRITICAL


def test_smoke_obscuration_clears_only_well_below_the_alarm() -> None:
    timed: list[tuple[float, Observation]] = [
        (0, reading(smoke_density_db_per_m=0.12)),
        (10, reading(smoke_density_db_per_m=0.05)),  # half the alarm level: still held
        (20, reading(smoke_density_db_per_m=0.049)),
    ]
    _, alerts = feed(DeviceKind.SMOKE, timed)
    assert [(a.state, a.reason.rule) for a in alerts] == [
        (RAISED, "smoke_density_db_per_m>=0.1"),
        (CLEARED, "smoke_density_db_per_m<0.05"),
    ]


def test_the_site_can_set_the_obscuration_level_and_self_test_never_alarms() -> None:
    profile = replace(
        DEFAULT_PROFILE, smoke_density_alarm_db_per_m=0.2, smoke_density_clear_db_per_m=0.1
    )
    _, alerts = feed(DeviceKind.SMOKE, [(0, reading(smoke_density_db_per_m=0.15))], None, profile)
    assert alerts == []
    test = reading(smoke_density_db_per_m=0.3, smoke_test=True)
    _, alerts = feed(DeviceKind.SMOKE, [(0, test)])
    assert alerts == []


def test_zigbee2mqtt_smoke_density_dbm_is_read_in_db_per_m() -> None:
    # Aqara JY-GZ-01AQ: smoke_density 5 ↔ smoke_density_dbm 0.1 (zigbee-herdsman-converters).
    [update] = decode_zigbee_state({"smoke": False, "smoke_density": 5, "smoke_density_dbm": 0.1})
    assert isinstance(update, StateUpdate)
    assert update.readings.smoke_density_db_per_m == 0.1
    _, alerts = feed(DeviceKind.SMOKE, [(0, update)])
    assert [(a.kind, a.state) for a in alerts] == [(AlertKind.SMOKE, RAISED)]
    [update] = decode_zigbee_state({"smoke_density_dbm": -0.01})
    assert isinstance(update, StateUpdate)
    assert update.readings.smoke_density_db_per_m == 0.0


# --- faults are never alarms -----------------------------------------------------------------


def test_every_fault_this_module_raises_is_a_fault_kind_of_low_or_medium_severity() -> None:
    timed: list[tuple[float, Observation]] = [
        *battery_days(declining(30.0, 3.0, 3.0)),
        *[(4 * DAY + i * HOUR, reading(temperature_c=20.0, tamper=True)) for i in range(N + 1)],
    ]
    _, alerts = feed(DeviceKind.HEAT, timed)
    raised = {a.kind for a in alerts}
    assert raised == {
        AlertKind.BATTERY_DECLINING,
        AlertKind.DEVICE_TAMPER,
        AlertKind.SENSOR_STUCK,
    }
    assert raised <= FAULTS
    assert all(a.severity in (LOW, MED) for a in alerts)
