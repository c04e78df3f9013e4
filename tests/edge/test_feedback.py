"""The command a resident's button gets for each stage of the request."""

import json

import pytest

from devices.kinds import DeviceKind
from devices.messages import FeedbackStage
from devices.registry import Device
from edge.feedback import feedback_command

NATIVE = Device(id="b3-1201-sos", kind=DeviceKind.SOS_BUTTON, location="Building 3/Unit 1201")
ZIGBEE = NATIVE.model_copy(update={"id": "b2-501-sos", "zigbee_name": "b2 501 sos"})


@pytest.mark.parametrize("stage", list(FeedbackStage))
def test_native_button_gets_a_feedback_command_on_its_set_topic(stage: FeedbackStage) -> None:
    command = feedback_command(NATIVE, stage)
    assert command is not None
    assert command.topic == "linli/dev/b3-1201-sos/set"
    body = json.loads(command.payload)
    assert body["feedback"] == stage
    assert {"led", "buzzer"} <= body.keys()


@pytest.mark.parametrize("stage", list(FeedbackStage))
def test_zigbee_button_gets_an_ias_squawk_on_its_z2m_set_topic(stage: FeedbackStage) -> None:
    command = feedback_command(ZIGBEE, stage, z2m_base="z2m")
    assert command is not None
    assert command.topic == "z2m/b2 501 sos/set"
    squawk = json.loads(command.payload)["squawk"]
    assert squawk["state"] in ("system_is_armed", "system_is_disarmed")
    assert squawk["level"] in ("low", "medium", "high", "very_high")


def test_stages_look_different_so_a_resident_can_tell_them_apart() -> None:
    commands = [feedback_command(NATIVE, stage) for stage in FeedbackStage]
    payloads = {command.payload for command in commands if command is not None}
    assert len(payloads) == len(FeedbackStage)


def test_devices_without_a_resident_get_no_feedback() -> None:
    smoke = NATIVE.model_copy(update={"kind": DeviceKind.SMOKE})
    assert feedback_command(smoke, FeedbackStage.RECEIVED) is None
