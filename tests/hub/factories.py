"""Plain values for hub tests: alerts, devices and statuses with sensible defaults."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import Alert, AlertReason, EdgeStatus
from devices.registry import Device

T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


def alert_id() -> str:
    """Return a fresh alert id, as an edge makes them."""
    return uuid.uuid4().hex


def make_device(
    device_id: str = "b3-1201-smoke",
    *,
    kind: DeviceKind = DeviceKind.SMOKE,
    location: str = "Building 3/Floor 12/Unit 1201",
    edge_id: str | None = "e1",
    zigbee_name: str | None = None,
) -> Device:
    """Return a device registration."""
    return Device(
        id=device_id, kind=kind, location=location, edge_id=edge_id, zigbee_name=zigbee_name
    )


def make_alert(
    *,
    id: str | None = None,
    device_id: str = "b3-1201-smoke",
    edge_id: str = "e1",
    kind: AlertKind = AlertKind.SMOKE,
    state: AlertState = AlertState.RAISED,
    severity: Severity = Severity.HIGH,
    ts: datetime = T0,
    location: str | None = None,
) -> Alert:
    """Return an alert as an edge sends it."""
    return Alert(
        id=id or alert_id(),
        edge_id=edge_id,
        device_id=device_id,
        kind=kind,
        state=state,
        severity=severity,
        ts=ts,
        detected_at=ts + timedelta(milliseconds=5),
        location=location,
        reason=AlertReason(rule="smoke_flag", values={"smoke": True}),
    )


def make_status(
    edge_id: str = "e1", *, devices: list[Device] | None = None, outbox_depth: int = 0
) -> EdgeStatus:
    """Return an edge's online status with its inventory."""
    return EdgeStatus(
        edge_id=edge_id,
        state="online",
        ts=T0,
        outbox_depth=outbox_depth,
        devices=devices or [],
        counters={"alerts_sent": 3},
    )


def alert_rows(ids: list[str], device_id: str = "gas-1") -> list[dict[str, Any]]:
    """Return ``alerts`` table rows, as the intake inserts them, without a case."""
    ts = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
    return [
        {
            "id": alert_id,
            "edge_id": "e1",
            "device_id": device_id,
            "kind": "gas",
            "state": "raised",
            "severity": "critical",
            "ts": ts,
            "detected_at": ts + timedelta(microseconds=5),
            "received_at": ts + timedelta(seconds=1),
            "location": "Building 1/Boiler",
            "reason": {"rule": "gas_lel", "values": {"gas_lel_pct": 25.5}},
            "case_id": None,
        }
        for alert_id in ids
    ]
