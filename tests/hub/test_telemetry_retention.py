"""The console history's pruning: what it keeps for the care checks, what it never keeps."""

from datetime import timedelta

from sqlalchemy import Engine, event, insert

from hub.care.rules import LOOK_BACK
from hub.persistence.tables import ReadingHistoryRow
from hub.store import HubStore
from hub.telemetry.history import PRUNE_CHUNK, ReadingHistory
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0
from tests.hub.test_care_watch import MOTION, make_grandma
from tests.hub.test_telemetry import batch, point, written


def stored(history: ReadingHistory, *seconds: float) -> None:
    """Store one reading of device ``a`` at each T0 + seconds."""
    history.start()
    try:
        history.submit(batch(*(point("a", s, occupancy=True) for s in seconds)))
        written(history, len(seconds))
    finally:
        history.stop()


def kept(history: ReadingHistory, device_id: str = "a") -> list[float]:
    """Return the seconds after T0 of a device's stored readings."""
    far = timedelta(days=365 * 20)
    samples = history.readings([device_id], T0 - far, T0 + far)
    return [(s.ts - T0).total_seconds() for s in samples]


def test_history_keeps_a_care_sensors_readings_as_long_as_the_care_check_looks_back(
    store: HubStore, engine: Engine
) -> None:
    """The care check looks LOOK_BACK (a week) back for a resident's last sign of life: a
    48-waking-hour limit in a home awake 8 hours a day is six days. A care sensor's readings
    kept only the history's 48 h, a motion 4 days old was forgotten, the quiet counted from
    when the home was first watched, weeks before, and a wellbeing check raised days early.
    Every other device's readings go after the retention: a week of a city's is ~100M rows."""
    make_grandma(store)  # MOTION is a care sensor
    now = T0 + timedelta(days=4)
    history = ReadingHistory(engine, retention=timedelta(hours=48), clock=FakeClock(now))
    history.start()
    try:
        history.submit(
            batch(*(point(d, s, occupancy=True) for d in (MOTION, "a") for s in (0, 60)))
        )
        written(history, 4)
    finally:
        history.stop()
    assert timedelta(days=4) < LOOK_BACK
    history.prune(now)
    assert kept(history) == []
    assert kept(history, MOTION) == [0, 60]
    history.prune(T0 + LOOK_BACK + timedelta(seconds=30))
    assert kept(history, MOTION) == [60]


def test_history_does_not_keep_readings_stamped_years_ahead_for_years(engine: Engine) -> None:
    """An edge or device clock years ahead stamps every reading in the future: pruned only by
    age, each stayed until that future came, a row a reading for as long as the clock was
    wrong. No chart (they end now) or care check (5 min ahead at most) reads them."""
    history = ReadingHistory(engine, retention=timedelta(hours=1), clock=FakeClock(T0))
    year = 365 * 86400
    stored(history, -60, 60, 10 * year, 10 * year + 60)
    history.prune(T0)
    assert kept(history) == [-60, 60]


def test_a_large_prune_goes_in_short_transactions_even_through_one_shared_instant(
    engine: Engine,
) -> None:
    """After days down the first prune had days of readings to delete, all in one transaction:
    on SQLite's one writer an alert's intake waited behind it (~300,000 rows: 2 s). It goes in
    transactions of about PRUNE_CHUNK readings, each its own turn; readings sharing an instant
    (thousands of devices stamped by one edge tick) cannot stall it."""
    old = [
        {
            "device_id": f"d{i}",
            "ts": T0 + timedelta(seconds=i // 3),
            "edge_id": "e1",
            "readings": {"co_ppm": 1.0},
        }
        for i in range(3 * PRUNE_CHUNK)
    ] + [
        {
            "device_id": f"s{i}",
            "ts": T0 + timedelta(hours=1),
            "edge_id": "e1",
            "readings": {"co_ppm": 1.0},
        }
        for i in range(2 * PRUNE_CHUNK)
    ]
    with engine.begin() as connection:
        connection.execute(insert(ReadingHistoryRow), old)
    history = ReadingHistory(engine, retention=timedelta(hours=1), clock=FakeClock(T0))
    commits: list[object] = []
    listener = commits.append
    event.listen(Engine, "commit", listener)
    try:
        removed = history.prune(T0 + LOOK_BACK + timedelta(hours=2))
    finally:
        event.remove(Engine, "commit", listener)
    assert removed == 5 * PRUNE_CHUNK
    assert kept(history) == []
    assert 4 <= len(commits) <= 8
