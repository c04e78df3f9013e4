"""The access file damaged under the edge (an SD card returning garbage, a failing read).

Only a write the disk refused moved the access store into memory (207864c): every read of a
damaged file raised. The hub link reads the pending access log first thing on every
connection, so while the doors were quiet it failed and reconnected twice a second, logging
a traceback each time, and the hub was never told the store had failed, until some write (a
door's step, an allow-list change) happened to move it. A file damaged in a table (it still
opens) failed its first read at start, and with it the agent, every alarm of the site
included. Now any read the file refuses moves the store into memory with what can still be
read, as the alert outbox does; a file found damaged at start is set aside and a new one
started with what can still be read of it.
"""

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from devices.access import CredentialKind, ReaderAction
from edge.access.store import FILE_NAME, AccessStore, AccessStoreError
from edge.settings import EdgeSettings
from hub.settings import HubSettings
from linli.brokers import MosquittoProcess
from tests.edge.conftest import eventually
from tests.edge.test_access_agent import (  # noqa: F401 - fixtures
    BOB_CARD,
    EDGE,
    edge_settings,
    enrolled_site,
    hub_settings,
    in_sync,
    ok,
)
from tests.edge.test_access_store import card, denied, snapshot
from tests.edge.test_outbox_damaged import GARBAGE, damage_everything
from tests.polling import until

CAROL_CARD = "CA401CA4"
FLOOR = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
REFUSED = "access_store_refused"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AccessStore]:
    """An access store holding a site, a card, a time floor, a door's state and two records."""
    held = AccessStore.open(tmp_path / FILE_NAME)
    held.apply(0, snapshot(3, card(1, "AA01")))
    held.save_floor(FLOOR)
    held.record([denied(1), denied(2)], [("gate", '{"open": true}')])
    yield held
    held.close()


def damage_the_log_index(store: AccessStore) -> None:
    """Overwrite the page of the log's id index: every table can still be read, but counting
    the log (which SQLite does on that index) fails."""
    db: sqlite3.Connection = store._db
    path = store._path
    assert path is not None
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (page_size,) = db.execute("PRAGMA page_size").fetchone()
    (root,) = db.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_log_1'"
    ).fetchone()
    with path.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes([GARBAGE]) * page_size)
    shm = path.with_name(path.name + "-shm")
    shm.write_bytes(bytes([GARBAGE]) * shm.stat().st_size)


def test_a_damaged_page_moves_the_store_into_memory_with_all_it_can_read(
    store: AccessStore, caplog: pytest.LogCaptureFixture
) -> None:
    damage_the_log_index(store)

    assert store.log_depth() == 2  # must not raise

    assert not store.on_disk
    assert store.counters[REFUSED] == 1
    assert "in memory" in caplog.text
    allow = store.load()
    assert allow.version == 0  # what was read may lack items: the hub sends it whole again
    assert allow.lookup(CredentialKind.CARD, "AA01")[1] == card(1, "AA01")
    assert set(allow.doors) == {"gate"}
    assert store.load_floor() == FLOOR
    assert store.door_states() == {"gate": '{"open": true}'}
    assert [r.id for r in store.pending_log(10)] == ["record-0001", "record-0002"]
    store.record([denied(3)])
    assert store.acknowledge(["record-0001"]) == 1
    assert [r.id for r in store.pending_log(10)] == ["record-0002", "record-0003"]
    assert store.counters[REFUSED] == 1


@pytest.mark.parametrize(
    "read",
    [
        lambda s: s.pending_log(10),
        lambda s: s.log_depth(),
        lambda s: s.door_states(),
        lambda s: s.load(),
        lambda s: s.load_floor(),
    ],
    ids=["pending_log", "log_depth", "door_states", "load", "load_floor"],
)
def test_every_read_of_a_file_turned_to_garbage_goes_on_in_memory(
    store: AccessStore, read: Any
) -> None:
    path = store._path
    assert path is not None
    with store._lock:
        damage_everything(path)

    read(store)  # must not raise

    assert not store.on_disk
    assert store.counters[REFUSED] == 1
    # Nothing could be read back; what comes now is kept and forwarded.
    assert store.pending_log(10) == []
    store.record([denied(3)], [("gate", '{"open": false}')])
    assert [r.id for r in store.pending_log(10)] == ["record-0003"]
    assert store.door_states() == {"gate": '{"open": false}'}


def test_a_bad_statement_in_a_read_still_raises_and_moves_nothing(store: AccessStore) -> None:
    store._db.execute("DROP TABLE log")  # a bug, not the disk: "no such table"

    with pytest.raises(AccessStoreError, match="no such table"):
        store.pending_log(10)

    assert store.on_disk
    assert store.counters[REFUSED] == 0


def damage_a_table(path: Path, table: str) -> None:
    """Overwrite the first page of one table of a closed access file: it still opens."""
    with sqlite3.connect(path) as db:
        (page_size,) = db.execute("PRAGMA page_size").fetchone()
        (root,) = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()
    db.close()
    with path.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes([GARBAGE]) * page_size)


def test_a_file_damaged_while_the_edge_was_off_is_set_aside_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A damaged page of the allow-list: the file opens, but its first read raised, and the
    agent (every alarm of the site with it) failed to start, at every start. Then its first
    read moved the store into memory, at every start: the door log was never on disk again.
    Now the start's integrity check sets the file aside and a new one holds what was read."""
    path = tmp_path / FILE_NAME
    first = AccessStore.open(path)
    first.apply(0, snapshot(3, card(1, "AA01")))
    first.record([denied(1)], [("gate", '{"open": true}')])
    first.close()
    damage_a_table(path, "items")
    store = AccessStore.open(path)
    try:
        allow = store.load()  # must not raise

        assert (allow.version, len(allow)) == (0, 0)  # the hub sends it whole again
        assert store.on_disk
        assert (tmp_path / f"{FILE_NAME}.damaged-1").exists()
        assert "integrity check" in caplog.text
        assert [r.id for r in store.pending_log(10)] == ["record-0001"]
        assert store.door_states() == {"gate": '{"open": true}'}
        store.record([denied(2)])
    finally:
        store.close()
    again = AccessStore.open(path)  # on disk, whole: opened as it is, nothing set aside
    try:
        assert again.on_disk
        assert [r.id for r in again.pending_log(10)] == ["record-0001", "record-0002"]
        assert not (tmp_path / f"{FILE_NAME}.damaged-2").exists()
    finally:
        again.close()


@pytest.mark.mosquitto
async def test_a_damaged_access_file_still_opens_doors_and_logs_them_at_the_hub(
    edge_settings: EdgeSettings,  # noqa: F811
    hub_settings: HubSettings,  # noqa: F811
    mosquitto: MosquittoProcess,
) -> None:
    """The access file turns to garbage under the running edge, the doors quiet. The hub link's
    next read of the access log moves the store into memory and the operator is told; then
    Carol, enrolled since, opens the gate with her card and her entry reaches the hub."""
    async with enrolled_site(edge_settings, hub_settings, mosquitto) as (http, reader, agent, _):
        # Its first write (due every 5 min after) would move the store on the old code too.
        await eventually(lambda: agent.access.store.load_floor() is not None, "the floor stored")
        with agent.access.store._lock:
            damage_everything(edge_settings.data_dir / FILE_NAME)

        # On the old code the link's read failed and it reconnected for ever, telling nobody.
        await told_access_in_memory(http)
        await eventually(lambda: agent.counters[REFUSED] == 1, "the refusal counted")
        carol = await enrol_carol(http)
        await in_sync(http, agent)
        assert (await reader.present(CAROL_CARD)).command is ReaderAction.UNLOCK
        assert (await reader.present(BOB_CARD)).command is ReaderAction.UNLOCK

        async def carol_logged() -> bool:
            log = await ok(await http.get("/api/v1/access/log", params={"person_id": carol}))
            return [r["kind"] for r in log["items"]] == ["granted"]

        await until(carol_logged, "Carol's entry in the hub's access log", timeout_s=20)
        await eventually(lambda: agent.access.store.log_depth() == 0, "the log acknowledged")
        assert not agent.access.store.on_disk
        assert agent.counters["local_connects"] == 1  # the device session never dropped


async def told_access_in_memory(http: httpx.AsyncClient) -> None:
    """Wait until the hub's API says the edge's access store is in memory (the status)."""

    async def told() -> bool:
        edges = (await ok(await http.get("/api/v1/edges")))["items"]
        return [e["in_memory"] for e in edges] == [["access"]]

    await until(told, "the hub told that the access store is in memory", timeout_s=20)


async def enrol_carol(http: httpx.AsyncClient) -> int:
    """Enrol Carol, a new resident, in the residents' group with her card; return her id."""
    api = "/api/v1/access"
    (group,) = (await ok(await http.get(f"{api}/groups", params={"edge_id": EDGE})))["items"]
    person = await ok(
        await http.post(
            f"{api}/people", json={"edge_id": EDGE, "name": "Carol", "group_ids": [group["id"]]}
        )
    )
    await ok(
        await http.post(
            f"{api}/people/{person['id']}/credentials",
            json={"kind": "card", "value": CAROL_CARD},
        )
    )
    person_id: int = person["id"]
    return person_id


@pytest.mark.mosquitto
async def test_an_edge_whose_access_file_was_damaged_while_off_starts_and_opens_doors(
    edge_settings: EdgeSettings,  # noqa: F811
    hub_settings: HubSettings,  # noqa: F811
    mosquitto: MosquittoProcess,
) -> None:
    """The old code's agent raised in its constructor (the allow-list's read)."""
    path = edge_settings.data_dir / FILE_NAME
    held = AccessStore.open(path)
    held.apply(0, snapshot(3, card(1, "AA01")))
    held.close()
    damage_a_table(path, "items")

    async with enrolled_site(edge_settings, hub_settings, mosquitto) as (http, reader, agent, _):
        assert (await reader.present(BOB_CARD)).command is ReaderAction.UNLOCK
        assert agent.access.store.on_disk  # the damaged file set aside, a new one started
        assert (path.parent / f"{FILE_NAME}.damaged-1").exists()

        async def told_on_disk() -> bool:
            edges = (await ok(await http.get("/api/v1/edges")))["items"]
            return [e["in_memory"] for e in edges] == [[]]

        await until(told_on_disk, "the hub told that every store is on disk", timeout_s=20)
