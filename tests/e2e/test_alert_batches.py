"""Alerts packed into ``AlertBatch`` messages, end to end: real edge and hub processes on the
shipped broker configuration (with its ACL rules derived from the topic scheme).

The hub says in its retained status how many alerts it takes in one message; the edge packs
to that. A hub that says nothing of batches (one older than them) gets one alert per message.
Either way every reading is one alert, once, in order.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import DEVICES, _require_mosquitto
from tests.e2e.stack import Stack, publisher
from tests.e2e.test_delivery import assert_exactly_once, publish_all, transition_readings

BURST = 400


@pytest.fixture
def older_hub_stack(tmp_path: Path) -> Iterator[Stack]:
    """A running stack whose hub takes one alert per message, as hubs before batches did."""
    _require_mosquitto()
    running = Stack(tmp_path, DEVICES, f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    running.hub.env["LINLI_HUB_ALERT_BATCH_MAX"] = "0"
    with running.started():
        yield running


def test_the_edge_packs_a_burst_into_batches_the_hub_takes(stack: Stack) -> None:
    with publisher(stack.local_broker.port) as client:
        publish_all(client, transition_readings(BURST))
    assert_exactly_once(stack, BURST)
    batches = stack.hub.hub_counters().get("alert_batches", 0)
    # Packed: far fewer messages than alerts (how few depends on how the burst met the window).
    assert 0 < batches < BURST // 2


def test_a_hub_that_takes_no_batches_gets_one_alert_per_message(older_hub_stack: Stack) -> None:
    stack = older_hub_stack
    with publisher(stack.local_broker.port) as client:
        publish_all(client, transition_readings(BURST))
    assert_exactly_once(stack, BURST)
    assert stack.hub.hub_counters().get("alert_batches", 0) == 0
