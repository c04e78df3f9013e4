"""Does an uplink message speak only for its own edge? The hub's own check, behind the broker's
ACL (docs/security.md): pure functions on plain values, no I/O.

The broker already binds the topic ``linli/edge/<edge_id>/...`` to the edge's credentials. The
hub checks, in addition, that the payload names that same edge, and that every device it speaks
for is registered to that edge; otherwise the message (or the part of it about a foreign
device) is refused with a reason the caller counts and logs, and nothing of it is stored.

A device not registered to any edge is not refused here: the intake refuses unknown devices
itself, and a device registered without an edge belongs to nobody yet.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from devices.messages import Alert, TelemetryBatch, TelemetryPoint
from devices.registry import Device


class IdentityReason(StrEnum):
    """Why a message, or part of one, does not belong to the edge that sent it."""

    EDGE_MISMATCH = "edge_mismatch"
    """The payload names another edge than its topic."""
    FOREIGN_DEVICE = "foreign_device"
    """The device is registered to another edge."""


def device_claim(
    topic_edge: str, device_id: str, registered: Mapping[str, str | None]
) -> IdentityReason | None:
    """Return why ``topic_edge`` may not speak for ``device_id``, or None if it may."""
    owner = registered.get(device_id)
    if owner is not None and owner != topic_edge:
        return IdentityReason.FOREIGN_DEVICE
    return None


def payload_claim(topic_edge: str, payload_edge: str) -> IdentityReason | None:
    """Return why a payload naming ``payload_edge`` may not come from ``topic_edge``."""
    return None if payload_edge == topic_edge else IdentityReason.EDGE_MISMATCH


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Screened(Generic[T]):
    """What an edge may say (``kept``) and what it may not (``refused``, with why)."""

    kept: list[T]
    refused: list[tuple[T, IdentityReason]]


def screen_inventory(
    topic_edge: str, devices: Iterable[Device], registered: Mapping[str, str | None]
) -> Screened[Device]:
    """Keep the devices of an edge's status inventory that the edge may register: not one
    naming another edge, not one registered to another edge (only an operator moves a device)."""
    kept: list[Device] = []
    refused: list[tuple[Device, IdentityReason]] = []
    for device in devices:
        reason = (
            payload_claim(topic_edge, device.edge_id) if device.edge_id is not None else None
        ) or device_claim(topic_edge, device.id, registered)
        if reason is None:
            kept.append(device)
        else:
            refused.append((device, reason))
    return Screened(kept, refused)


def screen_telemetry(
    topic_edge: str, batch: TelemetryBatch, registered: Mapping[str, str | None]
) -> Screened[TelemetryPoint]:
    """Keep the points of a telemetry batch about the edge's own devices: a forged reading
    would keep another edge's silent smoke detector looking alive."""
    if payload_claim(topic_edge, batch.edge_id) is not None:
        return Screened([], [(p, IdentityReason.EDGE_MISMATCH) for p in batch.points])
    kept: list[TelemetryPoint] = []
    refused: list[tuple[TelemetryPoint, IdentityReason]] = []
    for point in batch.points:
        reason = device_claim(topic_edge, point.device_id, registered)
        if reason is None:
            kept.append(point)
        else:
            refused.append((point, reason))
    return Screened(kept, refused)


def screen_alerts(alerts: Iterable[Alert], registered: Mapping[str, str | None]) -> Screened[Alert]:
    """Keep the alerts an edge raises for its own devices (each alert's ``edge_id`` is its
    topic's, checked when it was parsed). Only the MQTT uplink is screened: the resident's page
    raises alerts as the hub itself."""
    kept: list[Alert] = []
    refused: list[tuple[Alert, IdentityReason]] = []
    for alert in alerts:
        reason = device_claim(alert.edge_id, alert.device_id, registered)
        if reason is None:
            kept.append(alert)
        else:
            refused.append((alert, reason))
    return Screened(kept, refused)
