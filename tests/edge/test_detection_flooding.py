"""A device that floods the site broker is reported (``device_flooding``), and a backlog
delivered at once after an outage is not a flood. Simulated arrival times only."""

from datetime import timedelta

import pytest

from devices.kinds import AlertKind, AlertState, DeviceKind
from edge.detection import DeviceState, flooded, tick
from edge.detectors.flooding import FloodSettings, FloodWatch, calmed
from edge.detectors.profile import DEFAULT_PROFILE
from tests.edge.detection_series import T0, at, device

SETTINGS = FloodSettings()
PLUG = device(DeviceKind.WATER_LEAK, "broken-plug")
TOPIC = "zigbee2mqtt/broken plug"


def messages(rate_per_s: float, seconds: float, start: float = 0.0) -> list[float]:
    """Arrival times (s) of a device sending ``rate_per_s`` for ``seconds``."""
    return [start + n / rate_per_s for n in range(int(rate_per_s * seconds))]


def reports(times: list[float], watch: FloodWatch | None = None) -> list[float]:
    """When the watch reports the topic flooding."""
    watch = watch or FloodWatch(SETTINGS)
    return [t for t in times if watch.seen(TOPIC, t)]


def test_a_sustained_flood_is_reported_within_two_minutes_then_once_a_window() -> None:
    times = reports(messages(40, 180))
    assert times, "never reported"
    assert 117 <= times[0] <= 120
    assert len(times) == 7, "then once in each 10 s window: 120-130 … 170-180"


@pytest.mark.parametrize(
    ("what", "times"),
    [
        ("an hour of a plug's readings (1/s) delivered in 1 s after an outage", messages(3600, 1)),
        (
            "a site's 100,000-message backlog read in 20 s, 10 % of it this device's",
            messages(500, 20),
        ),
        ("the same backlog read by a slow box in 100 s", messages(100, 100)),
        ("a mmWave radar's chatter, 8/s for an hour", messages(8, 3600)),
        ("29/s for ten minutes: under the bound", messages(29, 600)),
    ],
)
def test_not_a_flood(what: str, times: list[float]) -> None:
    assert reports(times) == [], what


def test_a_quiet_window_restarts_the_two_minutes() -> None:
    times = messages(40, 100) + messages(40, 100, start=110.5)
    assert reports(times) == []
    assert reports([*times, *messages(40, 30, start=210.5)]) != []


def test_topics_are_counted_apart_and_their_number_is_bounded() -> None:
    watch = FloodWatch(SETTINGS, max_topics=3)
    for n in range(10):
        assert not watch.seen(f"linli/dev/made-up-{n}/state", float(n))
    assert len(watch._counts) == 3


def test_flooding_is_raised_once_and_cleared_after_five_quiet_minutes() -> None:
    state = DeviceState()
    first = flooded(state, PLUG, at(120), TOPIC, SETTINGS)
    [alert] = first.alerts
    assert (alert.kind, alert.state, alert.event_time) == (
        AlertKind.DEVICE_FLOODING,
        AlertState.RAISED,
        at(120),
    )
    assert alert.reason.values == {
        "messages": 300,
        "window_s": 10.0,
        "sustained_s": 120.0,
        "topic": TOPIC,
    }
    again = flooded(first.state, PLUG, at(130), TOPIC, SETTINGS)
    assert again.alerts == ()
    state = again.state
    assert DeviceState.from_json(state.to_json()) == state

    assert tick(state, PLUG, at(130 + 299), DEFAULT_PROFILE).alerts == ()
    cleared = tick(state, PLUG, at(130 + 300), DEFAULT_PROFILE)
    [alert] = cleared.alerts
    assert (alert.kind, alert.state) == (AlertKind.DEVICE_FLOODING, AlertState.CLEARED)
    assert AlertKind.DEVICE_FLOODING not in cleared.state.raised
    assert tick(cleared.state, PLUG, at(1000), DEFAULT_PROFILE).alerts == ()
    assert not calmed(None, at(1000), SETTINGS), "a device that never flooded"


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="messages"):
        FloodSettings(messages=5)
    with pytest.raises(ValueError, match="clear_after_s"):
        FloodSettings(clear_after_s=1)


def test_an_older_edges_state_without_it_still_loads() -> None:
    state = DeviceState(last_seen=T0 + timedelta(seconds=1))
    data = state.to_json().replace('"flooded_at": null, ', "")
    assert "flooded_at" not in data
    assert DeviceState.from_json(data) == state
