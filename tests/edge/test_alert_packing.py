"""The edge packs its alerts into ``AlertBatch`` messages within the hub's terms, on plain
values; the hub reads each one back whole."""

import json

import pytest

from devices.messages import AlertBatch, HubStatus
from edge.outbox import OutgoingAlert
from edge.uplink import HubTerms, pack_alerts
from hub.ingest.messages import AlertBatchMessage, parse_uplink
from tests.hub.factories import make_alert

LIMIT = 64 * 1024
TOPIC = "linli/edge/e1/alerts"


def _outgoing(n: int, location: str = "Building 1/Boiler") -> list[OutgoingAlert]:
    alerts = [make_alert(device_id=f"d{i}", location=location) for i in range(n)]
    return [OutgoingAlert(a.id, a.model_dump_json()) for a in alerts]


def test_the_edge_sends_one_alert_per_message_to_a_hub_that_takes_no_batches() -> None:
    outgoing = _outgoing(3)
    assert pack_alerts("e1", outgoing, HubTerms()) == [("alert", o.body) for o in outgoing]


@pytest.mark.parametrize(
    ("count", "most", "sizes"), [(1, 50, [1]), (7, 3, [3, 3, 1]), (50, 50, [50])]
)
def test_the_edge_packs_alerts_in_order_up_to_the_hubs_count(
    count: int, most: int, sizes: list[int]
) -> None:
    outgoing = _outgoing(count)
    messages = pack_alerts("e1", outgoing, HubTerms(most, LIMIT))
    assert [channel for channel, _ in messages] == ["alerts"] * len(sizes)
    batches = [AlertBatch.model_validate_json(payload) for _, payload in messages]
    assert [len(b.alerts) for b in batches] == sizes
    assert [a.id for b in batches for a in b.alerts] == [o.id for o in outgoing]
    assert all(b.edge_id == "e1" for b in batches)


def test_the_edge_keeps_every_batch_within_the_hubs_bytes() -> None:
    # Non-ASCII locations: the bound is on UTF-8 bytes, not characters.
    outgoing = _outgoing(40, location="3号楼/锅炉房")
    one = len(outgoing[0].body.encode())
    bound = 5 * one + 100
    messages = pack_alerts("e1", outgoing, HubTerms(50, bound))
    assert all(len(payload.encode()) <= bound for _, payload in messages)
    got = [a["id"] for _, p in messages for a in json.loads(p)["alerts"]]
    assert got == [o.id for o in outgoing]
    # Every parsed batch is what the hub reads.
    for _, payload in messages:
        assert isinstance(parse_uplink(TOPIC, payload, max_payload_bytes=bound), AlertBatchMessage)


def test_an_alert_too_large_for_any_batch_goes_on_its_own() -> None:
    small, large = _outgoing(1)[0], _outgoing(1, location="x" * 2000)[0]
    bound = len(small.body.encode()) * 2 + 100
    messages = pack_alerts("e1", [small, large, small], HubTerms(50, bound))
    assert [channel for channel, _ in messages] == ["alerts", "alert", "alerts"]
    assert messages[1][1] == large.body


@pytest.mark.parametrize(
    ("payload", "terms"),
    [
        # A hub older than batches says nothing of them: one alert per message.
        ('{"v": 1, "state": "online"}', HubTerms()),
        ('{"v": 1, "state": "online", "alert_batch_max": 50, "alert_batch_bytes": 262144}',
         HubTerms(50, 262144)),
        # Offline (its last will, or a clean stop): nothing is promised any more.
        ('{"v": 1, "state": "offline", "alert_batch_max": 50, "alert_batch_bytes": 262144}',
         HubTerms()),
        ('{"v": 1, "state": "online", "alert_batch_max": 1, "alert_batch_bytes": 262144}',
         HubTerms()),
    ],
)  # fmt: skip
def test_the_hubs_status_sets_the_terms(payload: str, terms: HubTerms) -> None:
    assert HubTerms.of(HubStatus.model_validate_json(payload)) == terms
