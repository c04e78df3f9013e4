"""Operators' commands for a camera, the pure core: which edge a command goes to, what it says,
and what the audit trail records of it. The route (``hub.evidence.routes``) looks the device
up, calls these, publishes and appends."""

from datetime import datetime

from devices.camera import CameraCommand, CameraCommandKind
from devices.kinds import DeviceKind
from hub.audit.chain import AuditAction, AuditRecord
from hub.errors import InvalidInputError


def command_edge(device_id: str, kind: DeviceKind, edge_id: str | None) -> str:
    """Return the edge a camera command for this device goes to, or refuse saying why."""
    if kind is not DeviceKind.CAMERA:
        raise InvalidInputError(f"device {device_id} is a {kind}, not a camera")
    if edge_id is None:
        raise InvalidInputError(f"no edge serves camera {device_id}")
    return edge_id


def rebaseline(command_id: str, device_id: str, actor: str | None) -> CameraCommand:
    """Return the command that makes a camera take its current view as the reference."""
    return CameraCommand(
        id=command_id,
        device_id=device_id,
        command=CameraCommandKind.REBASELINE,
        requested_by=actor,
    )


def command_record(command: CameraCommand, edge_id: str, now: datetime) -> AuditRecord:
    """Return the audit record of a command sent to ``edge_id``."""
    return AuditRecord(
        ts=now,
        action=AuditAction.CAMERA_COMMANDED,
        actor=command.requested_by,
        detail={
            "device_id": command.device_id,
            "edge_id": edge_id,
            "command": command.command.value,
            "command_id": command.id,
        },
    )
