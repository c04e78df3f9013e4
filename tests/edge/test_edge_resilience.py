"""The outbox on a disk that refuses writes (an SD card full, remounted read-only, failing):
the alarms are still sent, the hub's acks still settle them, and what memory held is written
once the disk takes it again."""

import shutil
import sqlite3
import uuid
from contextlib import suppress
from pathlib import Path

import pytest

from devices.kinds import AlertKind, AlertState
from edge.outbox import FILE_NAME, Outbox
from tests.edge.test_outbox import alert


def fill_the_disk(outbox: Outbox) -> None:
    """Make the database file unable to grow by one page, as on a full card, and fill what
    room its pages have left (with rows of a device the tests ignore)."""
    db: sqlite3.Connection = outbox._db
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")
    for size in (4000, 400, 40, 1):
        with suppress(sqlite3.OperationalError):
            while True:
                db.execute(
                    "INSERT INTO alerts (id, device_id, rank, body) VALUES (?, 'filler', 9, ?)",
                    (uuid.uuid4().hex, "x" * size),
                )


def free_the_disk(outbox: Outbox) -> None:
    outbox._db.execute("PRAGMA max_page_count = 1073741823")


def due_ids(outbox: Outbox, now: float = 0.0) -> list[str]:
    return [a.id for a in outbox.take_due(now, 100_000) if a.body.startswith("{")]


def depth(outbox: Outbox) -> int:
    """The outbox's depth without the rows that fill the disk."""
    sql = "SELECT COUNT(*) FROM alerts WHERE device_id = 'filler'"
    (fillers,) = outbox._db.execute(sql).fetchone()
    return outbox.depth() - int(fillers)


def test_a_smoke_alarm_committed_on_a_full_disk_is_still_sent(outbox: Outbox) -> None:
    fill_the_disk(outbox)
    smoke = alert("smoke-1", AlertKind.SMOKE)

    outbox.commit("smoke-1", '{"smoke": true}', [smoke])  # must not raise

    assert due_ids(outbox) == [smoke.id]
    assert depth(outbox) == 1
    assert outbox.unsaved


def test_a_full_disk_keeps_each_devices_order_and_life_safety_first(outbox: Outbox) -> None:
    cleared = alert("smoke-1", AlertKind.SMOKE, AlertState.CLEARED)
    fault = alert("plug-1", AlertKind.DEVICE_OFFLINE)
    outbox.commit("smoke-1", "{}", [cleared])
    outbox.commit("plug-1", "{}", [fault])
    fill_the_disk(outbox)
    raised = alert("smoke-1", AlertKind.SMOKE)
    sos = alert("button-1", AlertKind.SOS)

    outbox.commit("smoke-1", "{}", [raised])
    outbox.commit("button-1", "{}", [sos])

    assert due_ids(outbox) == [sos.id, cleared.id, raised.id, fault.id]


def test_an_ack_on_a_full_disk_settles_and_the_alert_is_not_sent_again(outbox: Outbox) -> None:
    stored = alert("smoke-1", AlertKind.SMOKE, AlertState.CLEARED)
    outbox.commit("smoke-1", "{}", [stored])
    fill_the_disk(outbox)
    kept = alert("smoke-1", AlertKind.SMOKE)
    outbox.commit("smoke-1", "{}", [kept])
    assert due_ids(outbox) == [stored.id, kept.id]

    settled = outbox.settle([stored.id, kept.id, "never-sent"], now=1.0)  # must not raise

    assert settled.deleted == 2
    outbox.reset_in_flight()
    assert due_ids(outbox, now=100.0) == []
    assert depth(outbox) == 0


def test_what_memory_held_is_written_once_the_disk_takes_it(outbox: Outbox, path: Path) -> None:
    acked = alert("leak-1", AlertKind.WATER_LEAK)
    outbox.commit("leak-1", "{}", [acked])
    fill_the_disk(outbox)
    kept = alert("smoke-1", AlertKind.SMOKE)
    outbox.commit("smoke-1", '{"smoke": true}', [kept])
    outbox.settle([acked.id])
    free_the_disk(outbox)
    later = alert("smoke-2", AlertKind.SMOKE)

    outbox.commit("smoke-2", '{"smoke": true}', [later])

    assert not outbox.unsaved
    outbox.close()
    reopened = Outbox.open(path)
    try:
        assert due_ids(reopened) == [kept.id, later.id]
        assert reopened.load_states()["smoke-1"] == '{"smoke": true}'
    finally:
        reopened.close()


# --- a file that cannot be used at start: the edge still starts, and says so ---------------


def test_a_damaged_outbox_file_is_set_aside_and_the_edge_starts(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\0" * 100 + b"power cut mid-write" * 300)

    box = Outbox.open(path)  # must not raise: an edge that does not start sends no alarm
    try:
        smoke = alert("smoke-1", AlertKind.SMOKE)
        box.commit("smoke-1", "{}", [smoke])
        assert due_ids(box) == [smoke.id]
        assert not box.unsaved
    finally:
        box.close()
    assert (path.parent / f"{FILE_NAME}.damaged-1").read_bytes().startswith(b"\0" * 100)
    assert "damaged" in caplog.text


def test_an_outbox_file_that_cannot_be_written_is_read_into_memory(path: Path) -> None:
    box = Outbox.open(path)
    waiting = [alert(f"smoke-{n}", AlertKind.SMOKE) for n in range(3)]
    for a in waiting:
        box.commit(a.device_id, "{}", [a])
    box.close()
    # WAL mode cannot work without its shared-memory file (as on a read-only card).
    path.with_name(FILE_NAME + "-shm").mkdir()

    box = Outbox.open(path)
    try:
        assert due_ids(box) == [a.id for a in waiting]
        later = alert("smoke-9", AlertKind.SMOKE)
        box.commit("smoke-9", "{}", [later])
        assert due_ids(box, now=100.0) == [*(a.id for a in waiting), later.id]
    finally:
        box.close()


def test_an_outbox_that_cannot_be_opened_runs_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "edge").write_text("not a folder: the data folder cannot be made")

    box = Outbox.open(tmp_path / "edge" / FILE_NAME)
    try:
        smoke = alert("smoke-1", AlertKind.SMOKE)
        box.commit("smoke-1", "{}", [smoke])
        assert due_ids(box) == [smoke.id]
        assert box.settle([smoke.id]).deleted == 1
    finally:
        box.close()
    assert "in memory" in caplog.text


def test_an_outbox_deleted_under_the_running_edge_is_written_again(path: Path) -> None:
    box = Outbox.open(path)
    waiting = alert("leak-1", AlertKind.WATER_LEAK)
    box.commit("leak-1", '{"leak": true}', [waiting])
    shutil.rmtree(path.parent)  # the data folder removed while the edge runs
    smoke = alert("smoke-1", AlertKind.SMOKE)

    box.commit("smoke-1", '{"smoke": true}', [smoke])

    box.close()
    reopened = Outbox.open(path)  # the next start finds both, not an empty outbox
    try:
        assert due_ids(reopened) == [smoke.id, waiting.id]
        assert reopened.load_states() == {"leak-1": '{"leak": true}', "smoke-1": '{"smoke": true}'}
    finally:
        reopened.close()


def test_what_memory_held_is_written_at_shutdown_if_the_disk_takes_it(path: Path) -> None:
    box = Outbox.open(path)
    fill_the_disk(box)
    smoke = alert("smoke-1", AlertKind.SMOKE)
    box.commit("smoke-1", "{}", [smoke])
    free_the_disk(box)

    box.close()

    reopened = Outbox.open(path)
    try:
        assert due_ids(reopened) == [smoke.id]
    finally:
        reopened.close()


def test_an_ack_once_the_disk_takes_writes_again_stores_what_memory_held(
    outbox: Outbox, path: Path
) -> None:
    acked = alert("leak-1", AlertKind.WATER_LEAK)
    outbox.commit("leak-1", "{}", [acked])
    fill_the_disk(outbox)
    kept = alert("smoke-1", AlertKind.SMOKE)
    outbox.commit("smoke-1", "{}", [kept])
    free_the_disk(outbox)

    assert outbox.settle([acked.id]).deleted == 1

    assert not outbox.unsaved
    reopened = Outbox.open(path)
    try:
        assert due_ids(reopened) == [kept.id]
    finally:
        reopened.close()
