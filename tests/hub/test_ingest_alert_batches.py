"""Alerts packed into ``AlertBatch`` messages: what the hub makes of one, on plain values."""

import pytest

from devices.kinds import AlertKind
from devices.messages import AlertBatch
from hub.ingest.lanes import plan_take, take_weight
from hub.ingest.messages import AlertBatchMessage, RejectedMessage, parse_uplink
from tests.hub.factories import make_alert

LIMIT = 64 * 1024
TOPIC = "linli/edge/e1/alerts"


def _payload(alerts: list[str], edge_id: str = "e1") -> bytes:
    body = ",".join(alerts)
    return f'{{"v":1,"edge_id":"{edge_id}","alerts":[{body}]}}'.encode()


def test_a_batch_parses_into_its_alerts_in_order() -> None:
    alerts = [make_alert(device_id=f"d{i}") for i in range(5)]
    payload = AlertBatch(edge_id="e1", alerts=alerts).model_dump_json()
    parsed = parse_uplink(TOPIC, payload, max_payload_bytes=LIMIT)
    assert parsed == AlertBatchMessage("e1", alerts, [])


def test_an_alert_of_another_edge_in_a_batch_is_refused_alone_and_acknowledged() -> None:
    mine, forged = make_alert(), make_alert(edge_id="e2")
    payload = _payload([mine.model_dump_json(), forged.model_dump_json()])
    parsed = parse_uplink(TOPIC, payload, max_payload_bytes=LIMIT)
    assert isinstance(parsed, AlertBatchMessage)
    assert parsed.alerts == [mine]
    [refused] = parsed.rejected
    assert (refused.reason, refused.edge_id, refused.message_id) == (
        "edge_mismatch",
        "e1",
        forged.id,
    )


def test_a_batch_that_names_another_edge_stores_nothing() -> None:
    # Every alert in it says e1, but the batch itself says e2 on e1's topic.
    alerts = [make_alert(), make_alert()]
    payload = _payload([a.model_dump_json() for a in alerts], edge_id="e2")
    parsed = parse_uplink(TOPIC, payload, max_payload_bytes=LIMIT)
    assert isinstance(parsed, AlertBatchMessage)
    assert parsed.alerts == []
    assert [r.reason for r in parsed.rejected] == ["edge_mismatch", "edge_mismatch"]


def test_a_malformed_alert_costs_only_itself_its_place() -> None:
    good = [make_alert(device_id="d1"), make_alert(device_id="d2")]
    broken = '{"id": "abcdefgh", "device_id": "d9"}'
    payload = _payload([good[0].model_dump_json(), broken, good[1].model_dump_json()])
    parsed = parse_uplink(TOPIC, payload, max_payload_bytes=LIMIT)
    assert isinstance(parsed, AlertBatchMessage)
    assert parsed.alerts == good
    [refused] = parsed.rejected
    assert (refused.reason, refused.device_id, refused.message_id) == ("malformed", "d9", None)


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"[]",
        b'{"v": 1, "edge_id": "e1"}',
        b'{"v": 1, "edge_id": "e1", "alerts": {}}',
        b'{"v": 1, "edge_id": "e2", "alerts": [{}]}',
        b"x" * (LIMIT + 1),
        None,
    ],
)
def test_a_batch_nothing_can_be_read_from_is_refused_whole(payload: bytes | None) -> None:
    parsed = parse_uplink(TOPIC, payload, max_payload_bytes=LIMIT)
    assert isinstance(parsed, RejectedMessage)
    assert parsed.reason in {"malformed", "oversized"}
    assert parsed.message_id is None


def test_a_take_orders_batched_and_single_alerts_together() -> None:
    gas = make_alert(device_id="gas-1")
    sos = make_alert(device_id="sos-1", kind=AlertKind.SOS)
    forged = make_alert(edge_id="e2")
    messages = [
        parse_uplink(
            TOPIC,
            _payload([gas.model_dump_json(), forged.model_dump_json()]),
            max_payload_bytes=LIMIT,
        ),
        parse_uplink("linli/edge/e1/alert", sos.model_dump_json(), max_payload_bytes=LIMIT),
    ]
    take = plan_take(messages)
    assert take.alerts == [sos, gas]  # the SOS first, wherever it came from
    assert [r.message_id for r in take.rejected] == [forged.id]
    assert take.alert_batches == 1


def test_a_batch_weighs_as_many_alerts_as_it_may_hold() -> None:
    assert take_weight(TOPIC, 50) == 50
    assert take_weight("linli/edge/e1/alert", 50) == 1
    assert take_weight("linli/edge/e1/status", 50) == 1
    assert take_weight(TOPIC, 0) == 1
