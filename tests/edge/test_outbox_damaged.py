"""The outbox file damaged while the edge runs (an SD card returning garbage, a failing read):
the outbox moves into memory with what can still be read, and the alarms still go out."""

import sqlite3
from pathlib import Path

import pytest

from devices.kinds import AlertKind
from edge.agent import EdgeAgent
from edge.outbox import FILE_NAME, Outbox, OutboxError
from linli.brokers import MosquittoProcess
from tests.edge.conftest import Devices, SettingsFactory, eventually, running_agent, running_hub
from tests.edge.test_edge_resilience import due_ids, fill_the_disk
from tests.edge.test_outbox import alert

SMOKE_STATE = "linli/dev/b3-smoke/state"
SOS_TOPIC = "zigbee2mqtt/b3 1201 sos"
GARBAGE = 0xA5


def _overwrite(file: Path, offset: int = 0, size: int | None = None) -> None:
    with file.open("r+b") as f:
        f.seek(offset)
        f.write(bytes([GARBAGE]) * (file.stat().st_size - offset if size is None else size))


def damage_everything(path: Path) -> None:
    """Overwrite the outbox file, its WAL and its shared memory with garbage in place, as a
    failing card returns it (the shared memory too: else SQLite reads from its cache)."""
    for suffix in ("", "-wal", "-shm"):
        _overwrite(path.with_name(path.name + suffix))


def damage_an_index(outbox: Outbox, path: Path) -> None:
    """Overwrite one page of the file, an index of the alerts: the alerts can still be read."""
    db: sqlite3.Connection = outbox._db
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (page_size,) = db.execute("PRAGMA page_size").fetchone()
    (root,) = db.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'alerts_by_rank'"
    ).fetchone()
    _overwrite(path, (root - 1) * page_size, page_size)
    _overwrite(path.with_name(path.name + "-shm"))


def test_a_damaged_index_moves_the_outbox_into_memory_with_its_alerts(
    outbox: Outbox, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    leak = alert("leak-1", AlertKind.WATER_LEAK)
    outbox.commit("leak-1", '{"leak": true}', [leak])
    assert due_ids(outbox) == [leak.id]
    damage_an_index(outbox, path)

    assert due_ids(outbox, now=100.0) == [leak.id]  # must not raise: due again, stale

    assert outbox.unsaved
    assert outbox.counters["outbox_read_refused"] == 1
    assert "in memory" in caplog.text
    sos = alert("button-1", AlertKind.SOS)
    outbox.commit("button-1", "{}", [sos])
    assert due_ids(outbox, now=200.0) == [sos.id, leak.id]
    assert outbox.settle([leak.id, sos.id]).deleted == 2
    assert outbox.depth() == 0
    assert outbox.load_states() == {"leak-1": '{"leak": true}', "button-1": "{}"}


def test_a_file_turned_to_garbage_keeps_what_memory_held(outbox: Outbox, path: Path) -> None:
    stored = alert("leak-1", AlertKind.WATER_LEAK)
    outbox.commit("leak-1", "{}", [stored])
    fill_the_disk(outbox)
    kept = alert("smoke-1", AlertKind.SMOKE)
    outbox.commit("smoke-1", '{"smoke": true}', [kept])  # in memory only
    assert due_ids(outbox, now=0.0) == [kept.id, stored.id]
    damage_everything(path)

    assert due_ids(outbox, now=1.0) == []  # must not raise; still on the wire (memory held it)
    # The lost one holds no room in the window.
    assert outbox._db.execute("SELECT id FROM in_flight").fetchall() == [(kept.id,)]

    assert due_ids(outbox, now=100.0) == [kept.id]  # the stored one could not be read
    assert outbox.depth() == 1
    assert outbox.unsaved
    later = alert("button-1", AlertKind.SOS)
    outbox.commit("button-1", "{}", [later])
    assert due_ids(outbox, now=200.0) == [later.id, kept.id]
    assert outbox.load_states() == {"smoke-1": '{"smoke": true}', "button-1": "{}"}


def test_a_bad_statement_still_raises_and_moves_nothing(outbox: Outbox) -> None:
    outbox.commit("leak-1", "{}", [alert("leak-1", AlertKind.WATER_LEAK)])
    outbox._db.execute("DROP TABLE alerts")  # a bug, not the disk: "no such table"

    with pytest.raises(OutboxError, match="no such table"):
        outbox.depth()

    assert not outbox.unsaved
    assert outbox.counters["outbox_read_refused"] == 0


@pytest.mark.mosquitto
async def test_an_sos_reaches_the_hub_after_the_outbox_file_is_damaged(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings(heartbeat_s=0.2))
    async with running_hub(mosquitto) as hub, running_agent(agent):
        await Devices(mosquitto).publish(SMOKE_STATE, '{"smoke": true}')
        await eventually(lambda: len(hub.alerts) == 1, "the smoke alarm at the hub")
        await eventually(lambda: agent.outbox.depth() == 0, "the hub's ack to settle it")
        with agent.outbox._lock:
            damage_everything(agent.settings.data_dir / FILE_NAME)

        await Devices(mosquitto).publish(SOS_TOPIC, '{"action":"emergency"}')

        await eventually(
            lambda: any(a.kind is AlertKind.SOS for a in hub.alerts), "the SOS at the hub"
        )
        await eventually(lambda: agent.outbox.depth() == 0, "the hub's ack to settle the SOS")
        await eventually(
            lambda: hub.statuses[-1].in_memory == ["outbox"], "a status naming the outbox"
        )
        assert hub.statuses[-1].counters.get("outbox_read_refused") == 1


@pytest.mark.mosquitto
async def test_an_alert_held_before_the_damage_still_reaches_the_hub(
    mosquitto: MosquittoProcess, make_settings: SettingsFactory
) -> None:
    agent = EdgeAgent(make_settings(heartbeat_s=0.2))
    path = agent.settings.data_dir / FILE_NAME
    async with running_hub(mosquitto, auto_ack=False) as hub, running_agent(agent):
        await Devices(mosquitto).publish("zigbee2mqtt/bike leak", '{"water_leak": true}')
        await eventually(lambda: len(hub.alerts) == 1, "the leak at the hub, not acknowledged")
        (leak,) = hub.alerts
        with agent.outbox._lock:
            damage_an_index(agent.outbox, path)

        await Devices(mosquitto).publish(SOS_TOPIC, '{"action":"emergency"}')

        await eventually(
            lambda: any(a.kind is AlertKind.SOS for a in hub.alerts), "the SOS at the hub"
        )
        # The leak, never acknowledged, is sent again from memory (resend_after_s).
        await eventually(lambda: hub.received(leak.id) >= 2, "the leak sent again")
        await hub.ack([a.id for a in hub.alerts])
        await eventually(lambda: agent.outbox.depth() == 0, "the hub's acks to settle both")
        await eventually(
            lambda: hub.statuses[-1].in_memory == ["outbox"], "a status naming the outbox"
        )


def test_an_outbox_damaged_in_one_table_while_off_is_set_aside_and_kept_on_disk(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The file still opens, so it was used as it was: its first read moved the outbox into
    memory, at every start, and an alarm taken in after was lost with the next power cut. The
    start's integrity check now sets it aside; a new file holds the alerts still readable."""
    box = Outbox.open(path)
    leak = alert("leak-1", AlertKind.WATER_LEAK)
    box.commit("leak-1", '{"leak": true}', [leak])
    damage_an_index(box, path)
    box.close()

    reopened = Outbox.open(path)
    try:
        assert not reopened.unsaved
        assert (path.parent / f"{FILE_NAME}.damaged-1").exists()
        assert "integrity check" in caplog.text
        assert due_ids(reopened) == [leak.id]
        sos = alert("button-1", AlertKind.SOS)
        reopened.commit("button-1", "{}", [sos])
        assert due_ids(reopened, now=100.0) == [sos.id, leak.id]
        assert not reopened.unsaved
    finally:
        reopened.close()
    restarted = Outbox.open(path)
    try:
        assert restarted.depth() == 2  # on disk: both there after a restart
    finally:
        restarted.close()
