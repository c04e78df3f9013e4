"""An edge clock set back must not reopen an expired card (review defect), and the time floor.

A Raspberry Pi has no real-time clock: after a power cut it boots at its last saved time
(fake-hwclock) or 1970 and stays there until NTP answers. Decided against that clock, a card
whose ``valid_until`` had passed opened again, a card already valid was refused as not yet
valid, and schedules were read at the wrong hour. Decisions now use ``max(clock, floor)``, the
floor being the latest time the edge has known true, kept in ``access.sqlite3``.
"""

import logging
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from devices.access import AccessRule, DoorConfig, TimeWindow
from edge.access.clock_floor import SANE_AFTER, TimeFloor, due_for_saving, observe, trust
from edge.access.decision import Verdict
from simulators.doors import enrolment
from tests.edge.test_access_review import CARDS, EDGE, KEY, NOW, Edge, with_cards

GATE = DoorConfig(id="gate", reader_id="gate-reader")
FAKE_HWCLOCK = NOW - timedelta(hours=2)
"""Where a Pi's clock stands after a power cut: its last saved time."""
NEVER_SET = datetime(1970, 1, 1, 0, 0, 42, tzinfo=UTC)


async def test_an_expired_card_stays_expired_when_the_clock_is_set_back_after_a_reboot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Card 0 expires at 12:10; card 1 becomes valid at 11:00 (after fake-hwclock's 10:00).
    snapshot = with_cards(
        enrolment(EDGE, KEY, CARDS, [GATE]),
        c0={"valid_until": NOW + timedelta(minutes=10)},
        c1={"valid_from": NOW - timedelta(hours=1)},
    )
    edge = Edge(tmp_path, snapshot)
    assert await edge.present(CARDS[0]) is Verdict.GRANTED
    await edge.run_for(20 * 60)  # 12:20: expired; the timers wrote the floor on the way
    assert await edge.present(CARDS[0]) is Verdict.EXPIRED
    # Power cut without a clean stop: only what the ticks wrote survives (up to 5 min old).
    edge.store.close()
    edge.outbox.close()
    rebooted = Edge(tmp_path, snapshot, now=FAKE_HWCLOCK)
    assert rebooted.control.floor.at is not None
    assert rebooted.control.floor.at >= NOW + timedelta(minutes=15)
    with caplog.at_level(logging.WARNING, logger="edge.access.control"):
        assert await rebooted.present(CARDS[0]) is Verdict.EXPIRED  # granted before the fix
        assert await rebooted.present(CARDS[1]) is Verdict.GRANTED  # not_yet_valid before
    assert rebooted.counts["access.clock_behind"] == 2
    assert "behind the latest time it knew" in caplog.text
    # A clock never set (1970) is no better.
    again = rebooted.reboot(tmp_path, NEVER_SET)
    assert await again.present(CARDS[0]) is Verdict.EXPIRED
    assert await again.present(CARDS[1]) is Verdict.GRANTED


async def test_schedules_are_read_at_the_floored_time(tmp_path: Path) -> None:
    window = TimeWindow(days=frozenset({5}), start=time(11), end=time(13))  # Fridays 11-13
    rule = AccessRule(doors=frozenset({"gate"}), windows=(window,))
    edge = Edge(tmp_path, with_cards(enrolment(EDGE, KEY, CARDS, [GATE]), c0={"rules": (rule,)}))
    assert await edge.present(CARDS[0]) is Verdict.GRANTED
    # Back to 10:00 by fake-hwclock: outside the window by the clock, not in fact.
    rebooted = edge.reboot(tmp_path, FAKE_HWCLOCK)
    assert await rebooted.present(CARDS[0]) is Verdict.GRANTED


async def test_the_floor_survives_a_restart_and_is_written_only_when_it_moved(
    tmp_path: Path,
) -> None:
    edge = Edge(tmp_path, enrolment(EDGE, KEY, CARDS, [GATE]))
    await edge.control.tick()
    assert edge.store.load_floor() == NOW  # the first reading is written at once
    await edge.run_for(120)
    assert edge.store.load_floor() == NOW  # two minutes: not yet worth a write
    await edge.run_for(240)
    assert edge.store.load_floor() == NOW + timedelta(minutes=5)  # written at 12:05
    rebooted = edge.reboot(tmp_path, NEVER_SET)  # a clean stop writes the latest
    assert rebooted.control.floor.at == NOW + timedelta(minutes=6)
    assert rebooted.store.load_floor() == NOW + timedelta(minutes=6)


async def test_a_clock_far_ahead_does_not_lock_everyone_out_after_it_is_corrected(
    tmp_path: Path,
) -> None:
    snapshot = with_cards(
        enrolment(EDGE, KEY, CARDS, [GATE]), c0={"valid_until": NOW + timedelta(hours=2)}
    )
    edge = Edge(tmp_path, snapshot)
    await edge.control.tick()
    # A wrong NTP answer: 2030 for ten minutes, then corrected.
    wrong = datetime(2030, 1, 1, tzinfo=UTC)
    edge.now = wrong
    await edge.run_for(10 * 60)
    assert await edge.present(CARDS[0]) is Verdict.EXPIRED  # by a clock in 2030, as before
    floor = edge.control.floor.at
    assert floor is not None
    assert floor <= NOW + timedelta(minutes=20, seconds=30)  # ten minutes of real time, twice
    edge.now = NOW + timedelta(minutes=10, seconds=30)  # corrected
    edge = edge.reboot(tmp_path, edge.now)  # and what was stored is no worse
    assert edge.control.floor.at == floor
    assert await edge.present(CARDS[0]) is Verdict.GRANTED
    assert await edge.present(CARDS[1]) is Verdict.GRANTED
    # The floor's lead runs out within the time the clock was wrong.
    await edge.run_for(10 * 60)
    assert edge.control.floor.behind_s(edge.now) == 0.0
    assert edge.control.floor.now(edge.now) == edge.now


async def test_a_time_the_hub_stamped_advances_the_floor(tmp_path: Path) -> None:
    snapshot = with_cards(
        enrolment(EDGE, KEY, CARDS, [GATE]), c0={"valid_until": NOW + timedelta(minutes=30)}
    )
    edge = Edge(tmp_path, snapshot, now=NEVER_SET)  # booted in 1970, no floor yet
    assert await edge.present(CARDS[0]) is Verdict.GRANTED
    edge.control.learn_time(NOW + timedelta(hours=1))
    assert await edge.present(CARDS[0]) is Verdict.EXPIRED
    await edge.control.tick()
    assert edge.store.load_floor() == NOW + timedelta(hours=1)
    # An older stamp (a late message) never lowers it.
    edge.control.learn_time(NOW)
    assert edge.control.floor.at == NOW + timedelta(hours=1)


# --- the floor, pure ---------------------------------------------------------------------------


def test_a_clock_never_set_is_not_taken_and_the_first_sane_reading_is() -> None:
    empty = TimeFloor(None, 0.0)
    assert observe(empty, NEVER_SET, 5.0) == empty
    assert empty.now(NEVER_SET) == NEVER_SET  # nothing known: the clock decides
    assert observe(empty, NOW, 5.0) == TimeFloor(NOW, 5.0)
    assert SANE_AFTER < NOW


def test_the_floor_follows_a_correct_clock_and_catches_up_after_a_long_cut_at_its_rate() -> None:
    floor = TimeFloor(NOW, 0.0)
    moved = observe(floor, NOW + timedelta(seconds=30), 30.0)
    assert moved == TimeFloor(NOW + timedelta(seconds=30), 30.0)
    # A clock behind moves nothing (the floor never runs on its own).
    assert observe(moved, NOW, 60.0) == moved
    # Booted after a cut of 3 h, NTP right: the floor gains 1 s per second on real time.
    booted = TimeFloor(NOW, 0.0)
    truth = NOW + timedelta(hours=3)
    hour = observe(booted, truth + timedelta(hours=1), 3600.0)
    assert hour.at == NOW + timedelta(hours=2)
    caught = observe(hour, truth + timedelta(hours=3), 3 * 3600.0)
    assert caught.at == truth + timedelta(hours=3)


def test_trusted_times_raise_the_floor_and_saving_waits_for_five_minutes() -> None:
    floor = trust(TimeFloor(None, 0.0), NOW, 1.0)
    assert floor == TimeFloor(NOW, 1.0)
    assert trust(floor, NOW - timedelta(days=1), 2.0) == floor
    assert not due_for_saving(TimeFloor(None, 0.0), None)
    assert due_for_saving(floor, None)
    assert not due_for_saving(floor, NOW - timedelta(minutes=4))
    assert due_for_saving(floor, NOW - timedelta(minutes=5))
