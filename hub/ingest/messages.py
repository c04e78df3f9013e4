"""The edges' uplink messages as the hub reads them: one typed value per MQTT message.

``parse_uplink`` turns a topic and payload into an ``AlertMessage``, ``AlertBatchMessage``,
``StatusMessage``, ``TelemetryMessage`` or a ``RejectedMessage`` saying why not; pure, no I/O.
A responder's phone's message (``owntracks/phone-<responder_id>/<device>``, OwnTracks in MQTT mode)
comes back as ``RawPosition``, its topic and size checked, for the positions lane
(``hub.ingest.positions``) to read with ``parse_position`` off the alert path.

The ingest loop asks it to defer telemetry (``defer_telemetry``): the topic and size are
checked at once, but the batch, often the largest payload on the wire (500 readings, about
2 ms to validate), comes back as ``RawTelemetry`` for the readings lane to parse
(``parse_telemetry``) off the alert path. A take of ten such batches ahead of an SOS would
otherwise hold the SOS for some 20 ms of validation before its transaction began. A batch is
read point by point (``hub.ingest.telemetry_points``): a bad point is refused alone, and the
``TelemetryMessage`` carries it (``rejected``) beside the points kept.
"""

import json
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from devices.errors import TopicError
from devices.messages import Alert, AlertBatch, EdgeStatus, TelemetryBatch
from devices.mqtt_link import payload_bytes
from devices.owntracks import OwnTracksTopic, parse_owntracks_topic
from devices.topics import EdgeChannel, parse_edge_topic
from hub.errors import InvalidInputError
from hub.ingest.alert_times import TIME_UNSTORABLE, reckonable
from hub.ingest.telemetry_points import read_points
from hub.positions.rules import (
    MAX_MESSAGE_BYTES,
    FixAheadError,
    OwnTracksLocation,
    read_owntracks,
)

_LOGGED_PAYLOAD_CHARS = 200


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """A well-formed alert from an edge."""

    edge_id: str
    alert: Alert


@dataclass(frozen=True, slots=True)
class AlertBatchMessage:
    """Well-formed alerts from an edge in one message, and those of them refused."""

    edge_id: str
    alerts: list[Alert]
    rejected: list["RejectedMessage"]


@dataclass(frozen=True, slots=True)
class StatusMessage:
    """An edge's status."""

    edge_id: str
    status: EdgeStatus
    retained: bool = False
    """Handed over from the broker's store at a (re)subscription, not sent just now: what the
    edge said last, however long ago (``hub.fleet.revocation``)."""


@dataclass(frozen=True, slots=True)
class StatusCleared:
    """An empty message on an edge's status topic: its retained status was withdrawn, which
    ``linli broker revoke`` does (``linli.trust.sweep``). Only that edge and the command may
    write the topic, and an edge withdrawing its own status only silences itself."""

    edge_id: str


StatusNews = StatusMessage | StatusCleared
"""What the ingest records about an edge's liveness, the latest of each edge."""


@dataclass(frozen=True, slots=True)
class TelemetryMessage:
    """A batch of readings from an edge: the points the hub takes, and those of them refused
    (``hub.ingest.telemetry_points``), each to be counted and logged."""

    edge_id: str
    batch: TelemetryBatch
    rejected: tuple["RejectedMessage", ...] = ()


@dataclass(frozen=True, slots=True)
class RawTelemetry:
    """A telemetry batch whose topic and size are checked, its payload not parsed yet."""

    topic: str
    edge_id: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class RawPosition:
    """A message of a responder's phone (OwnTracks, MQTT mode), its payload not read yet: the
    responder is the topic's user level, which the broker lets that phone alone publish."""

    topic: str
    responder_id: str
    device: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class PhoneLocation:
    """A location a responder's phone reported."""

    topic: str
    responder_id: str
    location: OwnTracksLocation


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


UplinkMessage = (
    AlertMessage
    | AlertBatchMessage
    | StatusMessage
    | StatusCleared
    | TelemetryMessage
    | RawTelemetry
    | RawPosition
    | RejectedMessage
)


def peek_ids(raw: bytes) -> dict[str, str]:
    """Return the string ids readable in a refused JSON payload, for the log and the ack."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # nested past the parser's depth: refused too
        return {}
    if not isinstance(data, dict):
        return {}
    found = {k: v for k in ("id", "device_id") if isinstance(v := data.get(k), str)}
    # Only an id that could be a real one is acknowledged.
    if "id" in found and not (8 <= len(found["id"]) <= 64 and found["id"].isalnum()):
        del found["id"]
    return found


def _malformed(topic: str, edge_id: str, raw: bytes, exc: ValidationError) -> RejectedMessage:
    ids = peek_ids(raw)
    detail = f"{exc.error_count()} validation error(s), first: {exc.errors()[0]['msg']}"
    return RejectedMessage(
        topic,
        "malformed",
        detail,
        edge_id,
        ids.get("device_id"),
        payload_head=raw[:_LOGGED_PAYLOAD_CHARS].decode(errors="replace"),
    )


def parse_telemetry(
    message: RawTelemetry, now: datetime | None = None
) -> TelemetryMessage | RejectedMessage:
    """Parse a deferred telemetry batch: what ``parse_uplink`` would have returned for it,
    and with ``now`` (the hub's clock) its points stamped too far ahead refused as well.

    Only the points that do not validate, or whose time no store holds or lies too far ahead,
    are refused (``read_points``); the batch is refused whole (``malformed``) only when its
    own fields do not validate."""
    try:
        read = read_points(message.raw, now)
    except ValidationError as exc:
        return _malformed(message.topic, message.edge_id, message.raw, exc)
    rejected = tuple(
        RejectedMessage(
            message.topic,
            point.reason,
            point.detail,
            message.edge_id,
            point.device_id,
            payload_head=point.head,
        )
        for point in read.refused
    )
    return TelemetryMessage(message.edge_id, read.batch, rejected)


def parse_position(message: RawPosition, now: datetime) -> PhoneLocation | RejectedMessage | None:
    """Read a phone's message as ``POST /api/v1/owntracks`` reads its body: a location, None
    for any other OwnTracks message (``lwt``, ``transition``, ``card``…) or an empty one, or
    refused: ``malformed``, ``oversized``, or ``fix_ahead`` (stamped in the future)."""
    head = message.raw[:_LOGGED_PAYLOAD_CHARS].decode(errors="replace")
    if len(message.raw) > MAX_MESSAGE_BYTES:
        detail = f"{len(message.raw)} bytes, more than {MAX_MESSAGE_BYTES}"
        return RejectedMessage(message.topic, "oversized", detail, payload_head=head)
    try:
        location = read_owntracks(message.raw, now)
    except FixAheadError as exc:
        return RejectedMessage(message.topic, "fix_ahead", str(exc), payload_head=head)
    except InvalidInputError as exc:
        return RejectedMessage(message.topic, "malformed", str(exc), payload_head=head)
    if location is None:
        return None
    return PhoneLocation(message.topic, message.responder_id, location)


def _null_values_read(data: object, exc: ValidationError) -> Alert | None:
    """Return the alert ``data`` whose only faults are null ``reason.values``, read without
    those values; None if it has any other fault.

    JSON has no NaN or infinity, and pydantic writes a non-finite float as ``null``: an edge
    whose rule saw one (an edge before 2026-12-04 took ``"smoke_density_db_per_m": 1e999``
    as infinity) sent its alarm with ``null`` there, which ``Alert`` refuses. Refused, the alarm
    was never acknowledged nor stored: its edge sent it again for ever (found by an outside
    review with the alerts of commit 5550427's edge). The value is dropped, not kept as NaN:
    the API reads a stored reason back as an ``AlertReason``, which refuses a null."""
    faults = exc.errors()
    if not all(
        len(fault["loc"]) >= 3
        and fault["loc"][:2] == ("reason", "values")
        and fault["input"] is None
        for fault in faults
    ):
        return None
    if not isinstance(data, dict) or not isinstance(reason := data.get("reason"), dict):
        return None
    values = reason.get("values")
    if not isinstance(values, dict):
        return None
    mended = {key: value for key, value in values.items() if value is not None}
    try:
        return Alert.model_validate({**data, "reason": {**reason, "values": mended}})
    except ValidationError:
        return None


def _read_alert(raw: bytes) -> Alert:
    """Parse one ``Alert``, its null reason values left out (``_null_values_read``)."""
    try:
        return Alert.model_validate_json(raw)
    except ValidationError as exc:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise exc from None
        alert = _null_values_read(data, exc)
        if alert is None:
            raise
        return alert


def _refused_alert(topic: str, edge_id: str, alert: Alert, head: str) -> RejectedMessage:
    """An alert whose payload names another edge than its topic: refused, acknowledged."""
    return RejectedMessage(
        topic,
        "edge_mismatch",
        f"alert says edge {alert.edge_id!r}",
        edge_id,
        alert.device_id,
        alert.id,
        head,
    )


def _unreckonable(topic: str, edge_id: str, alert: Alert, head: str) -> RejectedMessage:
    """An alert its edge decided at a time the hub cannot reckon with: refused, acknowledged."""
    return RejectedMessage(
        topic,
        TIME_UNSTORABLE,
        f"decided at {alert.detected_at.isoformat()}, by a clock the hub cannot reckon with",
        edge_id,
        alert.device_id,
        alert.id,
        head,
    )


def _reckoned(
    topic: str, edge_id: str, alerts: list[Alert], head: str
) -> tuple[list[Alert], list[RejectedMessage]]:
    """Return ``alerts`` as the hub takes their times (``hub.ingest.alert_times``), and those
    refused for them."""
    taken: list[Alert] = []
    refused: list[RejectedMessage] = []
    for alert in alerts:
        reckoned = reckonable(alert)
        if reckoned is None:
            refused.append(_unreckonable(topic, edge_id, alert, head))
        else:
            taken.append(reckoned)
    return taken, refused


def parse_alert_batch(topic: str, edge_id: str, raw: bytes) -> AlertBatchMessage | RejectedMessage:
    """Parse an ``AlertBatch`` from ``edge_id``'s topic: its alerts of that edge, the others
    refused one by one.

    One alert that does not validate does not cost the others their place: the batch is then
    read alert by alert, and only the malformed ones are refused (not acknowledged, as a
    malformed single alert is not).
    """
    head = raw[:_LOGGED_PAYLOAD_CHARS].decode(errors="replace")
    try:
        batch = AlertBatch.model_validate_json(raw)
    except ValidationError as exc:
        return _salvage_batch(topic, edge_id, raw, exc)
    # A batch that names another edge keeps none of its alerts.
    mine = batch.edge_id == edge_id
    alerts = [alert for alert in batch.alerts if mine and alert.edge_id == edge_id]
    refused = [
        _refused_alert(topic, edge_id, alert, head)
        for alert in batch.alerts
        if not (mine and alert.edge_id == edge_id)
    ]
    alerts, unreckonable = _reckoned(topic, edge_id, alerts, head)
    return AlertBatchMessage(edge_id, alerts, refused + unreckonable)


def _salvage_batch(
    topic: str, edge_id: str, raw: bytes, exc: ValidationError
) -> AlertBatchMessage | RejectedMessage:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # nested past the parser's depth: refused too
        return _malformed(topic, edge_id, raw, exc)
    items = data.get("alerts") if isinstance(data, dict) else None
    if not isinstance(items, list) or data.get("edge_id") != edge_id:
        return _malformed(topic, edge_id, raw, exc)
    alerts: list[Alert] = []
    refused: list[RejectedMessage] = []
    for item in items:
        try:
            piece = json.dumps(item, ensure_ascii=False).encode()
        except RecursionError:
            piece = b""
        try:
            alert = Alert.model_validate(item)
        except ValidationError as bad:
            mended = _null_values_read(item, bad)
            if mended is None:
                refused.append(_malformed(topic, edge_id, piece, bad))
                continue
            alert = mended
        head = piece[:_LOGGED_PAYLOAD_CHARS].decode(errors="replace")
        if alert.edge_id != edge_id:
            refused.append(_refused_alert(topic, edge_id, alert, head))
        elif (reckoned := reckonable(alert)) is None:
            refused.append(_unreckonable(topic, edge_id, alert, head))
        else:
            alerts.append(reckoned)
    return AlertBatchMessage(edge_id, alerts, refused)


def batch_length(raw: bytes) -> int | None:
    """Return how many items an ``AlertBatch`` payload lists, read as plain JSON before any of
    them is validated; None if it is no JSON object with a list of ``alerts`` (then it does not
    validate either).

    An oversized batch used to be refused only after each of its items was validated, and
    validating is what costs: 256 KiB of empty objects (``{"alerts": [{}, {}, …]}``, 87,000
    items) held the hub's event loop for 3.7 s per message before it was refused, 4,000
    times the cost of an offered batch of 50 real alerts, and every edge's alerts waited
    behind it (found by an outside review). Reading the JSON costs about half of validating an
    offered batch once more, and bounds what the rest may cost."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    items = data.get("alerts") if isinstance(data, dict) else None
    return len(items) if isinstance(items, list) else None


def parse_uplink(
    topic: str,
    payload: object,
    *,
    max_payload_bytes: int,
    defer_telemetry: bool = False,
    max_batch_alerts: int | None = None,
    retained: bool = False,
) -> UplinkMessage:
    """Turn one message from the hub's broker into a typed message or a rejection.

    With ``defer_telemetry`` a telemetry batch of an allowed size comes back unparsed, as
    ``RawTelemetry`` (``parse_telemetry`` finishes it). With ``max_batch_alerts`` an
    ``AlertBatch`` of more alerts is refused and not acknowledged (``oversized_batch``), before
    any of them is validated (``batch_length``): the hub offers its edges no more
    (``HubStatus.alert_batch_max``), and a take weighs a batch as that many, so a longer one
    would make a take past its bound and hold up every other edge's alerts behind it (found
    by an outside tester). An edge that sent one under an older
    offer sends its alerts again, in batches of the offer it reads now.

    An empty message is a retained message cleared: on the status topic a ``StatusCleared``,
    on any other refused as ``empty`` (there is nothing in it to take). ``retained``: the
    broker handed the message over from its store (``StatusMessage.retained``).
    """
    try:
        phone = parse_owntracks_topic(topic)
        if phone is not None:
            return _phone_message(topic, phone, payload, max_payload_bytes)
        parsed = parse_edge_topic(topic)
    except TopicError as exc:
        return RejectedMessage(topic, exc.reason, str(exc))
    edge_id = parsed.edge_id
    raw = payload_bytes(payload)
    if raw is None:
        return RejectedMessage(topic, "malformed", "payload is not text", edge_id)
    head = raw[:_LOGGED_PAYLOAD_CHARS].decode(errors="replace")
    if not raw:
        if parsed.channel is EdgeChannel.STATUS:
            return StatusCleared(edge_id)
        return RejectedMessage(topic, "empty", "an empty message (a retained one cleared)", edge_id)
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
                alert = _read_alert(raw)
                if alert.edge_id != edge_id:
                    return _refused_alert(topic, edge_id, alert, head)
                reckoned = reckonable(alert)
                if reckoned is None:
                    return _unreckonable(topic, edge_id, alert, head)
                return AlertMessage(edge_id, reckoned)
            case EdgeChannel.ALERTS:
                offered = None if max_batch_alerts is None else max(1, max_batch_alerts)
                count = None if offered is None else batch_length(raw)
                if offered is not None and count is not None and count > offered:
                    return RejectedMessage(
                        topic,
                        "oversized_batch",
                        f"{count} alerts, more than the {offered} offered",
                        edge_id,
                        payload_head=head,
                    )
                return parse_alert_batch(topic, edge_id, raw)
            case EdgeChannel.STATUS:
                status = EdgeStatus.model_validate_json(raw)
                if status.edge_id != edge_id:
                    return RejectedMessage(
                        topic, "edge_mismatch", f"status says edge {status.edge_id!r}", edge_id
                    )
                return StatusMessage(edge_id, status, retained)
            case EdgeChannel.TELEMETRY if defer_telemetry:
                return RawTelemetry(topic, edge_id, raw)
            case EdgeChannel.TELEMETRY:
                return parse_telemetry(RawTelemetry(topic, edge_id, raw))
            case _:
                return RejectedMessage(
                    topic, "unknown_topic", f"the hub does not read {parsed.channel}", edge_id
                )
    except ValidationError as exc:
        return _malformed(topic, edge_id, raw, exc)


def _phone_message(
    topic: str, phone: OwnTracksTopic, payload: object, max_payload_bytes: int
) -> RawPosition | RejectedMessage:
    raw = payload_bytes(payload)
    if raw is None:
        return RejectedMessage(topic, "malformed", "payload is not text")
    if len(raw) > max_payload_bytes:
        head = raw[:_LOGGED_PAYLOAD_CHARS].decode(errors="replace")
        detail = f"{len(raw)} bytes, more than {max_payload_bytes}"
        return RejectedMessage(topic, "oversized", detail, payload_head=head)
    return RawPosition(topic, phone.responder_id, phone.device, raw)
