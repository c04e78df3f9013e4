"""Found by an outside review replaying the standards' exposures: what other messages of a
detector did to its CO alarm (``edge.detection``)."""

from devices.kinds import AlertKind, DeviceKind
from devices.observations import StateUpdate
from devices.payloads import Readings
from edge.detection import DeviceState, detect, tick
from edge.detectors.profile import DEFAULT_PROFILE
from tests.edge.detection_series import RAISED, T0, at, device, minutes_after_t0

UL_400_PPM_ALARM_BY_MIN = 15.0
"""UL 2034: 400 ppm must alarm within 15 min."""


def test_battery_reports_between_co_readings_do_not_hold_the_co_alarm_back() -> None:
    """400 ppm reported every 30 min, a battery report every minute between: the reading
    stood on the edge's clock only from the device's last message, so each battery report
    moved its start and the alarm came at the next CO report, 30 min, not at 8."""
    smoke = device(DeviceKind.CO)
    state, raised = DeviceState(), None
    for second in range(0, 30 * 60 + 1, 5):
        if second % 1800 == 0:
            update = Readings(co_ppm=400.0)
        elif second % 60 == 0:
            update = Readings(battery_pct=87.0)
        else:
            result = tick(state, smoke, at(second), DEFAULT_PROFILE, watching_since=T0)
            state = result.state
            raised = raised or next((a for a in result.alerts if a.kind is AlertKind.CO), None)
            continue
        result = detect(state, smoke, StateUpdate(update), at(second), received_at=at(second))
        state = result.state
        raised = raised or next((a for a in result.alerts if a.kind is AlertKind.CO), None)
    assert raised is not None
    assert raised.state is RAISED
    minute = minutes_after_t0(raised)
    assert minute is not None
    assert minute <= UL_400_PPM_ALARM_BY_MIN
    assert minute == 8.0  # where a detector that sends nothing else alarms
