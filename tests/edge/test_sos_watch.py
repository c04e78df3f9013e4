"""Which SOS presses the edge tells a button it could not deliver, and when (pure)."""

import json
from datetime import UTC, datetime

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import Alert, AlertReason, FeedbackStage
from devices.registry import Device
from edge.feedback import feedback_command
from edge.sos_watch import DeliveryWatch

T = datetime(2026, 12, 7, 15, tzinfo=UTC)


def alert(
    alert_id: str,
    device_id: str = "b3-sos",
    kind: AlertKind = AlertKind.SOS,
    state: AlertState = AlertState.RAISED,
) -> Alert:
    return Alert(
        id=alert_id,
        edge_id="edge-test",
        device_id=device_id,
        kind=kind,
        state=state,
        severity=Severity.CRITICAL,
        ts=T,
        detected_at=T,
        reason=AlertReason(rule="test"),
    )


def test_a_press_not_acknowledged_in_time_is_overdue_once() -> None:
    watch = DeliveryWatch(30)
    watch.stored([alert("press-0001")], now=100)
    assert watch.overdue(129.9) == []
    [press] = watch.overdue(130)
    assert press.alert_id == "press-0001"
    watch.signalled(press)
    assert watch.overdue(500) == []  # told once, not at every look


def test_a_press_acknowledged_in_time_is_never_overdue() -> None:
    watch = DeliveryWatch(30)
    watch.stored([alert("press-0001")], now=100)
    assert watch.acked(["other-0001", "press-0001"]) == []
    assert watch.overdue(1000) == []
    assert len(watch) == 0


def test_a_press_acknowledged_after_its_button_was_told_is_delivered_late() -> None:
    watch = DeliveryWatch(30)
    watch.stored([alert("press-0001")], now=100)
    [press] = watch.overdue(131)
    watch.signalled(press)
    [late] = watch.acked(["press-0001"])
    assert late.device_id == "b3-sos"
    assert watch.acked(["press-0001"]) == []  # an ack repeated is not delivered again


def test_only_a_raised_sos_is_watched() -> None:
    watch = DeliveryWatch(30)
    watch.stored(
        [
            alert("cancel-0001", state=AlertState.CLEARED),
            alert("smoke-0001", device_id="b3-smoke", kind=AlertKind.SMOKE),
            alert("battery-0001", kind=AlertKind.BATTERY_LOW),
        ],
        now=100,
    )
    assert len(watch) == 0


def test_a_later_press_of_the_same_button_is_what_it_waits_for() -> None:
    watch = DeliveryWatch(30)
    watch.stored([alert("press-0001")], now=100)
    [first] = watch.overdue(131)
    watch.stored([alert("press-0002")], now=140)
    watch.signalled(first)  # told of the first after the second was stored: no matter
    assert watch.acked(["press-0001"]) == []  # the first reached the hub, the second not
    assert [p.alert_id for p in watch.overdue(169)] == []
    assert [p.alert_id for p in watch.overdue(170)] == ["press-0002"]


def test_each_button_is_watched_on_its_own() -> None:
    watch = DeliveryWatch(30)
    watch.stored([alert("press-0001"), alert("press-0002", device_id="b5-sos")], now=100)
    watch.acked(["press-0002"])
    assert [p.device_id for p in watch.overdue(130)] == ["b3-sos"]


def test_not_delivered_looks_like_no_other_stage_on_either_kind_of_button() -> None:
    native = Device(id="b3-1201-sos", kind=DeviceKind.SOS_BUTTON, location="Building 3")
    zigbee = native.model_copy(update={"zigbee_name": "b3 1201 sos"})
    native_command = feedback_command(native, FeedbackStage.NOT_DELIVERED)
    zigbee_command = feedback_command(zigbee, FeedbackStage.NOT_DELIVERED)
    assert native_command is not None
    assert zigbee_command is not None
    assert json.loads(native_command.payload) == {
        "feedback": "not_delivered",
        "led": "blink_red",
        "buzzer": "beep_error",
    }
    squawk = json.loads(zigbee_command.payload)
    assert squawk == {
        "squawk": {"state": "system_is_disarmed", "level": "very_high", "strobe": True}
    }
    others = [feedback_command(zigbee, s) for s in FeedbackStage if s != "not_delivered"]
    assert zigbee_command.payload not in {c.payload for c in others if c is not None}


def test_not_delivered_is_repeated_each_repeat_s_at_most_repeats_more_times() -> None:
    watch = DeliveryWatch(30, repeat_s=60, repeats=2)
    watch.stored([alert("press-0001")], now=100)
    [press] = watch.overdue(130)
    watch.signalled(press, 130)
    assert watch.overdue(189.9) == []
    [again] = watch.overdue(190)
    assert (again.alert_id, again.told) == ("press-0001", 1)
    watch.signalled(again, 190)
    [third] = watch.overdue(250)
    watch.signalled(third, 250)
    assert watch.overdue(10_000) == []  # the first and two more: told three times in all
    [late] = watch.acked(["press-0001"])
    assert late.told == 3


def test_a_press_given_up_or_answered_by_the_hubs_stage_is_not_repeated() -> None:
    watch = DeliveryWatch(30, repeat_s=60, repeats=10)
    watch.stored([alert("press-0001")], now=100)
    [press] = watch.overdue(130)
    watch.signalled(press, 130)
    [again] = watch.overdue(190)
    watch.done(again)
    assert watch.overdue(10_000) == []
    # Still awaited: its ack is what tells the button received again.
    assert [p.alert_id for p in watch.acked(["press-0001"])] == ["press-0001"]


def test_a_new_press_starts_its_own_count() -> None:
    watch = DeliveryWatch(30, repeat_s=60, repeats=1)
    watch.stored([alert("press-0001")], now=100)
    [press] = watch.overdue(130)
    watch.signalled(press, 130)
    watch.stored([alert("press-0002")], now=150)
    assert watch.overdue(179) == []
    [second] = watch.overdue(180)
    assert (second.alert_id, second.told) == ("press-0002", 0)
