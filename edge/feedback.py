"""Feedback to the resident who pressed a button: which command goes to which device.

Pure: given a device and how far its resident's request has come, return the MQTT command
to publish on the device's ``set`` topic. The agent publishes ``received`` the moment a
press is stored (even with the uplink down), ``cancelled`` the moment a cancel gesture is,
``not_delivered`` when the hub has not acknowledged the press in time (``edge.sos_watch``),
and relays the hub's later stages.

Native devices get ``{"feedback": stage, "led": pattern, "buzzer": pattern}`` on
``linli/dev/<id>/set``. Zigbee2MQTT devices get an IAS WD ``squawk`` on
``zigbee2mqtt/<name>/set`` — the standard Zigbee command for a short visual/audible
acknowledgement, which warning-device-capable buttons, keypads and sirens carry out; plain
buttons without an actuator ignore it.
"""

import json
from dataclasses import dataclass

from devices.kinds import DeviceKind
from devices.messages import FeedbackStage
from devices.registry import Device
from devices.topics import DeviceChannel, device_topic, zigbee_set_topic

FEEDBACK_KINDS = frozenset({DeviceKind.SOS_BUTTON})
"""Devices a resident presses and that can show how the request is going."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """What a button shows for one stage."""

    led: str
    buzzer: str
    squawk_state: str
    squawk_level: str
    strobe: bool


PATTERNS: dict[FeedbackStage, Pattern] = {
    FeedbackStage.RECEIVED: Pattern("blink_slow", "beep_1", "system_is_armed", "low", True),
    FeedbackStage.CASE_OPENED: Pattern("blink_fast", "beep_2", "system_is_armed", "medium", True),
    FeedbackStage.ACKNOWLEDGED: Pattern("solid", "beep_3", "system_is_armed", "high", True),
    FeedbackStage.RESOLVED: Pattern("off", "off", "system_is_disarmed", "low", False),
    # Unlike any other stage: the resident must be able to tell "you cancelled" from "over".
    FeedbackStage.CANCELLED: Pattern(
        "blink_double", "beep_long", "system_is_disarmed", "medium", True
    ),
    # The call failed (edge.sos_watch): unlike any stage of a request under way, and the
    # loudest squawk, so that the resident turns to the phone instead of waiting.
    FeedbackStage.NOT_DELIVERED: Pattern(
        "blink_red", "beep_error", "system_is_disarmed", "very_high", True
    ),
}


@dataclass(frozen=True, slots=True)
class DeviceCommand:
    """An MQTT message to one device."""

    topic: str
    payload: bytes


def feedback_command(
    device: Device, stage: FeedbackStage, *, z2m_base: str = "zigbee2mqtt"
) -> DeviceCommand | None:
    """Return the command that shows ``stage`` on ``device``, or None if it shows nothing."""
    if device.kind not in FEEDBACK_KINDS:
        return None
    pattern = PATTERNS[stage]
    if device.zigbee_name:
        squawk = {
            "state": pattern.squawk_state,
            "level": pattern.squawk_level,
            "strobe": pattern.strobe,
        }
        return DeviceCommand(
            zigbee_set_topic(device.zigbee_name, base=z2m_base),
            json.dumps({"squawk": squawk}).encode(),
        )
    body = {"feedback": str(stage), "led": pattern.led, "buzzer": pattern.buzzer}
    return DeviceCommand(device_topic(device.id, DeviceChannel.SET), json.dumps(body).encode())
