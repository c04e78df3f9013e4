"""Parsing uplink messages and the reconnect backoff, on plain values."""

import json

import pytest

from devices.messages import TelemetryBatch
from hub.ingest.link import (
    AlertMessage,
    RejectedMessage,
    StatusMessage,
    TelemetryMessage,
    parse_uplink,
)
from hub.ingest.messages import AlertBatchMessage, RawTelemetry, parse_telemetry
from tests.hub.factories import make_alert, make_device, make_status

LIMIT = 4096


def test_an_alert_parses() -> None:
    alert = make_alert()
    parsed = parse_uplink("linli/edge/e1/alert", alert.model_dump_json(), max_payload_bytes=LIMIT)
    assert parsed == AlertMessage("e1", alert)


def test_unknown_fields_from_a_newer_edge_are_ignored() -> None:
    payload = make_alert().model_dump_json()[:-1] + ', "firmware_hint": "v9"}'
    parsed = parse_uplink("linli/edge/e1/alert", payload.encode(), max_payload_bytes=LIMIT)
    assert isinstance(parsed, AlertMessage)


def test_status_and_telemetry_parse() -> None:
    status = make_status("e1", devices=[make_device()])
    assert parse_uplink(
        "linli/edge/e1/status", status.model_dump_json(), max_payload_bytes=LIMIT
    ) == StatusMessage("e1", status)
    batch = TelemetryBatch(edge_id="e1", points=[])
    assert parse_uplink(
        "linli/edge/e1/telemetry", batch.model_dump_json(), max_payload_bytes=LIMIT
    ) == TelemetryMessage("e1", batch)


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("linli/edge/e1/alert", b"{not json", "malformed"),
        ("linli/edge/e1/alert", b'{"id": "abcdefgh", "device_id": "d1"}', "malformed"),
        ("linli/edge/e1/alert", b"x" * (LIMIT + 1), "oversized"),
        ("linli/edge/e1/alert", None, "malformed"),
        ("linli/edge/e1/status", b"[]", "malformed"),
        ("linli/elsewhere", b"{}", "unknown_topic"),
        ("linli/edge/e1/ack", b"{}", "unknown_topic"),
        ("linli/edge/+/alert", b"{}", "unknown_topic"),
    ],
)
def test_bad_messages_are_rejected_with_a_reason(
    topic: str, payload: bytes | None, reason: str
) -> None:
    parsed = parse_uplink(topic, payload, max_payload_bytes=LIMIT)
    assert isinstance(parsed, RejectedMessage)
    assert parsed.reason == reason
    assert parsed.message_id is None  # nothing readable to acknowledge


def test_a_malformed_alert_names_its_device_for_the_log() -> None:
    parsed = parse_uplink(
        "linli/edge/e1/alert", b'{"id": "abcdefgh", "device_id": "d1"}', max_payload_bytes=LIMIT
    )
    assert isinstance(parsed, RejectedMessage)
    assert (parsed.edge_id, parsed.device_id) == ("e1", "d1")
    assert parsed.payload_head.startswith('{"id"')


def test_an_alert_on_another_edges_topic_is_refused_but_acknowledged() -> None:
    alert = make_alert(edge_id="e2")
    parsed = parse_uplink("linli/edge/e1/alert", alert.model_dump_json(), max_payload_bytes=LIMIT)
    assert isinstance(parsed, RejectedMessage)
    assert parsed.reason == "edge_mismatch"
    assert (parsed.edge_id, parsed.message_id) == ("e1", alert.id)


TELEMETRY_PAYLOADS = [
    TelemetryBatch(edge_id="e1", points=[]).model_dump_json().encode(),
    b'{"edge_id": "e1", "points": [{"device_id": "d1", "ts": "2026-01-05T08:00:00Z",'
    b' "readings": {"temperature_c": 21.5}}]}',
    b"{not json",
    b'{"edge_id": "e1", "points": [{"device_id": "d1"}]}',
    b"[]",
    b"x" * (LIMIT + 1),
    "not bytes at all",
]


@pytest.mark.parametrize("payload", TELEMETRY_PAYLOADS)
def test_deferred_telemetry_parses_as_the_direct_path_does(payload: bytes | str) -> None:
    # The ingest loop defers a batch's validation to the readings lane: what the lane then
    # makes of it, kept or refused with its reason and detail, is what parsing it at once gave.
    topic = "linli/edge/e1/telemetry"
    direct = parse_uplink(topic, payload, max_payload_bytes=LIMIT)
    deferred = parse_uplink(topic, payload, max_payload_bytes=LIMIT, defer_telemetry=True)
    if isinstance(deferred, RawTelemetry):
        assert deferred.edge_id == "e1"
        assert parse_telemetry(deferred) == direct
    else:
        # Refused before any validation (not text, too large): refused the same way.
        assert isinstance(direct, RejectedMessage)
        assert deferred == direct


def test_only_telemetry_is_deferred() -> None:
    alert = make_alert()
    payload = alert.model_dump_json()
    topic = "linli/edge/e1/alert"
    parsed = parse_uplink(topic, payload, max_payload_bytes=LIMIT, defer_telemetry=True)
    assert parsed == AlertMessage("e1", alert)


DEEP = b"[" * 100_000
"""JSON's beginning nested past Python's recursion limit, under the shipped payload limit
(an outside tester's probe): ``json.loads`` raises ``RecursionError``, not ``ValueError``."""


@pytest.mark.parametrize("channel", ["alert", "alerts", "status", "telemetry"])
def test_a_payload_nested_past_the_parsers_depth_is_refused_not_raised(channel: str) -> None:
    for payload in (DEEP, b'{"edge_id": "e1", "alerts": ' + DEEP):
        parsed = parse_uplink(f"linli/edge/e1/{channel}", payload, max_payload_bytes=256 * 1024)
        if isinstance(parsed, RawTelemetry):
            parsed = parse_telemetry(parsed)
        assert isinstance(parsed, RejectedMessage)
        assert parsed.reason == "malformed"


def test_an_alert_batch_longer_than_the_hub_offers_is_refused() -> None:
    """A take weighs a batch as ``alert_batch_max`` alerts: a longer one (only a forged edge
    sends one) would make a take past its bound and hold up other edges' alerts behind it."""

    def batch(n: int) -> bytes:
        alerts = [make_alert(edge_id="e1").model_dump(mode="json") for _ in range(n)]
        return json.dumps({"edge_id": "e1", "alerts": alerts}).encode()

    topic = "linli/edge/e1/alerts"
    fits = parse_uplink(topic, batch(50), max_payload_bytes=1 << 20, max_batch_alerts=50)
    assert isinstance(fits, AlertBatchMessage)
    assert len(fits.alerts) == 50
    over = parse_uplink(topic, batch(51), max_payload_bytes=1 << 20, max_batch_alerts=50)
    assert isinstance(over, RejectedMessage)
    assert (over.reason, over.message_id) == ("oversized_batch", None)  # not acknowledged
