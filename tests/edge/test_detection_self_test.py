"""A detector's self-test is believed for as long as a test takes, not for ever.

Zigbee2MQTT publishes a device's whole cached state with every message. A Tuya gas sensor's
``self_test`` is set to true by the test request itself (Koenkk/zigbee-herdsman-converters#6351:
``{"self_test":true}`` on ``/set``, then ``"self_test":true,"self_test_result":"failure"`` in
every message) and stays true in that cache until the device reports the datapoint false,
which some never do. Before, every later message carried ``self_test: true``, and the
detector's real alarm, hours or days later, was recorded as a test: a missed gas leak.
"""

from datetime import timedelta

import pytest

from devices.kinds import AlertKind, DeviceKind
from devices.observations import Observation
from edge.detection import DeviceState, detect
from edge.detectors.profile import SELF_TEST_MAX_S
from tests.conftest import only_state
from tests.devices.test_zigbee_vendors import GAS_SELF_TEST
from tests.edge.detection_series import CRIT, RAISED, T0, at, device, feed, summary


def zigbee(payload: str) -> Observation:
    """Decode one Zigbee2MQTT message as the edge does."""
    return only_state("zigbee2mqtt/detector", payload.encode())


# The gas sensor's messages after the test request (the source's log), then its real alarm
# hours later: the cache still says self_test true (and the last result), the flag is "True".
GAS_ALARM_STALE_TEST = GAS_SELF_TEST.replace('"gas":false', '"gas":"True"')
# Nous E12 smoke/CO (nous.ts: dp 9 "testing"), Moes ZC-HM CO (moes.ts: self_test_result).
SMOKE_STALE_TEST = '{"battery":90,"smoke":false,"testing":true}'
CO_STALE_TEST = '{"battery":100,"carbon_monoxide":false,"co":0,"self_test_result":"checking"}'

CASES = [
    (DeviceKind.GAS, GAS_SELF_TEST, GAS_ALARM_STALE_TEST, AlertKind.GAS),
    (
        DeviceKind.SMOKE,
        SMOKE_STALE_TEST,
        SMOKE_STALE_TEST.replace('"smoke":false', '"smoke":true'),
        AlertKind.SMOKE,
    ),
    (
        DeviceKind.CO,
        CO_STALE_TEST,
        CO_STALE_TEST.replace('"carbon_monoxide":false', '"carbon_monoxide":true'),
        AlertKind.CO,
    ),
]


@pytest.mark.parametrize(("kind", "testing", "alarm", "alert"), CASES)
def test_a_self_test_flag_left_standing_does_not_hide_a_real_alarm_hours_later(
    kind: DeviceKind, testing: str, alarm: str, alert: AlertKind
) -> None:
    hours = 6 * 3600.0
    state, alerts = feed(kind, [(0.0, zigbee(testing)), (hours, zigbee(testing))])
    assert alerts == []
    result = detect(state, device(kind), zigbee(alarm), at(hours + 60))
    assert summary(list(result.alerts)) == [(alert, RAISED, CRIT)]
    values = result.alerts[0].reason.values
    assert values["stale_self_test_s"] == hours + 60


@pytest.mark.parametrize(("kind", "testing", "alarm", "alert"), CASES)
def test_the_alarm_flag_of_a_test_under_way_is_still_a_test(
    kind: DeviceKind, testing: str, alarm: str, alert: AlertKind
) -> None:
    # The test began (the edge first heard it) just under the bound ago: still a test.
    just_under = SELF_TEST_MAX_S - 1
    state, _ = feed(kind, [(0.0, zigbee(testing))])
    result = detect(state, device(kind), zigbee(alarm), at(just_under))
    assert result.alerts == ()
    assert result.self_test


def test_a_test_that_ended_and_began_again_is_timed_from_its_new_start() -> None:
    after = GAS_SELF_TEST.replace('"self_test":true', '"self_test":false')
    late = 2 * SELF_TEST_MAX_S
    timed = [(0.0, zigbee(GAS_SELF_TEST)), (30.0, zigbee(after)), (late, zigbee(GAS_SELF_TEST))]
    state, alerts = feed(DeviceKind.GAS, timed)
    assert alerts == []
    assert state.self_test_since == at(late)
    result = detect(state, device(DeviceKind.GAS), zigbee(GAS_ALARM_STALE_TEST), at(late + 10))
    assert result.alerts == ()


def test_the_state_keeps_when_the_test_began() -> None:
    state, _ = feed(DeviceKind.GAS, [(0.0, zigbee(GAS_SELF_TEST)), (20.0, zigbee(GAS_SELF_TEST))])
    assert state.self_test_since == T0
    assert DeviceState.from_json(state.to_json()) == state


def test_a_test_said_only_while_it_runs_is_a_new_test_each_time() -> None:
    # Tasmota (the IAS zone's test bit) and native devices say smoke_test only while the test
    # runs; their messages between say nothing of it. A test a week later is a test.
    testing = zigbee('{"smoke":true,"test":true}')
    week = 7 * 24 * 3600.0
    timed = [(0.0, testing), (30.0, zigbee('{"battery":90}')), (week, testing)]
    state, alerts = feed(DeviceKind.SMOKE, timed)
    assert alerts == []
    assert state.self_test_since == at(week)


def test_the_test_is_timed_on_the_edges_clock_not_the_devices() -> None:
    # A device whose clock runs an hour behind: its readings' times say nothing of how long
    # the edge has heard the test said.
    behind = timedelta(hours=1)
    dev = device(DeviceKind.GAS)
    first = detect(DeviceState(), dev, zigbee(GAS_SELF_TEST), T0 - behind, received_at=T0)
    second = detect(
        first.state,
        dev,
        zigbee(GAS_ALARM_STALE_TEST),
        at(30) - behind,
        received_at=at(30),
    )
    assert second.alerts == ()
