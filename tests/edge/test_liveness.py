"""The liveness rule (``edge.liveness``) on an injected monotonic clock."""

import logging
from collections import Counter

import pytest

from edge.liveness import Beats, Liveness, Stuck, stuck_parts
from tests.edge.conftest import ManualClock


def test_a_part_is_stuck_once_silent_past_its_periods() -> None:
    parts = [Beats("ingest", 5.0, 100.0), Beats("detection", 2.0, 100.0)]
    assert stuck_parts(parts, 100.0, 3) == []
    assert stuck_parts(parts, 106.0, 3) == [], "the bound itself is not stuck yet"
    assert stuck_parts(parts, 106.5, 3) == [Stuck("detection", 6.5, 6.0)]
    assert stuck_parts(parts, 116.0, 3) == [
        Stuck("ingest", 16.0, 15.0),
        Stuck("detection", 16.0, 6.0),
    ]


def test_a_resting_part_is_not_watched() -> None:
    assert stuck_parts([Beats("ingest", 5.0, None)], 1e9, 3) == []


def make_liveness(clock: ManualClock, counters: Counter[str]) -> Liveness:
    def count(name: str, n: int) -> None:
        counters[name] += n

    return Liveness(clock, stuck_after_periods=3, count=count)


def test_liveness_logs_and_counts_a_stuck_part_once_and_vouches_again_when_it_beats(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="edge.liveness")
    clock = ManualClock()
    counters: Counter[str] = Counter()
    liveness = make_liveness(clock, counters)
    ingest = liveness.part("ingest", 5.0)
    detection = liveness.part("detection", 5.0)

    clock.advance(10.0)
    ingest.beat()
    detection.beat()
    assert liveness.vouch()
    clock.advance(14.0)
    detection.beat()
    assert liveness.vouch(), "14 s silent: within 3 periods of 5 s"

    clock.advance(2.0)
    detection.beat()
    assert not liveness.vouch()
    for _ in range(10):  # the heartbeat and the watchdog keep asking
        clock.advance(1.0)
        detection.beat()
        assert not liveness.vouch()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "ingest" in errors[0].getMessage()
    assert counters == Counter({"stuck.ingest": 1})

    ingest.beat()
    assert liveness.vouch()
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "the edge's ingest runs again"
    ]
    # Stuck again later: a new episode, logged and counted again.
    clock.advance(20.0)
    detection.beat()
    assert not liveness.vouch()
    assert counters == Counter({"stuck.ingest": 2})


def test_a_part_rests_until_its_next_beat() -> None:
    clock = ManualClock()
    counters: Counter[str] = Counter()
    liveness = make_liveness(clock, counters)
    ingest = liveness.part("ingest", 1.0, resting=True)
    clock.advance(100.0)
    assert liveness.vouch(), "never connected: resting, not stuck"
    ingest.beat()
    clock.advance(3.5)
    assert [s.part for s in liveness.stuck()] == ["ingest"]
    ingest.rest()  # its connection ended: the link retries with a backoff of its own
    assert liveness.vouch()
    assert counters == Counter()
