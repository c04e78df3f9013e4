"""Reconnect backoff: jittered, exponential, capped."""

from devices.mqtt_link import Backoff
from tests.edge.conftest import no_jitter


def test_backoff_doubles_from_half_a_second_to_ten_with_jitter() -> None:
    ceilings = [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    longest = Backoff(rng=lambda: 1.0)
    assert [longest.next_delay() for _ in ceilings] == ceilings
    shortest = Backoff(rng=no_jitter)
    assert [shortest.next_delay() for _ in ceilings] == [c / 2 for c in ceilings]
    shortest.reset()
    assert shortest.next_delay() == 0.25
