"""Messages the broker delivers again after their group committed are not decided again.

A group of device messages is committed in one outbox transaction and acknowledged after
it; a kill between the two makes the broker deliver the group's messages again. Decided
again against the state the whole group left, gas alarm/clear readings would become new
alerts (the TLS kill test saw 424 alerts for 300 readings). ``edge.redelivery`` recognises
them by the receipts stored with the group.
"""

import json
from pathlib import Path

import aiomqtt

from edge.agent import EdgeAgent
from edge.outbox import Outbox
from edge.redelivery import Receipt, Redeliveries
from tests.edge.conftest import SettingsFactory
from tests.edge.test_group_commit import as_received, expected, gas_site, stored_alerts, transitions

__all__ = ["gas_site"]  # the fixture, used by name


def receipt(mid: int, payload: bytes = b"{}", topic: str = "linli/dev/d/state") -> Receipt | None:
    return Receipt.of(1, mid, topic, payload)


def test_qos0_messages_have_no_receipt() -> None:
    assert Receipt.of(0, 0, "zigbee2mqtt/b", b"{}") is None
    assert receipt(7) == receipt(7)
    assert receipt(7) != receipt(7, b'{"x": 1}') != receipt(8)


def test_expected_receipts_are_skipped_until_the_first_new_message() -> None:
    redeliveries = Redeliveries()
    redeliveries.arm([r for r in (receipt(1), receipt(2), receipt(3)) if r])
    assert redeliveries.redelivered(receipt(2))
    assert redeliveries.redelivered(receipt(3))
    assert not redeliveries.redelivered(None)  # QoS 0 neither matches nor disarms
    assert not redeliveries.redelivered(receipt(4))  # new: the comparison ends here
    assert not redeliveries.redelivered(receipt(1))  # after a new one, nothing is skipped


def test_the_same_packet_id_with_other_bytes_is_new() -> None:
    redeliveries = Redeliveries()
    redeliveries.arm([r for r in (receipt(1, b"a"),) if r])
    assert not redeliveries.redelivered(receipt(1, b"b"))


def test_the_outbox_keeps_the_receipts_of_the_last_two_groups(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path / "outbox.sqlite3")
    try:
        for group in range(4):
            receipts = [r for r in (receipt(10 * group + i) for i in range(3)) if r]
            outbox.commit_group({"d": "{}"}, [], receipts)
        outbox.commit_group({"d": "{}"}, [])  # the detection tick's commits keep them
        assert sorted(r.mid for r in outbox.receipts()) == [20, 21, 22, 30, 31, 32]
    finally:
        outbox.close()


async def test_a_group_delivered_again_after_a_restart_raises_nothing_twice(
    gas_site: Path, make_settings: SettingsFactory
) -> None:
    settings = make_settings()
    group = as_received(transitions(10))
    first = EdgeAgent(settings)
    try:
        await first.ingest.on_device_messages(group)
    finally:
        first.outbox.close()
    # Killed before the acks reached the broker: the restarted edge gets the group again,
    # then a reading that is new (clean air after the last alarm of boiler-gas-1? no: the
    # group ended on clean air, so a new alarm).
    fresh = aiomqtt.Message(
        "linli/dev/boiler-gas-1/state",
        json.dumps({"gas_lel_pct": 30.0}).encode(),
        1,
        False,
        21,
        None,
    )
    again = EdgeAgent(settings)
    try:
        await again.ingest.expect_redeliveries()
        redelivered = [m for m in group if again.ingest.is_redelivery(m)]
        assert redelivered == group
        assert not again.ingest.is_redelivery(fresh)
        await again.ingest.on_device_messages([fresh])
        assert stored_alerts(settings) == [*expected(10), ("boiler-gas-1", "raised")]
    finally:
        again.outbox.close()


async def test_without_the_receipts_the_replay_would_double_alerts(
    gas_site: Path, make_settings: SettingsFactory
) -> None:
    """The failure the receipts prevent, shown on the same group: the test can fail."""
    settings = make_settings()
    group = as_received(transitions(10))
    agent = EdgeAgent(settings)
    try:
        await agent.ingest.on_device_messages(group)
        await agent.ingest.on_device_messages(group)  # decided again, not recognised
        assert len(stored_alerts(settings)) > len(expected(10))
    finally:
        agent.outbox.close()
