"""A recurring log line at once, then at most once a period per key (``devices.log_throttle``)."""

from devices.log_throttle import Throttle

T0 = 1_000.0
MINUTE = 60.0


def test_a_line_is_due_at_once_then_once_a_minute_with_what_was_left_out() -> None:
    throttle = Throttle()
    assert throttle.due("plug", T0) == 0
    assert throttle.due("plug", T0 + 5) is None
    assert throttle.due("plug", T0 + 59) is None
    assert throttle.due("other", T0 + 59) == 0  # keys are apart
    assert throttle.due("plug", T0 + MINUTE) == 2
    assert throttle.due("plug", T0 + 61) is None
    assert throttle.due("plug", T0 + 5 * MINUTE) == 1


def test_what_was_left_out_is_weighed_and_may_be_kept_for_the_next_line() -> None:
    throttle = Throttle()
    assert throttle.due("topic", T0, 10) == 0
    assert throttle.due("topic", T0 + 30, 5) is None
    # A line about something else in the same rhythm keeps the 5 for the key's next line.
    assert throttle.due("topic", T0 + MINUTE, 0, keep=True) == 5
    assert throttle.due("topic", T0 + MINUTE + 1, 2) is None
    assert throttle.due("topic", T0 + 2 * MINUTE, 1) == 7


def test_it_keeps_a_bounded_number_of_keys() -> None:
    throttle = Throttle(max_keys=3)
    for n in range(3):
        assert throttle.due(n, T0) == 0
    # A fourth key while the others' minute runs: logged, not kept (so logged each time).
    assert throttle.due(3, T0 + 1) == 0
    assert throttle.due(3, T0 + 2) == 0
    assert throttle.due(0, T0 + 2) is None  # the kept ones still throttled
    # Past their minute, the old keys are forgotten when room is needed.
    assert throttle.due(4, T0 + 2 * MINUTE) == 0
    assert throttle.due(4, T0 + 2 * MINUTE + 1) is None
    assert throttle.due(0, T0 + 2 * MINUTE) == 0  # forgotten: due at once again
