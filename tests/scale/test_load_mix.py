"""The load simulator's plan and accounting, on plain values (no clock, no broker)."""

import itertools
import random
from collections import Counter

import pytest

from devices.kinds import DeviceKind
from simulators.load_mix import (
    EventKind,
    LoadPlan,
    expected_per_hour,
    fleet,
    schedule,
)
from simulators.load_tally import LoadTally, SendWindow, percentile, reconcile


def test_the_fleet_has_the_mix_and_unique_ids() -> None:
    edges = fleet(LoadPlan(edges=3, devices_per_edge=20, duration_s=10), "r1")
    ids = [d.id for e in edges for d in e.devices]
    assert len(ids) == len(set(ids)) == 60
    kinds = Counter(d.kind for e in edges for d in e.devices)
    assert kinds[DeviceKind.SMOKE] == 18
    assert kinds[DeviceKind.SOS_BUTTON] == 12
    assert kinds[DeviceKind.DOOR_CONTACT] == 6
    assert {e.id for e in edges} == {"load-r1-e0000", "load-r1-e0001", "load-r1-e0002"}


def test_telemetry_comes_every_interval_for_every_device() -> None:
    plan = LoadPlan(
        edges=2,
        devices_per_edge=10,
        duration_s=600,
        incidents_per_device_h=0,
        sos_per_button_h=0,
        passages_per_door_h=0,
    )
    events = list(schedule(plan, fleet(plan, "r"), random.Random(1)))
    assert {e.kind for e in events} == {EventKind.TELEMETRY}
    per_device = Counter((e.edge, e.device) for e in events)
    assert set(per_device.values()) == {10}  # 600 s at one a minute
    for (edge, device), _ in per_device.items():
        times = [e.at for e in events if (e.edge, e.device) == (edge, device)]
        gaps = {round(b - a, 6) for a, b in itertools.pairwise(times)}
        assert gaps == {60.0}


def test_events_are_in_time_order_within_the_run_and_repeatable() -> None:
    plan = LoadPlan(edges=3, devices_per_edge=10, duration_s=300, incidents_per_device_h=60)
    first = list(schedule(plan, fleet(plan, "r"), random.Random(7)))
    again = list(schedule(plan, fleet(plan, "r"), random.Random(7)))
    assert first == again
    times = [e.at for e in first]
    assert times == sorted(times)
    assert all(0 <= t < 300 for t in times)


def test_an_incident_is_raised_then_cleared_never_raised_twice_in_a_row() -> None:
    plan = LoadPlan(
        edges=1, devices_per_edge=10, duration_s=3600, incidents_per_device_h=30, clear_after_s=20
    )
    events = list(schedule(plan, fleet(plan, "r"), random.Random(3)))
    for device in range(10):
        states = [
            (e.kind, e.at)
            for e in events
            if e.device == device and e.kind in (EventKind.ALERT_RAISED, EventKind.ALERT_CLEARED)
        ]
        for (kind, at), (next_kind, next_at) in itertools.pairwise(states):
            assert kind != next_kind
            if kind == EventKind.ALERT_RAISED:
                assert next_at - at == pytest.approx(20)


def test_the_rates_come_out_about_as_planned() -> None:
    plan = LoadPlan(
        edges=10,
        devices_per_edge=10,
        duration_s=3600,
        incidents_per_device_h=2,
        clear_after_s=0,
        sos_per_button_h=5,
        passages_per_door_h=30,
    )
    counts = Counter(e.kind for e in schedule(plan, fleet(plan, "r"), random.Random(11)))
    expected = expected_per_hour(plan)
    assert expected[EventKind.SOS] == 100  # 20 buttons × 5
    assert expected[EventKind.DOOR] == 300  # 10 doors × 30
    for kind in (EventKind.ALERT_RAISED, EventKind.SOS, EventKind.DOOR):
        # Poisson counts: within five standard deviations of the mean.
        mean = expected[kind]
        assert abs(counts[kind] - mean) < 5 * mean**0.5, (kind, counts[kind], mean)
    assert counts[EventKind.TELEMETRY] == 100 * 60


def test_a_plan_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="at least one"):
        LoadPlan(edges=0, devices_per_edge=1, duration_s=1)
    with pytest.raises(ValueError, match="positive"):
        LoadPlan(edges=1, devices_per_edge=1, duration_s=0)
    with pytest.raises(ValueError, match="negative"):
        LoadPlan(edges=1, devices_per_edge=1, duration_s=1, sos_per_button_h=-1)


def test_the_tally_times_from_the_making_to_the_first_ack() -> None:
    tally = LoadTally()
    tally.sent_now("a1", EventKind.SOS, now=10.0)
    tally.sent_now("a2", EventKind.DOOR, now=10.5)
    tally.acked_now("a1", now=15.3)
    tally.acked_now("a1", now=15.4)
    assert tally.latencies_ms == [pytest.approx(5300)]
    assert tally.latencies_by_kind == {EventKind.SOS: [pytest.approx(5300)]}
    assert tally.acked_again == 1
    assert tally.total_sent == 2
    assert tally.total_acked == 1
    assert list(tally.waiting) == ["a2"]
    assert tally.throughput() == pytest.approx(1 / 5.3)
    with pytest.raises(ValueError, match="already sent"):
        tally.sent_now("a1", EventKind.SOS, now=16)


def test_the_window_keeps_at_most_its_size_on_the_wire() -> None:
    window = SendWindow(size=2, resend_after_s=10)
    for rid in ("a", "b", "c", "d"):
        window.add(rid)
    assert window.due(now=0) == ["a", "b"]
    assert window.due(now=1) == []  # full: c and d wait at the edge
    window.acked("a")
    assert window.due(now=2) == ["c"]
    assert window.in_flight == 2
    assert len(window) == 3


def test_the_window_resends_the_stale_first_and_counts_them() -> None:
    window = SendWindow(size=2, resend_after_s=10)
    for rid in ("a", "b", "c"):
        window.add(rid)
    assert window.due(now=0) == ["a", "b"]
    window.acked("b")
    assert window.due(now=5) == ["c"]
    assert window.due(now=10) == ["a"]  # a is stale; c still takes room until 15
    assert window.resends == 1
    assert window.due(now=11) == []


def test_a_reset_makes_everything_on_the_wire_due_again() -> None:
    window = SendWindow(size=3, resend_after_s=10)
    window.add("a")
    window.add("b")
    assert window.due(now=0) == ["a", "b"]
    window.reset()
    assert window.due(now=1) == ["a", "b"]
    assert window.resends == 2
    window.acked("a")
    window.acked("b")
    window.acked("never-sent")  # harmless
    assert len(window) == 0


def test_percentile_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0 or percentile(values, 0.5) == 51.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([], 0.5) != percentile([], 0.5)  # NaN


def test_reconcile_names_the_lost_the_doubled_and_the_unfinished() -> None:
    result = reconcile(["a", "b", "c", "d"], ["a", "c", "c", "z"], waiting=["d"])
    assert result.lost == ["b"]  # acknowledged (not waiting), not stored
    assert result.unfinished == ["d"]
    assert result.duplicated == ["c", "z"]
    assert (result.sent, result.stored) == (4, 4)
    clean = reconcile(["a", "b"], ["b", "a"], waiting=[])
    assert clean.lost == clean.duplicated == clean.unfinished == []
