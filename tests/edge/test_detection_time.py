"""Time-driven detection: the leak's debounce and dry hold, and check-in deadlines via tick."""

import json
from pathlib import Path
from typing import Any

import pytest

from devices.kinds import AlertKind, DeviceKind
from devices.observations import AvailabilityChange, DeviceEvent, Observation
from devices.zigbee2mqtt import decode_zigbee_state
from edge.detection import DeviceState, detect, tick
from edge.detectors.liveness import HOUR_S, Power, checkin_deadline_s, power_of
from edge.detectors.profile import DEFAULT_PROFILE, DetectionProfile
from tests.edge.detection_series import (
    CLEARED,
    HIGH,
    MED,
    RAISED,
    at,
    device,
    feed,
    reading,
    summary,
    ticked,
)

LEAK = DeviceKind.WATER_LEAK
DRY_S = DEFAULT_PROFILE.leak_dry_clear_s


def flapping_pair(realdata: Path) -> list[Observation]:
    """The real SmartThings sensor's wet/dry pair, published in the same second."""
    records: list[dict[str, Any]] = json.loads((realdata / "z2m_water_leak.json").read_text())[
        "records"
    ]
    payloads = [r["payload"] for r in records if r["topic"] == "zigbee2mqtt/0x286d9700010511f8"]
    return [obs for p in payloads for obs in decode_zigbee_state(p)]


def test_a_flapping_sensor_raises_once_and_clears_once_after_staying_dry(realdata: Path) -> None:
    wet, dry = flapping_pair(realdata)
    # Wet and dry 0.3 s apart, flapping every 20 s for 10 minutes.
    flaps = [(i * 20.0 + d, obs) for i in range(30) for d, obs in ((0.0, wet), (0.3, dry))]
    state, alerts = feed(LEAK, flaps)
    assert summary(alerts) == [(AlertKind.WATER_LEAK, RAISED, HIGH)]
    last_dry = flaps[-1][0]
    state, alerts = feed(LEAK, [(last_dry + s, dry) for s in (60.0, 120.0, 299.0)], state)
    assert alerts == []
    _, alerts = feed(LEAK, [(last_dry + DRY_S, dry)], state)
    assert summary(alerts) == [(AlertKind.WATER_LEAK, CLEARED, HIGH)]
    assert alerts[0].reason.rule == "water_leak=false for 300s"


def test_a_wet_reading_restarts_the_dry_hold() -> None:
    timed = [
        (0.0, reading(water_leak=True)),
        (10.0, reading(water_leak=False)),
        (200.0, reading(water_leak=True)),
        (210.0, reading(water_leak=False)),
        (450.0, reading(water_leak=False)),  # 240 s dry: holds
        (510.0, reading(water_leak=False)),  # 300 s dry: clears
    ]
    _, alerts = feed(LEAK, timed)
    assert [a.state for a in alerts] == [RAISED, CLEARED]
    assert alerts[1].event_time == at(510.0)


def test_a_leak_gone_dry_with_no_later_reading_clears_on_tick() -> None:
    state, _ = feed(LEAK, [(0.0, reading(water_leak=True)), (30.0, reading(water_leak=False))])
    state, alerts = ticked(LEAK, state, 30.0 + DRY_S - 1)
    assert alerts == []
    state, alerts = ticked(LEAK, state, 30.0 + DRY_S + 4)
    assert summary(alerts) == [(AlertKind.WATER_LEAK, CLEARED, HIGH)]
    assert alerts[0].event_time == at(30.0 + DRY_S)  # when it became true, not the tick
    _, again = ticked(LEAK, state, 30.0 + 2 * DRY_S)
    assert again == []


def test_a_leak_still_wet_does_not_clear_on_tick() -> None:
    state, _ = feed(LEAK, [(0.0, reading(water_leak=True))])
    _, alerts = ticked(LEAK, state, 10 * DRY_S)
    # Silent for 50 minutes while wet: the leak stays (the check-in deadline is 6 h).
    assert alerts == []


@pytest.mark.parametrize(
    ("kind", "deadline_s"),
    [
        (DeviceKind.SOS_BUTTON, 2 * HOUR_S),
        (DeviceKind.SMOKE, 2 * HOUR_S),
        (DeviceKind.CO, 2 * HOUR_S),
        (DeviceKind.WATER_LEAK, 6 * HOUR_S),
        (DeviceKind.DOOR_CONTACT, 6 * HOUR_S),
        (DeviceKind.CAMERA, 600.0),
    ],
)
def test_a_silent_device_is_offline_at_its_deadline_and_back_on_its_next_message(
    kind: DeviceKind, deadline_s: float
) -> None:
    state, _ = feed(kind, [(0.0, reading(battery_pct=90.0))])
    state, alerts = ticked(kind, state, deadline_s - 1)
    assert alerts == []
    state, alerts = ticked(kind, state, deadline_s + 3)
    assert summary(alerts) == [(AlertKind.DEVICE_OFFLINE, RAISED, MED)]
    offline = alerts[0]
    assert offline.event_time == at(deadline_s)
    assert offline.reason.rule == "checkin_overdue"
    assert offline.reason.values == {
        "silent_since": at(0).isoformat(),
        "deadline_s": deadline_s,
        "deadline_source": "default",
    }
    assert offline.reason.profile == "checkin-deadline"
    state, alerts = ticked(kind, state, deadline_s + 60)
    assert alerts == []  # raised once
    _, alerts = feed(kind, [(deadline_s + 120, reading(battery_pct=90.0))], state)
    assert summary(alerts) == [(AlertKind.DEVICE_OFFLINE, CLEARED, MED)]
    assert alerts[0].reason.rule == "message_received"


def test_an_sos_button_is_expected_sooner_than_a_leak_sensor() -> None:
    sos = checkin_deadline_s(device(DeviceKind.SOS_BUTTON), DEFAULT_PROFILE.checkin_s)
    leak = checkin_deadline_s(device(DeviceKind.WATER_LEAK), DEFAULT_PROFILE.checkin_s)
    assert sos < leak


def test_power_class_and_a_zigbee_mains_kind_gets_a_battery_deadline() -> None:
    assert power_of(device(DeviceKind.CAMERA)) is Power.MAINS
    assert power_of(device(DeviceKind.DOOR_CONTACT)) is Power.BATTERY
    zigbee_reader = device(DeviceKind.DOOR_READER, zigbee_name="gate reader")
    assert power_of(zigbee_reader) is Power.BATTERY
    assert checkin_deadline_s(zigbee_reader, DEFAULT_PROFILE.checkin_s) == 6 * HOUR_S


def test_a_site_can_lengthen_a_deadline() -> None:
    profile = DetectionProfile(
        checkin_s={**DEFAULT_PROFILE.checkin_s, DeviceKind.SMOKE: 25 * HOUR_S}
    )
    state, _ = feed(DeviceKind.SMOKE, [(0.0, reading(smoke=False))])
    _, alerts = ticked(DeviceKind.SMOKE, state, 24 * HOUR_S, profile)
    assert alerts == []


def test_a_device_never_heard_from_is_timed_from_when_the_edge_began_watching() -> None:
    smoke = device(DeviceKind.SMOKE)
    assert tick(DeviceState(), smoke, at(1000 * HOUR_S)).alerts == ()  # nothing to count from
    result = tick(DeviceState(), smoke, at(2 * HOUR_S + 5), watching_since=at(0))
    assert summary(list(result.alerts)) == [(AlertKind.DEVICE_OFFLINE, RAISED, MED)]
    assert result.alerts[0].event_time == at(2 * HOUR_S)


def test_an_edge_back_from_an_outage_does_not_report_every_device_at_once() -> None:
    state, _ = feed(DeviceKind.SMOKE, [(0.0, reading(smoke=False))])
    restarted = at(5 * HOUR_S)  # the edge was down for 5 hours
    smoke = device(DeviceKind.SMOKE)
    assert tick(state, smoke, at(6 * HOUR_S), watching_since=restarted).alerts == ()
    late = tick(state, smoke, at(7 * HOUR_S), watching_since=restarted)
    assert [a.event_time for a in late.alerts] == [at(7 * HOUR_S)]


def test_any_message_is_a_check_in_by_the_edge_clock() -> None:
    # A device clock an hour behind the edge's: its readings are still a check-in now.
    dev = device(DeviceKind.SOS_BUTTON)
    result = detect(DeviceState(), dev, DeviceEvent("press"), at(0), received_at=at(3600))
    assert result.state.last_seen == at(3600)
    assert tick(result.state, dev, at(3600 + 2 * HOUR_S - 1)).alerts == ()


def test_availability_offline_and_back() -> None:
    observations: list[Observation] = [
        AvailabilityChange(online=True),
        AvailabilityChange(online=False),
        AvailabilityChange(online=False),
        AvailabilityChange(online=True),
    ]
    _, alerts = feed(LEAK, [(float(i), o) for i, o in enumerate(observations)])
    assert summary(alerts) == [
        (AlertKind.DEVICE_OFFLINE, RAISED, MED),
        (AlertKind.DEVICE_OFFLINE, CLEARED, MED),
    ]
    assert [a.reason.rule for a in alerts] == ["availability=offline", "availability=online"]
