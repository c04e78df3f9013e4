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


def test_backoff_doubles_to_its_cap_with_jitter_and_resets() -> None:
    upper = Backoff(0.5, 10.0, rng=lambda: 1.0)
    assert [upper.next_delay() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    upper.reset()
    assert upper.next_delay() == 0.5
    lower = Backoff(0.5, 10.0, rng=lambda: 0.0)
    assert [lower.next_delay() for _ in range(3)] == [0.25, 0.5, 1.0]
