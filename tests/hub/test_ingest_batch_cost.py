"""What refusing an ``AlertBatch`` longer than the hub offers costs, on plain values.

Before, each item of such a batch was validated before the batch was refused: 256 KiB of
empty objects (``{"alerts": [{}, {}, …]}``: 87,000 items, under the payload limit) held the
hub's event loop for about 3.7 s per message, and a stolen edge sending them held every
other edge's alerts behind its own (docs/security.md, "A batch refused before it is read").
Counted here in Python calls, not in seconds: the same on any machine.
"""

import sys
from collections.abc import Callable
from types import FrameType

from devices.messages import AlertBatch
from hub.ingest.messages import AlertBatchMessage, RejectedMessage, batch_length, parse_uplink
from tests.hub.factories import make_alert

LIMIT = 256 * 1024
OFFERED = 50
TOPIC = "linli/edge/thief/alerts"


def calls_made(run: Callable[[], object]) -> int:
    """Return how many Python functions ``run`` called (its own call included)."""
    calls = 0

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return calls


def parse(raw: bytes) -> object:
    return parse_uplink(TOPIC, raw, max_payload_bytes=LIMIT, max_batch_alerts=OFFERED)


def test_a_batch_longer_than_offered_is_refused_before_its_items_are_read() -> None:
    items = (LIMIT - 100) // 3
    flood = ('{"edge_id":"thief","alerts":[' + ",".join(["{}"] * items) + "]}").encode()
    assert len(flood) <= LIMIT
    offered = AlertBatch(
        edge_id="thief", alerts=[make_alert(edge_id="thief") for _ in range(OFFERED)]
    ).model_dump_json()

    refused = parse(flood)
    assert isinstance(refused, RejectedMessage)
    assert refused.reason == "oversized_batch"
    assert isinstance(parse(offered.encode()), AlertBatchMessage)
    # Refusing the flood costs no more than reading one batch the hub offers.
    assert calls_made(lambda: parse(flood)) <= calls_made(lambda: parse(offered.encode()))


def test_the_batch_is_counted_as_plain_json() -> None:
    assert batch_length(b'{"edge_id":"e1","alerts":[{},1,"x"]}') == 3
    for raw in (b"[]", b'{"alerts": {}}', b"not json", b"[" * 100_000):
        assert batch_length(raw) is None
    # A batch exactly as long as offered is read as before, each alert on its own.
    batch = AlertBatch(edge_id="thief", alerts=[make_alert(edge_id="thief")] * OFFERED)
    parsed = parse(batch.model_dump_json().encode())
    assert isinstance(parsed, AlertBatchMessage)
    assert len(parsed.alerts) == OFFERED
