"""The hub's backlog of uplink messages read and not handled yet: takes fair between edges by
weight, an edge's own order kept, bounded, nothing reordered while the hub keeps up (pure:
plain values)."""

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.ingest.backlog import Dropped, UplinkBacklog

QUANTUM = 50
BUDGET = 500


@dataclass(frozen=True)
class Msg:
    edge: str
    n: int
    weight: int = 1
    size: int = 10


def backlog(**bounds: int) -> UplinkBacklog[Msg]:
    return UplinkBacklog(
        lambda m: m.edge, lambda m: m.weight, lambda m: m.size, quantum=QUANTUM, **bounds
    )


def test_while_everything_fits_in_a_take_it_comes_whole_in_arrival_order() -> None:
    waiting = backlog()
    messages = [Msg(f"e{n % 3}", n, weight=1 + 49 * (n % 2)) for n in range(19)]
    for m in messages:
        assert waiting.add(m) == []
    assert waiting.weight == 460
    assert waiting.take(BUDGET) == messages
    assert (len(waiting), waiting.weight, waiting.payload_bytes) == (0, 0, 0)


def test_a_flooding_edges_batches_do_not_hold_up_another_edges_sos() -> None:
    waiting = backlog()
    flood = [Msg("ea", n, weight=QUANTUM) for n in range(100)]
    for m in flood:
        waiting.add(m)
    sos = Msg("eb", -1)
    waiting.add(sos)
    take = waiting.take(BUDGET)
    assert sos in take
    # The rest of the take is the flood's oldest, in order; the take in arrival order.
    assert take == [*flood[:10], sos]
    assert waiting.take(BUDGET) == flood[10:20]


def test_an_edge_that_starts_waiting_goes_ahead_of_the_edges_already_behind() -> None:
    waiting = backlog()
    floods = {edge: [Msg(edge, n, weight=QUANTUM) for n in range(100)] for edge in "abcdefghij"}
    for n in range(100):
        for edge in floods:
            waiting.add(floods[edge][n])
    waiting.take(BUDGET)  # every flood has been served a turn and is behind
    sos = Msg("quiet", -1)
    waiting.add(sos)
    assert sos in waiting.take(BUDGET)


def test_edges_behind_share_takes_by_weight_not_by_message() -> None:
    waiting = backlog()
    for n in range(5000):
        if n < 100:
            waiting.add(Msg("batches", n, weight=QUANTUM))
        waiting.add(Msg("singles", n))
    for _ in range(3):
        waiting.take(BUDGET)
    shares = {"batches": 0, "singles": 0}
    for m in waiting.take(BUDGET):
        shares[m.edge] += m.weight
    assert shares == {"batches": 250, "singles": 250}


def test_past_the_message_bound_the_longest_edge_loses_its_newest() -> None:
    waiting = backlog(total=100)
    quiet = [Msg("quiet", n) for n in range(5)]
    for m in quiet:
        waiting.add(m)
    dropped: list[Dropped] = []
    for n in range(200):
        dropped += waiting.add(Msg("flood", n))
    assert sum(d.count for d in dropped) + len(waiting) == 205
    assert len(waiting) <= 100
    assert {d.edge for d in dropped} == {"flood"}
    taken = waiting.take(1000)
    assert [m for m in taken if m.edge == "quiet"] == quiet
    kept = [m.n for m in taken if m.edge == "flood"]
    assert kept == sorted(kept), "what the flood kept is in its order"
    assert kept[:5] == list(range(5)), "its oldest first"


def test_past_the_byte_bound_the_longest_edge_loses_its_newest() -> None:
    waiting = backlog(total_bytes=1000)
    waiting.add(Msg("quiet", 0, size=100))
    for n in range(20):
        waiting.add(Msg("flood", n, size=100))
    assert waiting.payload_bytes <= 1000
    assert Msg("quiet", 0, size=100) in waiting.take(1000)


def test_an_edge_dropped_whole_leaves_the_round() -> None:
    waiting = backlog(total=2)
    waiting.add(Msg("a", 0))
    waiting.add(Msg("b", 0))
    assert waiting.add(Msg("c", 0)) == [Dropped("a", 1)]  # all tie: the first longest
    assert waiting.take(1) == [Msg("b", 0)]
    assert waiting.take(1) == [Msg("c", 0)]
    assert len(waiting) == 0


def test_the_bounds_must_make_sense() -> None:
    with pytest.raises(ValueError, match="quantum"):
        UplinkBacklog(lambda m: "", lambda m: 1, lambda m: 1, quantum=0)


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from("abcde"), st.integers(1, QUANTUM)),
        st.tuples(st.just("take"), st.integers(2 * QUANTUM, 4 * QUANTUM), st.just(0)),
    ),
    max_size=300,
)


@given(ops=_OPS, quiet_weight=st.integers(1, QUANTUM))
def test_takes_keep_each_edges_order_lose_nothing_and_serve_a_quiet_edge_in_the_next(
    ops: list[tuple[str, str | int, int]], quiet_weight: int
) -> None:
    waiting = backlog()
    added: list[Msg] = []
    taken: list[Msg] = []
    for n, (op, arg, weight) in enumerate(ops):
        if op == "add":
            assert isinstance(arg, str)
            added.append(Msg(arg, n, weight))
            assert waiting.add(added[-1]) == []
        elif len(waiting):
            assert isinstance(arg, int)
            before = waiting.weight
            take = waiting.take(arg)
            weights = [m.weight for m in take]
            assert take, "a take holds at least one message"
            assert sum(weights) < arg + QUANTUM, "at most one message past the budget"
            assert sum(weights) == before - waiting.weight
            assert [m.n for m in take] == sorted(m.n for m in take), "in arrival order"
            if before <= arg:
                assert len(waiting) == 0, "what fits is taken whole"
            taken += take
    # The quiet edge's one message goes into the very next take, however much else waits, as
    # long as the take holds a quantum of every other edge waiting (new ones go first).
    done = {m.n for m in taken}
    others = len({m.edge for m in added if m.n not in done})
    quiet = Msg("quiet", len(ops), quiet_weight)
    added.append(quiet)
    waiting.add(quiet)
    next_take = waiting.take(QUANTUM * others + 1)
    assert quiet in next_take
    taken += next_take
    while len(waiting):
        taken += waiting.take(BUDGET)
    assert sorted(taken, key=lambda m: m.n) == added, "nothing lost, nothing twice"
    for edge in {m.edge for m in added}:
        assert [m for m in taken if m.edge == edge] == [m for m in added if m.edge == edge]
