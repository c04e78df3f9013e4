"""The site's Zigbee2MQTT bridge offline: one alert after a grace, on plain values and time.

``edge.zigbee_bridge`` decides on the bridge's ``DeviceState`` by the edge's clock; the
devices behind it are judged by ``edge.detection.tick`` as ``behind_bridge`` says.
"""

from datetime import timedelta

import pytest

from devices.adapters import DEFAULT_MAX_PAYLOAD_BYTES, decode_bridge_state
from devices.errors import PayloadError
from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import Alert, AlertReason
from devices.registry import Device
from devices.topics import ZigbeeBridgeTopic, parse_device_topic, parse_local_topic
from devices.zigbee_network import bridge_device, bridge_id, is_bridge_id
from edge.detection import DeviceState, tick
from edge.zigbee_bridge import (
    DEFAULT_GRACE_S,
    BridgeWord,
    Supervision,
    behind_bridge,
    bridge_of,
    bridge_said,
    bridge_tick,
    bridge_word,
    known_bridges,
)
from hub.fleet.rules import adopted_device
from tests.edge.detection_series import T0, at, device

GRACE_S = DEFAULT_GRACE_S
EDGE = "edge-1"
Z2M = bridge_id(EDGE)
SOS = device(DeviceKind.SOS_BUTTON, "b3-sos", zigbee_name="b3 1201 sos")
NATIVE_SMOKE = device(DeviceKind.SMOKE, "b3-smoke")
TASMOTA_SMOKE = Device(
    id="hall-smoke", kind=DeviceKind.SMOKE, location="Hall", tasmota_topic="zbbridge/0x8F20"
)
TASMOTA_PLUG = Device(
    id="hall-th", kind=DeviceKind.HEAT, location="Hall", tasmota_topic="sonoff-th"
)


def offline_at(seconds: float, state: DeviceState | None = None) -> DeviceState:
    result = bridge_said(state or DeviceState(), False, at(seconds))
    assert result.alerts == ()
    return result.state


def test_offline_past_the_grace_is_one_high_alert_at_the_end_of_the_grace() -> None:
    state = offline_at(0)
    assert bridge_tick(state, at(GRACE_S - 1), GRACE_S).alerts == ()
    result = bridge_tick(state, at(GRACE_S + 4), GRACE_S)
    [alert] = result.alerts
    assert (alert.kind, alert.state, alert.severity) == (
        AlertKind.BRIDGE_OFFLINE,
        AlertState.RAISED,
        Severity.HIGH,
    )
    assert alert.event_time == at(GRACE_S)
    assert alert.reason.values["offline_since"] == T0.isoformat()
    # Raised once: the next ticks, and the bridge saying offline again, add nothing.
    again = bridge_said(result.state, False, at(GRACE_S + 10)).state
    assert again.offline_since == T0
    assert bridge_tick(again, at(3600), GRACE_S).alerts == ()


def test_back_online_clears_the_alert() -> None:
    raised = bridge_tick(offline_at(0), at(GRACE_S), GRACE_S).state
    result = bridge_said(raised, True, at(300))
    [alert] = result.alerts
    assert (alert.kind, alert.state, alert.severity) == (
        AlertKind.BRIDGE_OFFLINE,
        AlertState.CLEARED,
        Severity.HIGH,
    )
    assert (result.state.offline_since, result.state.last_seen) == (None, at(300))
    assert result.state.raised == frozenset()


def test_offline_and_back_within_the_grace_is_nothing() -> None:
    back = bridge_said(offline_at(0), True, at(8))
    assert back.alerts == ()
    assert bridge_tick(back.state, at(3600), GRACE_S).alerts == ()


def test_offline_read_at_start_counts_the_grace_from_the_start() -> None:
    # The retained offline of a bridge that died an hour before the edge started.
    state = offline_at(0)
    start = at(3600)
    assert bridge_tick(state, start + timedelta(seconds=30), GRACE_S, start).alerts == ()
    [alert] = bridge_tick(state, start + timedelta(seconds=GRACE_S), GRACE_S, start).alerts
    assert alert.event_time == start + timedelta(seconds=GRACE_S)


def test_the_bridge_state_survives_the_outbox_and_a_clock_step() -> None:
    state = bridge_tick(offline_at(0), at(GRACE_S), GRACE_S).state
    assert DeviceState.from_json(state.to_json()) == state
    assert state.stepped(timedelta(hours=1)).offline_since == at(3600)
    # A state an older edge stored reads as a bridge online.
    assert DeviceState.from_json('{"raised": []}').offline_since is None


def test_devices_behind_an_offline_bridge_leave_their_deadlines_to_it() -> None:
    start = T0
    bridges = {Z2M: offline_at(60)}
    assert behind_bridge(SOS, bridges, EDGE, start) == Supervision(False, start)
    # Hours past the SOS button's 2 h deadline: nothing from it, the native smoke detector's
    # deadline stands.
    late = at(5 * 3600)
    assert tick(DeviceState(), SOS, late, watching_since=start, deadline=False).alerts == ()
    [smoke] = tick(DeviceState(), NATIVE_SMOKE, late, watching_since=start).alerts
    assert smoke.kind is AlertKind.DEVICE_OFFLINE
    assert behind_bridge(NATIVE_SMOKE, bridges, EDGE, start) == Supervision(True, start)
    # Nor is a Tasmota Zigbee bridge's device behind Zigbee2MQTT: it has a bridge of its own.
    assert behind_bridge(TASMOTA_SMOKE, bridges, EDGE, start) == Supervision(True, start)


def test_devices_behind_a_tasmota_zigbee_bridge_follow_it() -> None:
    start = T0
    tasmota = bridge_id(EDGE, "zbbridge")
    bridges = {tasmota: offline_at(60)}
    assert bridge_of(TASMOTA_SMOKE, EDGE) == tasmota
    assert behind_bridge(TASMOTA_SMOKE, bridges, EDGE, start) == Supervision(False, start)
    assert bridge_of(TASMOTA_PLUG, EDGE) is None  # a Tasmota device of its own
    assert behind_bridge(SOS, bridges, EDGE, start) == Supervision(True, start)


def test_devices_behind_a_bridge_back_count_their_deadlines_from_its_return() -> None:
    back = bridge_said(offline_at(60), True, at(5 * 3600)).state
    supervision = behind_bridge(SOS, {Z2M: back}, EDGE, T0)
    assert supervision == Supervision(True, at(5 * 3600))
    two_hours = 2 * 3600
    early = at(5 * 3600 + two_hours - 1)
    assert tick(DeviceState(), SOS, early, watching_since=supervision.watching_since).alerts == ()
    due = at(5 * 3600 + two_hours)
    [alert] = tick(DeviceState(), SOS, due, watching_since=supervision.watching_since).alerts
    assert alert.kind is AlertKind.DEVICE_OFFLINE
    # A repeated online (a retained replay at a reconnect) is no return.
    again = bridge_said(back, True, at(7 * 3600)).state
    assert again.last_seen == at(5 * 3600)


def test_without_a_bridge_heard_devices_are_judged_as_ever() -> None:
    assert behind_bridge(SOS, {}, EDGE, T0) == Supervision(True, T0)


@pytest.mark.parametrize(
    ("payload", "online"),
    [
        (b'{"state":"online"}', True),
        (b'{"state":"offline"}', False),
        (b"online", True),  # before Zigbee2MQTT 1.33
        (b"offline", False),
    ],
)
def test_both_forms_of_the_bridge_state_are_read(payload: bytes, online: bool) -> None:
    parsed = parse_local_topic("zigbee2mqtt/bridge/state")
    assert parsed == ZigbeeBridgeTopic("bridge/state")
    assert decode_bridge_state(parsed, payload) is online


@pytest.mark.parametrize("payload", [b"", b"down", b'{"state":"restarting"}', b"\xff", b"[1]"])
def test_anything_else_on_the_bridge_state_is_refused(payload: bytes) -> None:
    with pytest.raises(PayloadError):
        decode_bridge_state(ZigbeeBridgeTopic("bridge/state"), payload)


def test_other_bridge_topics_are_not_its_state() -> None:
    assert decode_bridge_state(ZigbeeBridgeTopic("bridge/info"), b"{}") is None


def word(topic: str, payload: bytes) -> BridgeWord | None:
    return bridge_word(
        parse_device_topic(topic),
        payload,
        max_bytes=DEFAULT_MAX_PAYLOAD_BYTES,
        is_tasmota_bridge=lambda t: t == "zbbridge",
    )


def test_what_a_bridge_says_of_itself() -> None:
    assert word("zigbee2mqtt/bridge/state", b"offline") == BridgeWord(False)
    assert word("tele/zbbridge/LWT", b"Offline") == BridgeWord(False, "zbbridge")
    assert word("tele/zbbridge/LWT", b"Online") == BridgeWord(True, "zbbridge")
    # A plain Tasmota device's LWT is its own availability; other messages are no bridge's.
    assert word("tele/sonoff-th/LWT", b"Offline") is None
    assert word("zigbee2mqtt/bridge/event", b"{}") is None
    assert word("zigbee2mqtt/b3 1201 sos", b'{"action":"emergency"}') is None
    with pytest.raises(PayloadError):
        word("tele/zbbridge/LWT", b"Gone")


def test_bridges_stored_before_a_restart_are_known_again() -> None:
    stored = {Z2M, bridge_id(EDGE, "zbbridge"), "b3-smoke"}
    found = known_bridges(EDGE, [SOS, TASMOTA_SMOKE, TASMOTA_PLUG], stored)
    assert found == [bridge_device(EDGE), bridge_device(EDGE, "zbbridge")]
    assert known_bridges(EDGE, [SOS], {"b3-smoke"}) == []


def test_the_bridge_is_a_device_of_its_edge_apart_from_every_other() -> None:
    bridge = bridge_device("edge-1")
    assert (bridge.id, bridge.kind, bridge.edge_id) == (
        "edge-1.zigbee-bridge",
        DeviceKind.ZIGBEE_BRIDGE,
        "edge-1",
    )
    assert is_bridge_id(bridge.id, "edge-1")
    assert not is_bridge_id(bridge.id, "edge-2")
    tasmota = bridge_device("edge-1", "zbbridge")
    assert (tasmota.id, tasmota.location) == (
        "edge-1.tasmota-bridge.zbbridge.6478d80efc",
        "Zigbee network of edge edge-1/Tasmota zbbridge",
    )
    assert is_bridge_id(tasmota.id, "edge-1")
    assert len(bridge_id("e" * 64, "t" * 64)) <= 64
    long_id = bridge_id("e" * 64)
    assert len(long_id) <= 64
    assert long_id != bridge_id("e" * 63)
    assert bridge_device("e" * 64).id == long_id


def test_the_hub_registers_the_bridge_from_its_alert() -> None:
    bridge = bridge_device("edge-1")
    alert = Alert(
        id="a" * 32,
        edge_id="edge-1",
        device_id=bridge.id,
        kind=AlertKind.BRIDGE_OFFLINE,
        state=AlertState.RAISED,
        severity=Severity.HIGH,
        ts=T0,
        detected_at=T0,
        location=bridge.location,
        reason=AlertReason(rule="bridge_state=offline", values={}, profile="zigbee-bridge-state"),
    )
    assert adopted_device(alert) == bridge
    tasmota = bridge_device("edge-1", "zbbridge")
    of_tasmota = alert.model_copy(update={"device_id": tasmota.id, "location": tasmota.location})
    assert adopted_device(of_tasmota) == tasmota
    # Another edge's bridge id says nothing of what the device is.
    other = alert.model_copy(update={"edge_id": "edge-2"})
    assert adopted_device(other) is None
