"""Fuzzing every edge↔hub wire message and the hub's uplink parsers: a message is either a
typed value that round-trips, or a refusal; the hub's parsers never raise."""

import base64
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import devices.access
import devices.camera
import devices.messages
from devices.messages import WireModel
from devices.registry import check_identifier
from devices.topics import EdgeChannel
from hub.evidence.link import EvidenceAccepted, parse_evidence
from hub.ingest.link import AlertMessage, RejectedMessage, StatusMessage, parse_uplink
from hub.ingest.messages import AlertBatchMessage, PhoneLocation, RawPosition, parse_position
from hub.positions.rules import MAX_CLOCK_AHEAD
from tests.fuzz.strategies import IDS, JSON_VALUES, PAYLOADS, as_bytes, objects_with, run
from tests.hub.factories import make_alert

_ = (devices.access, devices.camera, devices.messages)  # every WireModel is defined


def _wire_models() -> list[type[WireModel]]:
    found: list[type[WireModel]] = []
    pending: list[type[WireModel]] = [WireModel]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            found.append(sub)
            pending.append(sub)
    return sorted(found, key=lambda c: c.__name__)


WIRE_MODELS = _wire_models()


def _field_names(model: type[BaseModel]) -> list[str]:
    names = set(model.model_fields)
    for field in model.model_fields.values():
        if field.alias:
            names.add(field.alias)
    return sorted(names)


def test_every_wire_message_is_fuzzed() -> None:
    names = {m.__name__ for m in WIRE_MODELS}
    assert {"Alert", "AlertAck", "AlertBatch", "DeviceRegistry", "EdgeStatus"} <= names
    assert "TelemetryBatch" in names
    assert {"AccessSyncRequest", "AccessListUpdate", "AccessLogBatch", "AccessLogAck"} <= names
    assert {"EvidenceImage", "EvidenceAck", "CaseFeedback", "HubStatus"} <= names


@pytest.mark.parametrize("model", WIRE_MODELS, ids=lambda m: m.__name__)
def test_wire_message(model: type[WireModel]) -> None:
    fields = _field_names(model)

    @given(st.one_of(PAYLOADS, as_bytes(objects_with(fields))))
    def parses_or_refuses(raw: bytes) -> None:
        run(f"wire message {model.__name__}")
        try:
            message = model.model_validate_json(raw)
        except ValidationError:
            return
        assert model.model_validate_json(message.model_dump_json()) == message

    parses_or_refuses()


OWNTRACKS_TOPICS = st.builds(
    lambda responder, device: f"owntracks/phone-{responder}/{device}",
    IDS,
    st.sampled_from(["phone", "phone/event", ""]) | st.text(max_size=10),
)
UPLINK_TOPICS = (
    st.builds(
        lambda edge, channel: f"linli/edge/{edge}/{channel}",
        IDS,
        st.sampled_from([c.value for c in EdgeChannel]) | st.text(max_size=10),
    )
    | OWNTRACKS_TOPICS
    | st.text(max_size=50)
)

ALERT_LIKE = objects_with(
    ["v", "id", "edge_id", "device_id", "kind", "state", "severity", "ts", "location", "reason"]
)


# Real alerts of two edges, to mix with junk in a batch: the parser must keep exactly those of
# the topic's edge whatever surrounds them.
REAL_ALERTS = st.builds(
    lambda edge, device: json.loads(make_alert(edge_id=edge, device_id=device).model_dump_json()),
    st.sampled_from(["e1", "e2"]),
    st.sampled_from(["d1", "d2"]),
)
BATCH_LIKE = st.fixed_dictionaries(
    {"v": st.just(1), "edge_id": st.sampled_from(["e1", "e2"]) | IDS},
    optional={"alerts": st.lists(ALERT_LIKE | REAL_ALERTS | JSON_VALUES, max_size=4)},
)


@given(UPLINK_TOPICS, st.one_of(PAYLOADS, as_bytes(ALERT_LIKE), as_bytes(BATCH_LIKE), JSON_VALUES))
def test_the_hubs_uplink_parser_never_raises(topic: str, payload: object) -> None:
    run("hub uplink message (hub.ingest.link.parse_uplink)")
    parsed = parse_uplink(topic, payload, max_payload_bytes=4096)
    match parsed:
        case AlertMessage(edge_id=edge_id, alert=alert):
            assert alert.edge_id == edge_id == topic.split("/")[2]
        case AlertBatchMessage(edge_id=edge_id, alerts=alerts, rejected=rejected):
            assert edge_id == topic.split("/")[2]
            assert all(alert.edge_id == edge_id for alert in alerts)
            assert all(r.reason for r in rejected)
        case StatusMessage(edge_id=edge_id, status=status):
            assert status.edge_id == edge_id
        case RawPosition(responder_id=responder_id, device=device):
            assert topic == f"owntracks/phone-{responder_id}/{device}"
            assert check_identifier(responder_id) == responder_id
        case RejectedMessage(reason=reason):
            assert reason


LOCATION_LIKE = objects_with(["_type", "lat", "lon", "tst", "acc", "tid", "batt", "conn"]).map(
    lambda fields: {"_type": "location", **fields}
) | st.fixed_dictionaries(
    {
        "_type": st.sampled_from(["location", "lwt", "transition", "card", "waypoint"]),
        "lat": st.floats(min_value=-100, max_value=100) | JSON_VALUES,
        "lon": st.floats(min_value=-200, max_value=200) | JSON_VALUES,
        "tst": st.integers(min_value=-(2**40), max_value=2**40) | JSON_VALUES,
    },
    optional={"acc": st.floats() | JSON_VALUES},
)


@given(st.one_of(PAYLOADS, as_bytes(LOCATION_LIKE), JSON_VALUES.map(str).map(str.encode)))
def test_the_hubs_phone_message_parser_never_raises(payload: bytes) -> None:
    run("hub phone message (hub.ingest.messages.parse_position)")
    now = datetime(2026, 3, 2, tzinfo=UTC)
    parsed = parse_position(RawPosition("owntracks/phone-p/phone", "p", "phone", payload), now)
    match parsed:
        case PhoneLocation(location=location):
            assert -90 <= location.lat <= 90
            assert -180 <= location.lon <= 180
            assert location.position().at <= now + MAX_CLOCK_AHEAD
        case RejectedMessage(reason=reason):
            assert reason in ("malformed", "oversized", "fix_ahead")
        case None:
            pass


EVIDENCE_LIKE = st.fixed_dictionaries(
    {
        "id": IDS,
        "edge_id": IDS,
        "alert_id": IDS,
        "kind": st.sampled_from(["smoke", "fire", "camera_tamper"]),
        "device_id": IDS,
        "variant": st.sampled_from(["snapshot", "annotated"]) | st.text(max_size=6),
        "sha256": st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
        "data": st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
    },
    optional={"ts": st.just("2026-01-01T00:00:00Z"), "v": st.integers()},
)


@given(UPLINK_TOPICS, st.one_of(PAYLOADS, as_bytes(EVIDENCE_LIKE)))
def test_the_hubs_evidence_parser_never_raises(topic: str, payload: bytes) -> None:
    run("hub evidence message (hub.evidence.link.parse_evidence)")
    parsed = parse_evidence(topic, payload, max_bytes=4096)
    assert isinstance(parsed, EvidenceAccepted | RejectedMessage)
