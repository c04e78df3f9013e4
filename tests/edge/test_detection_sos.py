"""SOS buttons: raising gestures, the cancel gesture, and presses that look uncommanded.

All on simulated time. The uncommanded cases replay payload sequences shaped like the real
reports (Koenkk/zigbee2mqtt#31727 and #31821, shared/realdata z2m_sos_emergency_button.json).
"""

import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devices.adapters import decode, decode_bridge_event
from devices.kinds import AlertKind, DeviceKind
from devices.observations import AvailabilityChange, DeviceEvent, Observation
from devices.payloads import DEVICE_ANNOUNCE, ButtonEvent
from edge.detection import AlertDecision, DeviceState, detect
from edge.detectors.profile import DEFAULT_PROFILE, DetectionProfile
from edge.detectors.sos import SosPhase, SosSettings
from tests.conftest import realdata_records
from tests.edge.detection_series import CLEARED, CRIT, RAISED, T0, at, device, feed

PRESS, DOUBLE, LONG = ButtonEvent.PRESS, ButtonEvent.DOUBLE_PRESS, ButtonEvent.LONG_PRESS
SOS = DeviceKind.SOS_BUTTON


def with_sos(**settings: Any) -> DetectionProfile:
    return replace(DEFAULT_PROFILE, sos=replace(DEFAULT_PROFILE.sos, **settings))


CANCEL_BY_PRESS = with_sos(cancel_on=frozenset({PRESS}), cancel_window_s=10.0)


def presses(*timed: tuple[float, str]) -> list[tuple[float, Observation]]:
    return [(seconds, DeviceEvent(event)) for seconds, event in timed]


def sos_alerts(alerts: list[AlertDecision]) -> list[tuple[float, str, str]]:
    return [
        ((a.event_time - T0).total_seconds(), a.state, a.reason.rule)
        for a in alerts
        if a.kind is AlertKind.SOS
    ]


# --- which gestures raise --------------------------------------------------------------------


def test_by_default_every_gesture_raises_and_nothing_cancels() -> None:
    _, alerts = feed(SOS, presses((0, PRESS), (3, PRESS), (4, DOUBLE), (5, LONG)))
    assert [(s, r) for _, s, r in sos_alerts(alerts)] == [(RAISED, "button_press")] * 4
    assert all(a.severity is CRIT for a in alerts)


def test_a_site_can_keep_only_the_long_press_for_sos() -> None:
    profile = with_sos(raise_on=frozenset({LONG}))
    _, alerts = feed(SOS, presses((0, PRESS), (1, DOUBLE), (2, LONG)), profile=profile)
    assert sos_alerts(alerts) == [(2.0, RAISED, "button_press")]


# --- the cancel gesture ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("second_s", "expected"),
    [
        (0.0, [(0.0, RAISED, "button_press"), (0.0, CLEARED, "sos-cancelled")]),
        (10.0, [(0.0, RAISED, "button_press"), (10.0, CLEARED, "sos-cancelled")]),
        (10.001, [(0.0, RAISED, "button_press"), (10.001, RAISED, "button_press")]),
        (60.0, [(0.0, RAISED, "button_press"), (60.0, RAISED, "button_press")]),
    ],
)
def test_a_second_press_within_the_window_cancels_and_after_it_is_a_new_sos(
    second_s: float, expected: list[tuple[float, str, str]]
) -> None:
    _, alerts = feed(SOS, presses((0, PRESS), (second_s, PRESS)), profile=CANCEL_BY_PRESS)
    assert sos_alerts(alerts) == expected


def test_the_first_press_is_raised_at_once_never_held_for_a_possible_cancel() -> None:
    result = detect(DeviceState(), device(SOS), DeviceEvent(PRESS), at(0), CANCEL_BY_PRESS)
    assert [(a.kind, a.state) for a in result.alerts] == [(AlertKind.SOS, RAISED)]
    assert result.state.sos.phase is SosPhase.CANCELLABLE


def test_the_cancel_is_recorded_with_its_window_and_a_third_press_is_a_new_sos() -> None:
    _, alerts = feed(SOS, presses((0, PRESS), (4, PRESS), (6, PRESS)), profile=CANCEL_BY_PRESS)
    assert [s for _, s, _ in sos_alerts(alerts)] == [RAISED, CLEARED, RAISED]
    cancel = alerts[1]
    assert cancel.severity is CRIT  # a cleared sos keeps its kind's severity: same case
    assert cancel.reason.values == {
        "event": "press",
        "cancel_window_s": 10.0,
        "seconds_after_press": 4.0,
        "cancelled_press_at": at(0).isoformat(),
    }


def test_a_cancel_gesture_that_does_not_raise_is_ignored_outside_the_window() -> None:
    profile = with_sos(
        raise_on=frozenset({PRESS}), cancel_on=frozenset({LONG}), cancel_window_s=5.0
    )
    _, alerts = feed(SOS, presses((0, PRESS), (3, LONG), (20, LONG)), profile=profile)
    assert sos_alerts(alerts) == [(0.0, RAISED, "button_press"), (3.0, CLEARED, "sos-cancelled")]


def test_a_press_older_than_the_raising_one_never_cancels_it() -> None:
    # Event times from a device clock can arrive out of order; a negative gap is not a cancel.
    _, alerts = feed(SOS, presses((10, PRESS), (5, PRESS)), profile=CANCEL_BY_PRESS)
    assert [s for _, s, _ in sos_alerts(alerts)] == [RAISED, RAISED]


# --- suspected uncommanded presses -----------------------------------------------------------


def realdata_sequence(realdata: Path) -> list[tuple[datetime | None, Observation]]:
    """Decode the reporter's log of #31727 (and #31821's payloads) as the edge would."""
    records = realdata_records(realdata, "z2m_sos_emergency_button.json")
    out: list[tuple[datetime | None, Observation]] = []
    for record in records:
        topic = record["topic"] or "zigbee2mqtt/0xa4c13899607febd1"
        if "0x0015bc" in record["payload_raw"]:
            continue  # the frient keypad of #19123, another device
        payload = record["payload_raw"].encode()
        decoded = decode(topic, payload) or decode_bridge_event(topic, payload)
        assert decoded is not None, record["payload_raw"]
        for observation in decoded.observations:
            when = getattr(observation, "event_time", None)
            out.append((when, observation))
    return out


def test_z2m_announce_is_read_as_the_device_rejoining(realdata: Path) -> None:
    sequence = realdata_sequence(realdata)
    events = [o for _, o in sequence if isinstance(o, DeviceEvent)]
    assert events[0] == DeviceEvent(DEVICE_ANNOUNCE)
    assert [e.event for e in events[1:]] == [PRESS] * 5


def test_the_emergency_5s_after_a_device_announce_is_raised_and_marked(realdata: Path) -> None:
    sequence = realdata_sequence(realdata)
    # The bridge event carries no time of its own: the edge's receive time stands in, here
    # the log line's (23:33:17 local) as in the issue.
    announce_at = datetime.fromisoformat("2026-04-17T23:33:17+08:00")
    state = DeviceState()
    alerts: list[AlertDecision] = []
    clock = announce_at
    for when, observation in sequence[:5]:  # up to the first emergency
        clock = when or clock
        result = detect(state, device(SOS), observation, clock)
        state, alerts = result.state, alerts + list(result.alerts)
    [sos] = [a for a in alerts if a.kind is AlertKind.SOS]
    assert sos.state is RAISED
    assert sos.reason.values["suspected_uncommanded"] is True
    assert sos.reason.values["uncommanded_rule"] == "after-rejoin"
    assert sos.reason.values["seconds_after_rejoin"] == 5.0


@pytest.mark.parametrize(
    ("after_s", "suspected"), [(0.0, True), (60.0, True), (60.5, False), (3600.0, False)]
)
def test_after_rejoin_rule_at_its_bounds(after_s: float, suspected: bool) -> None:
    timed: list[tuple[float, Observation]] = [(0, DeviceEvent(DEVICE_ANNOUNCE))]
    _, alerts = feed(SOS, [*timed, (after_s, DeviceEvent(PRESS))])
    [sos] = alerts
    assert sos.state is RAISED
    assert sos.reason.values.get("suspected_uncommanded", False) is suspected


def test_coming_back_online_after_offline_counts_as_a_rejoin_but_a_plain_online_does_not() -> None:
    back: list[tuple[float, Observation]] = [
        (0, AvailabilityChange(online=False)),
        (100, AvailabilityChange(online=True)),
        (110, DeviceEvent(PRESS)),
    ]
    _, alerts = feed(SOS, back)
    sos = [a for a in alerts if a.kind is AlertKind.SOS]
    assert sos[0].reason.values["uncommanded_rule"] == "after-rejoin"

    # The retained "online" replayed at every edge reconnect is no rejoin.
    _, alerts = feed(SOS, [(0, AvailabilityChange(online=True)), (5, DeviceEvent(PRESS))])
    assert "suspected_uncommanded" not in alerts[0].reason.values


def z2m_emergency(battery: int) -> Observation:
    """One of #31821's uncommanded messages, decoded (it carries no last_seen)."""
    payload = json.dumps({"action": "emergency", "battery": battery, "linkquality": 144})
    decoded = decode("zigbee2mqtt/master room sos", payload.encode())
    assert decoded is not None
    [event] = [o for o in decoded.observations if isinstance(o, DeviceEvent)]
    return event


@pytest.mark.parametrize(
    ("intervals", "marked"),
    [
        ([3600.0, 3600.0], [False, False, True]),
        ([3600.0, 3601.9], [False, False, True]),
        ([3600.0, 3602.1], [False, False, False]),
        ([3600.0, 3600.0, 3600.0], [False, False, True, True]),
        ([30.0, 30.0], [False, False, False]),  # a panicking resident, not a timer
        ([900.0, 1800.0], [False, False, False]),
    ],
)
def test_the_third_press_at_equal_intervals_is_marked_periodic(
    intervals: list[float], marked: list[bool]
) -> None:
    times = [0.0]
    for gap in intervals:
        times.append(times[-1] + gap)
    batteries = [80, 80, 0, 0]
    timed = [(t, z2m_emergency(batteries[i])) for i, t in enumerate(times)]
    _, alerts = feed(SOS, timed)
    sos = [a for a in alerts if a.kind is AlertKind.SOS]
    assert len(sos) == len(times)  # never suppressed
    assert [bool(a.reason.values.get("suspected_uncommanded")) for a in sos] == marked
    for alert in sos:
        if alert.reason.values.get("suspected_uncommanded"):
            assert alert.reason.values["uncommanded_rule"] == "periodic"


def test_a_rejoin_then_the_press_is_cancelled_and_everything_survives_a_restart() -> None:
    state, _ = feed(SOS, [(0, DeviceEvent(DEVICE_ANNOUNCE)), (30, DeviceEvent(PRESS))])
    reloaded = DeviceState.from_json(state.to_json())
    assert reloaded == state
    state, alerts = feed(SOS, [(33, DeviceEvent(PRESS))], reloaded, CANCEL_BY_PRESS)
    assert [a.state for a in alerts] == [RAISED]  # not cancellable: raised without a cancel rule
    state, alerts = feed(SOS, [(40, DeviceEvent(PRESS))], state, CANCEL_BY_PRESS)
    assert [a.state for a in alerts] == [CLEARED]
    assert DeviceState.from_json(state.to_json()) == state


def test_sos_settings_refuse_a_button_that_cannot_call_for_help() -> None:
    with pytest.raises(ValueError, match="raise_on"):
        SosSettings(raise_on=frozenset())
    with pytest.raises(ValueError, match="periodic_repeats"):
        SosSettings(periodic_repeats=2)


def test_other_devices_ignore_announces_and_presses() -> None:
    timed: list[tuple[float, Observation]] = [
        (0, DeviceEvent(DEVICE_ANNOUNCE)),
        (1, DeviceEvent(PRESS)),
    ]
    state, alerts = feed(DeviceKind.SMOKE, timed)
    assert alerts == []
    assert state.sos.rejoined_at is None
    assert state.last_seen == at(1)


def test_bridge_events_other_than_an_announce_decode_to_nothing() -> None:
    base = "zigbee2mqtt/bridge/event"
    for payload in (
        b'{"type":"device_leave","data":{"friendly_name":"my_bulb"}}',
        b'{"type":"device_announce","data":{}}',
        b'{"type":"device_announce","data":"x"}',
        b"not json",
        b"\xff\xfe",
        b"[]",
    ):
        assert decode_bridge_event(base, payload) is None
    announce = b'{"type":"device_joined","data":{"friendly_name":"b2 501 sos"}}'
    assert decode_bridge_event("zigbee2mqtt/bridge/state", announce) is None
    assert decode_bridge_event("linli/dev/x/event", announce) is None
    assert decode_bridge_event(base, announce, max_bytes=10) is None
    decoded = decode_bridge_event(base, announce)
    assert decoded is not None
    assert decoded.observations == (DeviceEvent(DEVICE_ANNOUNCE),)


def test_press_times_are_event_times_so_a_replayed_backlog_keeps_its_spacing() -> None:
    # Queued messages delivered together after an outage keep their device-side spacing.
    profile = CANCEL_BY_PRESS
    timed = [(0.0, DeviceEvent(PRESS, at(0))), (30.0, DeviceEvent(PRESS, at(30)))]
    state = DeviceState()
    alerts: list[AlertDecision] = []
    for _, observation in timed:
        assert isinstance(observation, DeviceEvent)
        assert observation.event_time is not None
        result = detect(
            state,
            device(SOS),
            observation,
            observation.event_time,
            profile,
            received_at=at(100) + timedelta(milliseconds=1),
        )
        state = result.state
        alerts.extend(result.alerts)
    assert [a.state for a in alerts] == [RAISED, RAISED]


def test_a_counted_event_seen_already_is_a_repeat_and_a_restart_counts_again() -> None:
    """A device's own count of its events (Shelly Gen1's event_cnt, per input): the same
    count again is the event repeated, any other count a new one, a lower one too (the
    device restarted); the counts survive the edge's restart with the state."""

    def press(count: int, input_name: str = "0") -> DeviceEvent:
        return DeviceEvent(ButtonEvent.PRESS, count=(input_name, count))

    timed: list[tuple[float, Observation]] = [
        (0.0, press(849)),
        (30.0, press(849)),  # re-published 30 s later
        (45.0, press(3, "1")),  # another input: its own count
        (60.0, press(849)),
        (75.0, press(3, "1")),
        (90.0, press(850)),
        (120.0, press(1)),  # restarted: counts from zero again
    ]
    state, alerts = feed(DeviceKind.SOS_BUTTON, timed)
    assert [(a.kind, (a.event_time - T0).total_seconds()) for a in alerts] == [
        (AlertKind.SOS, 0.0),
        (AlertKind.SOS, 45.0),
        (AlertKind.SOS, 90.0),
        (AlertKind.SOS, 120.0),
    ]
    restored = DeviceState.from_json(state.to_json())
    assert restored.event_counts == (("0", 1), ("1", 3))
    assert feed(DeviceKind.SOS_BUTTON, [(150.0, press(1))], restored)[1] == []
