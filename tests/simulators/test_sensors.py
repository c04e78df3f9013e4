"""Simulated devices: realistic values, and payloads the edge's adapters decode as meant."""

import itertools
import json
import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from devices.adapters import decode
from devices.kinds import DeviceKind
from devices.observations import AvailabilityChange, DeviceEvent, StateUpdate
from devices.payloads import ButtonEvent, Readings
from devices.registry import Device
from devices.zigbee2mqtt import decode_zigbee_state
from simulators.sensors import (
    ZIGBEE_FIELDS,
    Battery,
    CoSensor,
    DoorContact,
    GasSensor,
    HeatSensor,
    SosButton,
    Step,
    WaterLeakSensor,
    simulate,
)
from tests.conftest import only_state

EPOCH = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def device(kind: DeviceKind, *, zigbee: str | None = None) -> Device:
    return Device(id=f"test-{kind}", kind=kind, location="Building 9/Floor 1", zigbee_name=zigbee)


def state_of(step: Step) -> StateUpdate:
    """Decode a state message that must carry exactly one state update."""
    return only_state(step.topic, step.payload)


def test_native_state_uses_reading_names_and_an_rfc3339_ts() -> None:
    sim = CoSensor(device(DeviceKind.CO), random.Random(1), epoch=EPOCH)

    step = sim.report(90.0)

    assert step.topic == "linli/dev/test-co/state"
    assert not step.retain
    body = json.loads(step.payload)
    assert set(body) == {"co_ppm", "battery_pct", "ts"}
    assert body["ts"] == "2025-03-01T08:01:30.000Z"
    update = state_of(step)
    assert update.event_time == EPOCH + timedelta(seconds=90)
    assert update.readings.co_ppm == body["co_ppm"]


def test_co_baseline_stays_within_0_to_5_ppm_with_noise() -> None:
    sim = CoSensor(device(DeviceKind.CO), random.Random(2), epoch=EPOCH)

    values = [sim.reading(t * 60.0).co_ppm for t in range(2000)]

    assert all(v is not None and 0.0 <= v <= 5.0 for v in values)
    assert len(set(values)) > 10


def test_co_follows_the_ambient_concentration() -> None:
    sim = CoSensor(device(DeviceKind.CO), random.Random(3), epoch=EPOCH)

    values = [sim.reading(float(t), ambient_ppm=200.0).co_ppm or 0.0 for t in range(500)]

    assert 190 <= statistics.mean(values) <= 210


def test_gas_is_zero_plus_noise_and_never_negative() -> None:
    sim = GasSensor(device(DeviceKind.GAS), random.Random(4), epoch=EPOCH)

    values = [sim.reading(float(t)).gas_lel_pct for t in range(5000)]

    assert all(v is not None and v >= 0.0 for v in values)
    assert any(v for v in values)
    assert statistics.mean(v or 0.0 for v in values) < 1.0
    assert sim.battery is None  # mains-powered: no battery reading at all
    assert "battery_pct" not in json.loads(sim.report(0.0).payload)


def test_temperature_is_about_22_degrees_with_a_slow_drift() -> None:
    sim = HeatSensor(device(DeviceKind.HEAT), random.Random(5), epoch=EPOCH)

    day = [sim.reading(t * 600.0).temperature_c or 0.0 for t in range(144)]

    assert all(18.0 < v < 26.0 for v in day)
    steps = [abs(b - a) for a, b in itertools.pairwise(day)]
    assert max(steps) < 1.0  # ten minutes apart: no jumps a rate-of-rise detector would see


def test_battery_drains_slowly_and_never_recovers() -> None:
    sim = WaterLeakSensor(device(DeviceKind.WATER_LEAK), random.Random(6), epoch=EPOCH)

    month = [sim.battery_pct(h * 3600.0) or 0.0 for h in range(24 * 30)]

    assert all(b <= a for a, b in itertools.pairwise(month))
    assert 0 < month[0] - month[-1] <= 5


def test_battery_level_is_clamped() -> None:
    battery = Battery(start_pct=1.0, drain_pct_per_day=10.0, start_at=100.0)

    assert battery.level(0.0) == 1.0
    assert battery.level(10 * 86_400.0) == 0.0


def test_zigbee_payload_uses_bridge_field_names_and_last_seen_ms() -> None:
    sim = WaterLeakSensor(
        device(DeviceKind.WATER_LEAK, zigbee="cellar leak"), random.Random(7), epoch=EPOCH
    )

    step = sim.report(2.5, sim.reading(2.5, wet=True))

    assert step.topic == "zigbee2mqtt/cellar leak"
    body = json.loads(step.payload)
    assert body["water_leak"] is True
    assert body["last_seen"] == int((EPOCH.timestamp() + 2.5) * 1000)
    assert {"battery", "voltage", "linkquality"} <= set(body)
    update = state_of(step)
    assert update.readings.water_leak is True
    assert update.event_time == EPOCH + timedelta(seconds=2.5)


@pytest.mark.parametrize("as_text", [True, False])
def test_zigbee_battery_as_text_or_number_decodes_the_same(as_text: bool) -> None:
    sim = SosButton(
        device(DeviceKind.SOS_BUTTON, zigbee="hall sos"),
        random.Random(8),
        epoch=EPOCH,
        battery=Battery(80.0, 0.0),
        battery_as_text=as_text,
    )

    step = sim.report(0.0)

    body = json.loads(step.payload)
    assert body["battery"] == ("80.00" if as_text else 80)
    assert body["action"] is None
    assert state_of(step).readings.battery_pct == 80.0


@pytest.mark.parametrize("zigbee", [None, "front door"])
def test_door_contact_true_means_closed(zigbee: str | None) -> None:
    sim = DoorContact(device(DeviceKind.DOOR_CONTACT, zigbee=zigbee), random.Random(9), epoch=EPOCH)

    closed = sim.report(0.0)
    opened = sim.report(1.0, sim.reading(1.0, closed=False))

    assert json.loads(closed.payload)["contact"] is True
    assert json.loads(opened.payload)["contact"] is False
    assert state_of(opened).readings.contact is False


def test_native_sos_press_is_an_event() -> None:
    sim = SosButton(device(DeviceKind.SOS_BUTTON), random.Random(10), epoch=EPOCH)

    (press,) = sim.press(5.0)
    (long_press,) = sim.press(9.0, ButtonEvent.LONG_PRESS)

    assert press.topic == "linli/dev/test-sos_button/event"
    for step, event in ((press, ButtonEvent.PRESS), (long_press, ButtonEvent.LONG_PRESS)):
        decoded = decode(step.topic, step.payload)
        assert decoded is not None
        assert decoded.observations == (DeviceEvent(event, EPOCH + timedelta(seconds=step.at)),)


def test_zigbee_sos_press_is_emergency_then_a_null_action() -> None:
    sim = SosButton(
        device(DeviceKind.SOS_BUTTON, zigbee="1201 sos"), random.Random(11), epoch=EPOCH
    )

    press, reset = sim.press(5.0)

    assert json.loads(press.payload)["action"] == "emergency"
    assert json.loads(reset.payload)["action"] is None
    assert reset.at > press.at
    first, second = decode(press.topic, press.payload), decode(reset.topic, reset.payload)
    assert first is not None
    assert second is not None
    assert [type(o) for o in first.observations] == [StateUpdate, DeviceEvent]
    assert first.observations[1] == DeviceEvent(ButtonEvent.PRESS, EPOCH + timedelta(seconds=5))
    assert [type(o) for o in second.observations] == [StateUpdate]  # null is not a press


def test_zigbee_sos_long_press_is_hold() -> None:
    sim = SosButton(
        device(DeviceKind.SOS_BUTTON, zigbee="hall sos"), random.Random(12), epoch=EPOCH
    )

    hold, _ = sim.press(1.0, ButtonEvent.LONG_PRESS)

    decoded = decode(hold.topic, hold.payload)
    assert decoded is not None
    assert DeviceEvent(ButtonEvent.LONG_PRESS, EPOCH + timedelta(seconds=1)) in decoded.observations


def test_zigbee_co_and_gas_detectors_report_their_own_alarm_flag() -> None:
    co = CoSensor(device(DeviceKind.CO, zigbee="kitchen co"), random.Random(13), epoch=EPOCH)
    gas = GasSensor(device(DeviceKind.GAS, zigbee="boiler gas"), random.Random(14), epoch=EPOCH)

    quiet_co, alarm_co = co.report(0.0), co.report(1.0, co.reading(1.0, ambient_ppm=200.0))
    quiet_gas, alarm_gas = gas.report(0.0), gas.report(1.0, gas.reading(1.0, lel_pct=25.0))

    assert json.loads(quiet_co.payload)["carbon_monoxide"] is False
    assert json.loads(alarm_co.payload)["carbon_monoxide"] is True
    assert state_of(alarm_co).readings.co_alarm is True
    assert json.loads(quiet_gas.payload)["gas"] is False
    assert state_of(alarm_gas).readings.gas is True


def test_availability_is_retained_for_native_devices_and_left_to_the_bridge_for_zigbee() -> None:
    native = simulate(device(DeviceKind.SMOKE), random.Random(15), epoch=EPOCH)
    zigbee = simulate(device(DeviceKind.SMOKE, zigbee="b 1 smoke"), random.Random(16), epoch=EPOCH)

    online, offline = native.availability(0.0, online=True), native.availability(1.0, online=False)

    assert online is not None
    assert offline is not None
    assert (online.topic, online.payload, online.retain) == (
        "linli/dev/test-smoke/availability",
        b"online",
        True,
    )
    decoded = decode(offline.topic, offline.payload)
    assert decoded is not None
    assert decoded.observations == (AvailabilityChange(online=False),)
    assert zigbee.availability(0.0, online=True) is None


def test_simulate_picks_the_class_for_every_kind() -> None:
    # A Zigbee bridge is a site's network, listed by the edge itself (devices.zigbee_network):
    # no device reports as one.
    for kind in set(DeviceKind) - {DeviceKind.ZIGBEE_BRIDGE}:
        sim = simulate(device(kind), random.Random(17), epoch=EPOCH)
        decoded = decode(sim.report(0.0).topic, sim.report(0.0).payload)
        assert decoded is not None
        assert decoded.observations


def test_a_naive_epoch_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        simulate(device(DeviceKind.SMOKE), random.Random(18), epoch=datetime(2025, 1, 1))


def test_every_reading_a_zigbee_device_can_send_round_trips_through_the_adapter() -> None:
    values = {
        "smoke_density_db_per_m": 0.1,
        "humidity_pct": 40.0,
        "smoke_test": True,
        "co_ppm": 70.0,
    }
    body = {ZIGBEE_FIELDS[name]: value for name, value in values.items()}
    [update] = decode_zigbee_state(body)
    assert isinstance(update, StateUpdate)
    assert update.readings == Readings(**values)
