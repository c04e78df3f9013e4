"""The pure core of operators' camera commands (``hub.evidence.commands``), on plain values."""

from datetime import UTC, datetime

import pytest

from devices.camera import CameraCommandKind
from devices.kinds import DeviceKind
from hub.audit.chain import AuditAction
from hub.errors import InvalidInputError
from hub.evidence.commands import command_edge, command_record, rebaseline

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_a_command_goes_to_the_edge_serving_the_camera() -> None:
    assert command_edge("gate-cam", DeviceKind.CAMERA, "edge-1") == "edge-1"


@pytest.mark.parametrize(
    ("kind", "edge_id", "message"),
    [
        (DeviceKind.SMOKE, "edge-1", "gate-cam is a smoke, not a camera"),
        (DeviceKind.CAMERA, None, "no edge serves camera gate-cam"),
    ],
)
def test_a_command_for_no_camera_or_no_edge_is_refused(
    kind: DeviceKind, edge_id: str | None, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        command_edge("gate-cam", kind, edge_id)


def test_a_rebaseline_and_its_trail_entry_name_who_asked_and_where_it_went() -> None:
    command = rebaseline("c" * 32, "gate-cam", "li")
    assert (command.command, command.device_id, command.requested_by) == (
        CameraCommandKind.REBASELINE,
        "gate-cam",
        "li",
    )
    record = command_record(command, "edge-1", NOW)
    assert (record.ts, record.action, record.actor) == (NOW, AuditAction.CAMERA_COMMANDED, "li")
    assert record.detail == {
        "device_id": "gate-cam",
        "edge_id": "edge-1",
        "command": "rebaseline",
        "command_id": "c" * 32,
    }
