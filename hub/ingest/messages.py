"""The edges' uplink messages as the hub reads them: one typed value per MQTT message.

``parse_uplink`` turns a topic and payload into an ``AlertMessage``, ``StatusMessage``,
``TelemetryMessage`` or a ``RejectedMessage`` saying why not; pure, no I/O.
"""

import json
from dataclasses import dataclass

from pydantic import ValidationError

from devices.errors import TopicError
from devices.messages import Alert, EdgeStatus, TelemetryBatch
from devices.mqtt_link import payload_bytes
from devices.topics import EdgeChannel, parse_edge_topic

_LOGGED_PAYLOAD_CHARS = 200


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """A well-formed alert from an edge."""

    edge_id: str
    alert: Alert


@dataclass(frozen=True, slots=True)
class StatusMessage:
    """An edge's status."""

    edge_id: str
    status: EdgeStatus


@dataclass(frozen=True, slots=True)
class TelemetryMessage:
    """A batch of readings from an edge."""

    edge_id: str
    batch: TelemetryBatch


@dataclass(frozen=True, slots=True)
class RejectedMessage:
    """A message the hub refuses (an uplink's or a picture's), and what is known about it."""

    topic: str
    reason: str
    detail: str
    edge_id: str | None = None
    device_id: str | None = None
    message_id: str | None = None
    """Set when the refused message (an alert, a picture) has a readable id: it is acknowledged."""
    payload_head: str = ""


UplinkMessage = AlertMessage | StatusMessage | TelemetryMessage | RejectedMessage


def peek_ids(raw: bytes) -> dict[str, str]:
    """Return the string ids readable in a refused JSON payload, for the log and the ack."""
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    found = {k: v for k in ("id", "device_id") if isinstance(v := data.get(k), str)}
    # Only an id that could be a real one is acknowledged.
    if "id" in found and not (8 <= len(found["id"]) <= 64 and found["id"].isalnum()):
        del found["id"]
    return found


def parse_uplink(topic: str, payload: object, *, max_payload_bytes: int) -> UplinkMessage:
    """Turn one message from the hub's broker into a typed message or a rejection."""
    try:
        parsed = parse_edge_topic(topic)
    except TopicError as exc:
        return RejectedMessage(topic, exc.reason, str(exc))
    edge_id = parsed.edge_id
    raw = payload_bytes(payload)
    if raw is None:
        return RejectedMessage(topic, "malformed", "payload is not text", edge_id)
    head = raw[:_LOGGED_PAYLOAD_CHARS].decode(errors="replace")
    if len(raw) > max_payload_bytes:
        return RejectedMessage(
            topic,
            "oversized",
            f"{len(raw)} bytes, more than {max_payload_bytes}",
            edge_id,
            payload_head=head,
        )
    try:
        match parsed.channel:
            case EdgeChannel.ALERT:
                alert = Alert.model_validate_json(raw)
                if alert.edge_id != edge_id:
                    return RejectedMessage(
                        topic,
                        "edge_mismatch",
                        f"alert says edge {alert.edge_id!r}",
                        edge_id,
                        alert.device_id,
                        alert.id,
                        head,
                    )
                return AlertMessage(edge_id, alert)
            case EdgeChannel.STATUS:
                status = EdgeStatus.model_validate_json(raw)
                if status.edge_id != edge_id:
                    return RejectedMessage(
                        topic, "edge_mismatch", f"status says edge {status.edge_id!r}", edge_id
                    )
                return StatusMessage(edge_id, status)
            case EdgeChannel.TELEMETRY:
                batch = TelemetryBatch.model_validate_json(raw)
                return TelemetryMessage(edge_id, batch)
            case _:
                return RejectedMessage(
                    topic, "unknown_topic", f"the hub does not read {parsed.channel}", edge_id
                )
    except ValidationError as exc:
        ids = peek_ids(raw)
        detail = f"{exc.error_count()} validation error(s), first: {exc.errors()[0]['msg']}"
        return RejectedMessage(
            topic, "malformed", detail, edge_id, ids.get("device_id"), payload_head=head
        )
