"""The edge's backlog of delivered device messages: fair between topics, bounded, nothing
reordered while the edge keeps up (pure: plain values)."""

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.backlog import Backlog, Dropped


@dataclass(frozen=True)
class Msg:
    topic: str
    qos: int
    n: int
    size: int = 10


def backlog(**bounds: int) -> Backlog[Msg]:
    return Backlog(lambda m: m.topic, lambda m: m.qos, lambda m: m.size, **bounds)


def test_while_everything_fits_in_a_group_it_comes_whole_in_arrival_order() -> None:
    waiting = backlog()
    messages = [Msg(f"t{n % 3}", n % 2, n) for n in range(10)]
    for m in messages:
        assert waiting.add(m) == []
    assert waiting.take(10) == messages
    assert len(waiting) == 0
    assert waiting.payload_bytes == 0


def test_a_flooding_topic_does_not_hold_up_another_topics_message() -> None:
    waiting = backlog()
    flood = [Msg("zigbee2mqtt/broken plug", 0, n) for n in range(5000)]
    for m in flood:
        waiting.add(m)
    alarm = Msg("zigbee2mqtt/kitchen smoke", 0, -1)
    waiting.add(alarm)
    group = waiting.take(500)
    assert alarm in group
    # The rest of the group is the flood's oldest, in order.
    assert [m for m in group if m is not alarm] == flood[:499]
    assert group[-1] is alarm, "the group keeps arrival order"


def test_qos1_messages_keep_their_order_across_topics() -> None:
    # The broker resends unacknowledged QoS 1 messages in the order it first sent them; the
    # ingest recognises a committed group's redelivery only if those came first.
    waiting = backlog()
    for n in range(2000):
        waiting.add(Msg("flood", 0, n))
    ordered = [Msg(f"device-{n % 7}", 1, n) for n in range(50)]
    for m in ordered:
        waiting.add(m)
    taken: list[Msg] = []
    while len(waiting):
        taken += waiting.take(20)
    assert [m for m in taken if m.qos == 1] == ordered


def test_a_topic_over_its_bound_loses_its_oldest_qos0_messages() -> None:
    waiting = backlog(per_topic=3, total=100)
    dropped: list[Dropped] = []
    for n in range(5):
        dropped += waiting.add(Msg("flood", 0, n))
    assert dropped == [Dropped("flood", 1), Dropped("flood", 1)]
    assert [m.n for m in waiting.take(10)] == [2, 3, 4]


def test_qos1_messages_are_never_dropped() -> None:
    waiting = backlog(per_topic=2, total=2, total_bytes=10**6)
    dropped: list[Dropped] = []
    for n in range(6):
        dropped += waiting.add(Msg("native", 1, n))
    assert dropped == []
    assert [m.n for m in waiting.take(10)] == list(range(6))


def test_qos1_messages_waiting_never_cost_a_qos0_message_its_place() -> None:
    """A QoS 1 backlog (a session's, after an outage) does not count toward the bounds: a
    smoke alarm sent at QoS 0 behind it is kept."""
    waiting = backlog(per_topic=2, total=2, total_bytes=25)
    for n in range(10):
        assert waiting.add(Msg("native", 1, n, size=100)) == []
    assert waiting.add(Msg("zigbee2mqtt/kitchen smoke", 0, 10)) == []
    assert waiting.add(Msg("zigbee2mqtt/hall", 0, 11)) == []
    assert waiting.payload_bytes == 20
    assert [m.n for m in waiting.take(12)][-2:] == [10, 11]


def test_past_the_total_the_longest_topic_loses_a_tenth() -> None:
    waiting = backlog(per_topic=100, total=120, total_bytes=10**6)
    for n in range(100):
        waiting.add(Msg("flood", 0, n))
    dropped: list[Dropped] = []
    for n in range(21):
        dropped += waiting.add(Msg(f"quiet-{n}", 0, n))
    assert dropped == [Dropped("flood", 10)]
    assert len(waiting) == 111
    assert {m.topic for m in waiting.take(200)} >= {f"quiet-{n}" for n in range(21)}


def test_payload_bytes_are_bounded_too() -> None:
    waiting = backlog(per_topic=1000, total=1000, total_bytes=1000)
    dropped: list[Dropped] = []
    for n in range(20):
        dropped += waiting.add(Msg("big", 0, n, size=100))
    assert sum(d.count for d in dropped) == 10
    assert waiting.payload_bytes == 1000


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="per_topic"):
        backlog(per_topic=10, total=5)


MESSAGES = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from([0, 0, 1])),
    max_size=300,
)


@given(MESSAGES, st.integers(1, 40), st.integers(1, 50))
def test_every_message_is_taken_once_or_counted_dropped_and_each_lane_keeps_order(
    sent: list[tuple[str, int]], most: int, per_topic: int
) -> None:
    # At least as many QoS 0 messages as topics ("abcd") in all: past that bound some topic
    # has two waiting, so the one to lose its oldest still keeps its newest. (With more
    # topics waiting than the bound, each with one message, a topic's only one is dropped.)
    waiting = backlog(per_topic=per_topic, total=per_topic * 2 + 4, total_bytes=10**6)
    messages = [Msg(topic, qos, n) for n, (topic, qos) in enumerate(sent)]
    dropped: dict[str, int] = {}
    taken: list[Msg] = []
    for i, m in enumerate(messages):
        for d in waiting.add(m):
            dropped[d.topic] = dropped.get(d.topic, 0) + d.count
        qos1_waiting = sum(x.qos for x in messages[: i + 1]) - sum(x.qos for x in taken)
        assert len(waiting) - qos1_waiting <= per_topic * 2 + 4, "QoS 0 stays within bounds"
        if i % 7 == 6:
            group = waiting.take(most)
            assert 0 < len(group) <= most
            assert group == sorted(group, key=lambda m: m.n), "a group is in arrival order"
            taken += group
    while len(waiting):
        taken += waiting.take(most)
    assert len({m.n for m in taken}) == len(taken), "nothing twice"
    for topic in "abcd":
        sent_zero = [m for m in messages if m.topic == topic and m.qos == 0]
        got_zero = [m for m in taken if m.topic == topic and m.qos == 0]
        assert len(sent_zero) - len(got_zero) == dropped.get(topic, 0)
        assert got_zero == sorted(got_zero, key=lambda m: m.n)
        # What a topic lost is its oldest at the time, so what is left keeps its newest.
        if got_zero:
            assert got_zero[-1] == sent_zero[-1]
    assert [m for m in taken if m.qos == 1] == [m for m in messages if m.qos == 1]
