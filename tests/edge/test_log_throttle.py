"""A recurring log line at once, then at most once a period per key (``edge.log_throttle``)."""

from datetime import UTC, datetime, timedelta

from edge.log_throttle import Throttle

T0 = datetime(2026, 12, 6, 8, tzinfo=UTC)


def test_a_line_is_due_at_once_then_once_a_minute_with_what_was_left_out() -> None:
    throttle = Throttle()
    assert throttle.due("plug", T0) == 0
    assert throttle.due("plug", T0 + timedelta(seconds=5)) is None
    assert throttle.due("plug", T0 + timedelta(seconds=59)) is None
    assert throttle.due("other", T0 + timedelta(seconds=59)) == 0  # keys are apart
    assert throttle.due("plug", T0 + timedelta(seconds=60)) == 2
    assert throttle.due("plug", T0 + timedelta(seconds=61)) is None
    assert throttle.due("plug", T0 + timedelta(minutes=5)) == 1


def test_it_keeps_a_bounded_number_of_keys() -> None:
    throttle = Throttle(max_keys=3)
    for n in range(3):
        assert throttle.due(n, T0) == 0
    # A fourth key while the others' minute runs: logged, not kept (so logged each time).
    assert throttle.due(3, T0 + timedelta(seconds=1)) == 0
    assert throttle.due(3, T0 + timedelta(seconds=2)) == 0
    assert throttle.due(0, T0 + timedelta(seconds=2)) is None  # the kept ones still throttled
    # Past their minute, the old keys are forgotten when room is needed.
    assert throttle.due(4, T0 + timedelta(minutes=2)) == 0
    assert throttle.due(4, T0 + timedelta(minutes=2, seconds=1)) is None
    assert throttle.due(0, T0 + timedelta(minutes=2)) == 0  # forgotten: due at once again
