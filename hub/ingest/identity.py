"""Does an uplink message speak only for its own edge? The hub's own check, behind the broker's
ACL (docs/security.md): pure functions on plain values, no I/O.

The broker already binds the topic ``linli/edge/<edge_id>/...`` to the edge's credentials. The
hub checks, in addition, that the payload names that same edge, and that every device it speaks
for is registered to that edge; otherwise the message (or the part of it about a foreign
device) is refused with a reason the caller counts and logs, and nothing of it is stored.

A device not registered to any edge is not refused here: the intake refuses unknown devices
itself, and a device registered without an edge belongs to nobody yet. Except a household
page's virtual button (``household-<n>-web``, ``hub.residents``): the hub raises its presses
itself, so no edge may raise an alert about it or list it in an inventory (its ids are
guessable: a stolen edge raised a forged SOS at any household's address, found by an outside
review). An alert about a
device another edge registered by its inventory, which no operator vouched for, is taken
(contested), not refused (``hub.fleet.claims`` says why); every alert or inventory entry
about another edge's device is returned as a ``Claim`` for the hub to report.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from devices.messages import Alert, TelemetryBatch, TelemetryPoint
from devices.registry import Device
from hub.fleet.claims import Claim, Registration
from hub.residents.rules import is_web_device


class IdentityReason(StrEnum):
    """Why a message, or part of one, does not belong to the edge that sent it."""

    EDGE_MISMATCH = "edge_mismatch"
    """The payload names another edge than its topic."""
    FOREIGN_DEVICE = "foreign_device"
    """The device is registered to another edge."""
    HUB_DEVICE = "hub_device"
    """The device is the hub's own (a household page's button): no edge speaks for it."""


def device_claim(
    topic_edge: str, device_id: str, registered: Mapping[str, Registration]
) -> IdentityReason | None:
    """Return why ``topic_edge`` may not speak for ``device_id``, or None if it may."""
    if is_web_device(device_id):
        return IdentityReason.HUB_DEVICE
    owner = _owner(device_id, registered)
    if owner is not None and owner != topic_edge:
        return IdentityReason.FOREIGN_DEVICE
    return None


def _owner(device_id: str, registered: Mapping[str, Registration]) -> str | None:
    registration = registered.get(device_id)
    return None if registration is None else registration.edge_id


def payload_claim(topic_edge: str, payload_edge: str) -> IdentityReason | None:
    """Return why a payload naming ``payload_edge`` may not come from ``topic_edge``."""
    return None if payload_edge == topic_edge else IdentityReason.EDGE_MISMATCH


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Screened(Generic[T]):
    """What an edge may say (``kept``) and what it may not (``refused``, with why)."""

    kept: list[T]
    refused: list[tuple[T, IdentityReason]]
    claims: list[Claim] = field(default_factory=list)
    """The edge's claims on devices registered to other edges, kept or refused."""


def screen_inventory(
    topic_edge: str, devices: Iterable[Device], registered: Mapping[str, Registration]
) -> Screened[Device]:
    """Keep the devices of an edge's status inventory that the edge may register: not one
    naming another edge, not one registered to another edge (only an operator moves a device;
    the edge's entry is returned as a claim)."""
    kept: list[Device] = []
    refused: list[tuple[Device, IdentityReason]] = []
    claims: list[Claim] = []
    for device in devices:
        reason = (
            payload_claim(topic_edge, device.edge_id) if device.edge_id is not None else None
        ) or device_claim(topic_edge, device.id, registered)
        if reason is None:
            kept.append(device)
            continue
        refused.append((device, reason))
        owner = _owner(device.id, registered)
        if reason is IdentityReason.FOREIGN_DEVICE and owner is not None:
            claims.append(Claim(device.id, topic_edge, owner, location=device.location))
    return Screened(kept, refused, claims)


def screen_telemetry(
    topic_edge: str, batch: TelemetryBatch, registered: Mapping[str, Registration]
) -> Screened[TelemetryPoint]:
    """Keep the points of a telemetry batch about the edge's own devices, and about devices
    it contests (``Registration.contested_by``: it claimed them, and no operator vouched for
    the registration): a forged reading would keep another edge's silent smoke detector
    looking alive, but a contested device's readings may be the real ones, and its claim is
    on a conflict case already."""
    if payload_claim(topic_edge, batch.edge_id) is not None:
        return Screened([], [(p, IdentityReason.EDGE_MISMATCH) for p in batch.points])
    kept: list[TelemetryPoint] = []
    refused: list[tuple[TelemetryPoint, IdentityReason]] = []
    for point in batch.points:
        reason = device_claim(topic_edge, point.device_id, registered)
        registration = registered.get(point.device_id)
        if reason is None or (registration is not None and registration.contested_by(topic_edge)):
            kept.append(point)
        else:
            refused.append((point, reason))
    return Screened(kept, refused)


def screen_alerts(
    alerts: Iterable[Alert], registered: Mapping[str, Registration]
) -> Screened[Alert]:
    """Keep the alerts an edge raises for its own devices, and for devices another edge's
    inventory registered (contested: a claim, taken); refuse those about a device an operator
    registered to another edge (a claim, refused). Each alert's ``edge_id`` is its topic's,
    checked when it was parsed. Only the MQTT uplink is screened: the resident's page raises
    alerts as the hub itself."""
    kept: list[Alert] = []
    refused: list[tuple[Alert, IdentityReason]] = []
    claims: list[Claim] = []
    for alert in alerts:
        if is_web_device(alert.device_id):
            refused.append((alert, IdentityReason.HUB_DEVICE))
            continue
        registration = registered.get(alert.device_id)
        owner = None if registration is None else registration.edge_id
        if owner is None or owner == alert.edge_id:
            kept.append(alert)
            continue
        vouched = registration is not None and registration.vouched
        claims.append(Claim(alert.device_id, alert.edge_id, owner, alert=alert, refused=vouched))
        if vouched:
            refused.append((alert, IdentityReason.FOREIGN_DEVICE))
        else:
            kept.append(alert)
    return Screened(kept, refused, claims)


def intake_screen(
    alerts: Sequence[Alert], registered: Mapping[str, Registration]
) -> tuple[list[Alert], list[tuple[Alert, IdentityReason]], list[Claim]]:
    """``screen_alerts`` as the case intake takes it (``hub.cases.intake.Screen``): run inside
    the intake's transaction, on the registrations its first read brings anyway."""
    screened = screen_alerts(alerts, registered)
    return screened.kept, screened.refused, screened.claims
