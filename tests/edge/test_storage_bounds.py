"""The outbox and the door log on a Raspberry Pi's SD card through a hub outage of days.

Found by a storage review (2026-12-07): both grew without bound while the hub was away (the
outbox keeps every alert until acknowledged, the door log every record), and on a full card
both then grew in memory instead (``edge.outbox`` (f), ``edge.access.store``): a faulty
device or a reader stuck sending frames for a week filled the card, then the RAM. Now each is
bounded: the outbox sheds only superseded non-life-safety transitions (never an SOS or a
fire, never a device's last episode), the door log its oldest records; both are counted for
the edge status. Real SQLite files; no clock involved.
"""

import logging
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.access import AccessEventKind, AccessRecord
from devices.kinds import AlertKind, AlertState
from devices.messages import Alert
from edge.access.store import MAX_LOG_RECORDS, AccessStore
from edge.outbox import Outbox
from edge.outbox_shed import MAX_ALERTS, Shedder
from edge.settings import EdgeSettings
from tests.edge.test_access_store import fill_the_card, mine
from tests.edge.test_edge_resilience import depth, due_ids, fill_the_disk
from tests.edge.test_outbox import alert

CAP = 100
RAISED, CLEARED = AlertState.RAISED, AlertState.CLEARED


def flapping(device_id: str, kind: AlertKind, transitions: int) -> list[Alert]:
    """A device that raises and clears ``kind`` again and again, raising first."""
    return [alert(device_id, kind, RAISED if i % 2 == 0 else CLEARED) for i in range(transitions)]


def stored(path: Path) -> list[tuple[str, str, str]]:
    """The outbox file's alerts as (device, kind, state), in sending order of a device."""
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT body FROM alerts ORDER BY seq").fetchall()
    finally:
        db.close()
    parsed = [Alert.model_validate_json(body) for (body,) in rows]
    return [(a.device_id, a.kind.value, a.state.value) for a in parsed]


def commit_one_by_one(outbox: Outbox, alerts: list[Alert]) -> None:
    for a in alerts:
        outbox.commit(a.device_id, "{}", [a])


def test_a_leak_flapping_through_an_outage_is_shed_down_to_its_last_episode(path: Path) -> None:
    outbox = Outbox.open(path, max_alerts=CAP)
    try:
        sos = alert("b3-sos", AlertKind.SOS)
        smoke = alert("b3-smoke", AlertKind.SMOKE)
        offline = alert("plug-1", AlertKind.DEVICE_OFFLINE)  # a fault never cleared
        commit_one_by_one(outbox, [sos, smoke, offline])
        leak = flapping("bike-leak", AlertKind.WATER_LEAK, 301)  # ends raised: still wet

        commit_one_by_one(outbox, leak)

        depth = outbox.depth()
        assert depth <= CAP
        assert outbox.counters["outbox_shed"] == 304 - depth
        due = {a.id for a in outbox.due(0.0, 1000)}
        assert {sos.id, smoke.id, offline.id} <= due
        assert leak[-1].id in due  # the leak as it is now reaches the hub
    finally:
        outbox.close()
    kept = [row for row in stored(path) if row[0] == "bike-leak"]
    # Only whole episodes go, oldest first: what is left starts with a raise and keeps order.
    assert kept[0][2] == "raised"
    assert kept[-3:] == [("bike-leak", "water_leak", s) for s in ("raised", "cleared", "raised")]
    assert [s for _, _, s in kept] == ["raised", "cleared"] * (len(kept) // 2) + ["raised"]


def test_life_safety_alerts_are_never_shed_however_many(path: Path) -> None:
    outbox = Outbox.open(path, max_alerts=CAP)
    try:
        sos = alert("b3-sos", AlertKind.SOS)
        outbox.commit("b3-sos", "{}", [sos])
        smoke = flapping("b3-smoke", AlertKind.SMOKE, 3 * CAP)  # a detector in a steamy kitchen
        co = flapping("b3-co", AlertKind.CO, CAP)

        commit_one_by_one(outbox, smoke + co)

        assert outbox.depth() == 1 + 4 * CAP
        assert outbox.counters["outbox_shed"] == 0
        assert len(outbox.due(0.0, 10 * CAP)) == 1 + 4 * CAP
    finally:
        outbox.close()


def test_an_alarm_that_never_cleared_is_kept_past_the_bound(path: Path) -> None:
    """A device whose last episode is the only one (each leak raised, none cleared) has nothing
    superseded: the outbox goes past its bound rather than lose an unresolved alarm."""
    outbox = Outbox.open(path, max_alerts=CAP)
    try:
        leaks = [alert(f"leak-{i}", AlertKind.WATER_LEAK) for i in range(CAP + 50)]

        commit_one_by_one(outbox, leaks)

        assert outbox.depth() == CAP + 50
        assert outbox.counters["outbox_shed"] == 0
    finally:
        outbox.close()


def test_an_outbox_past_its_bound_with_nothing_to_shed_is_not_scanned_at_every_commit(
    path: Path,
) -> None:
    outbox = Outbox.open(path, max_alerts=CAP)
    try:
        commit_one_by_one(outbox, [alert(f"leak-{i}", AlertKind.WATER_LEAK) for i in range(CAP)])
        scans: list[str] = []
        outbox._db.set_trace_callback(
            lambda sql: scans.append(sql) if "AND seq > -1 ORDER BY" in sql else None
        )

        commit_one_by_one(outbox, [alert(f"more-{i}", AlertKind.WATER_LEAK) for i in range(30)])

        # A try (its first read of the oldest alerts) at CAP + 1, then only once the outbox
        # has grown by another tenth of CAP: at CAP + 1, CAP + 11, CAP + 22.
        assert len(scans) == 3
    finally:
        outbox.close()


def test_a_full_card_through_an_outage_keeps_the_sos_counts_once_and_bounds_memory(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A full card keeps what it refuses in memory (RAM, on a Pi), sent all the same: an SOS
    committed then still goes out, the condition is counted and logged once, not at every
    commit, and a flapping leak's superseded transitions are shed there too."""
    outbox = Outbox.open(path, max_alerts=CAP)
    try:
        fill_the_disk(outbox)
        leak = flapping("bike-leak", AlertKind.WATER_LEAK, 3 * CAP + 1)
        sos = alert("b3-sos", AlertKind.SOS)

        with caplog.at_level(logging.ERROR, logger="edge.outbox"):
            commit_one_by_one(outbox, [*leak[:CAP], sos, *leak[CAP:]])

        assert outbox.unsaved
        assert depth(outbox) <= CAP
        due = due_ids(outbox)
        assert due[0] == sos.id  # first out, as ever
        assert leak[-1].id in due
        assert outbox.counters["outbox_write_refused"] == 1
        assert outbox.counters["outbox_shed"] == 3 * CAP + 2 - depth(outbox)
        assert len([r for r in caplog.records if "cannot be written" in r.getMessage()]) == 1
    finally:
        outbox.close()


# --- the door log ----------------------------------------------------------------------------


def granted(i: int) -> AccessRecord:
    return AccessRecord(
        id=f"pass-{i:05d}-{uuid.uuid4().hex[:6]}",
        edge_id="edge-1",
        door_id="gate",
        kind=AccessEventKind.GRANTED,
        ts=datetime(2026, 12, 7, tzinfo=UTC),
        reader_id="gate-reader",
        credential_id=1,
        person_id=1,
    )


def test_a_busy_gate_through_an_outage_keeps_its_newest_records_within_the_bound(
    tmp_path: Path,
) -> None:
    path = tmp_path / "access.sqlite3"
    store = AccessStore.open(path, max_log_records=CAP)
    records = [granted(i) for i in range(2 * CAP + 50)]
    try:
        for start in range(0, len(records), 10):  # the door's group commits
            store.record(records[start : start + 10], [("gate", '{"open": false}')])

        assert store.log_depth() == CAP
        assert store.counters["access_log_shed"] == CAP + 50
    finally:
        store.close()
    reopened = AccessStore.open(path, max_log_records=CAP)
    try:
        assert [r.id for r in reopened.pending_log(10 * CAP)] == [r.id for r in records[-CAP:]]
    finally:
        reopened.close()


def test_the_door_log_in_memory_on_a_full_card_stays_within_the_bound(tmp_path: Path) -> None:
    """On a full card the store runs in memory (RAM, on a Pi): the bound holds there too."""
    store = AccessStore.open(tmp_path / "access.sqlite3", max_log_records=CAP)
    try:
        fill_the_card(store)
        records = [granted(i) for i in range(3 * CAP)]

        for start in range(0, len(records), 10):
            store.record(records[start : start + 10])

        assert not store.on_disk
        assert mine(r.id for r in store.pending_log(10 * CAP)) == [r.id for r in records[-CAP:]]
    finally:
        store.close()


def test_the_settings_default_to_the_stores_own_bounds(tmp_path: Path) -> None:
    settings = EdgeSettings(site_file=tmp_path / "site.toml")
    assert settings.outbox_max_alerts == MAX_ALERTS
    assert settings.access_log_max_records == MAX_LOG_RECORDS
    with pytest.raises(ValueError, match="outbox_max_alerts"):
        EdgeSettings(site_file=tmp_path / "site.toml", outbox_max_alerts=10)


def test_one_alert_left_unacknowledged_long_ago_does_not_make_every_commit_count() -> None:
    """The span of seqs bounds the depth cheaply, but one old alert keeps it wide while the
    rest come and go: then the last count bounds it, and the table is not counted again."""
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE alerts (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT, device_id TEXT,"
        " rank INTEGER, body TEXT)"
    )
    db.execute("CREATE TEMP TABLE in_flight (id TEXT PRIMARY KEY, sent_at REAL)")
    counts: list[str] = []
    db.set_trace_callback(lambda sql: counts.append(sql) if "COUNT(*)" in sql else None)
    shedder = Shedder(1000)
    db.execute("INSERT INTO alerts (id, device_id, rank, body) VALUES ('old', 'd', 3, '{}')")
    for n in range(3000):
        db.execute(
            "INSERT INTO alerts (id, device_id, rank, body) VALUES (?, 'd', 3, '{}')", (f"a{n}",)
        )
        db.execute("DELETE FROM alerts WHERE id = ?", (f"a{n - 1}",))  # acknowledged
        assert shedder.shed(db) == 0
    # Counted again only once a bound's worth of seqs were given out since (about 2,000
    # times before: at every commit once the span passed the bound).
    assert len(counts) <= 3000 // 1000 + 1
