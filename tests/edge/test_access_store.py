"""The edge's durable allow-list and access-log outbox."""

import contextlib
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.access import (
    SITE_KEY,
    AccessEventKind,
    AccessItem,
    AccessListUpdate,
    AccessRecord,
    AccessRule,
    AllowEntry,
    CredentialKind,
    DoorConfig,
    SiteAccess,
    credential_hash,
)
from edge.access.decision import Direction
from edge.access.store import AccessStore, AccessStoreError, UpdateOutcome

KEY_HEX = "11" * 32
SITE = SiteAccess(timezone="Asia/Shanghai", hash_key=KEY_HEX)
GATE = DoorConfig(id="gate", reader_id="gate-reader", exit_reader_id="gate-exit", contact_id="gd")


def card(credential_id: int, number: str) -> AllowEntry:
    return AllowEntry(
        credential_id=credential_id,
        person_id=100 + credential_id,
        kind=CredentialKind.CARD,
        hash=credential_hash(bytes.fromhex(KEY_HEX), CredentialKind.CARD, number),
        rules=(AccessRule(doors=frozenset({"gate"})),),
    )


def snapshot(version: int, *entries: AllowEntry) -> AccessListUpdate:
    return AccessListUpdate(
        edge_id="edge-1",
        from_version=0,
        to_version=version,
        full=True,
        items=[
            AccessItem(key=SITE_KEY, version=1, body=SITE),
            AccessItem(key="door:gate", version=1, body=GATE),
            *(AccessItem(key=f"cred:{e.credential_id}", version=version, body=e) for e in entries),
        ],
    )


def test_a_snapshot_then_deltas_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "access.sqlite3"
    store = AccessStore.open(path)
    assert store.apply(0, snapshot(3, card(1, "AA01"), card(2, "AA02"))) is UpdateOutcome.APPLIED
    revoke = AccessListUpdate(
        edge_id="edge-1",
        from_version=3,
        to_version=4,
        items=[
            AccessItem(key="cred:1", version=4, body=None),
            AccessItem(key="cred:3", version=4, body=card(3, "AA03")),
        ],
    )
    assert store.apply(3, revoke) is UpdateOutcome.APPLIED
    store.close()

    allow = AccessStore.open(path).load()
    assert allow.version == 4
    assert len(allow) == 2
    assert allow.lookup(CredentialKind.CARD, "aa03")[1] == card(3, "AA03")
    assert allow.lookup(CredentialKind.CARD, "AA01")[1] is None
    assert allow.lookup(CredentialKind.PIN, "AA02")[1] is None  # same text, other kind
    assert allow.reader("gate-exit") is not None
    role = allow.reader("gate-exit")
    assert role is not None
    assert (role.door.id, role.direction) == ("gate", Direction.EXIT)
    assert allow.reader("lobby-reader") is None
    assert allow.door_of_contact("gd") == GATE
    assert str(allow.zone) == "Asia/Shanghai"


def test_updates_out_of_order_are_refused_as_stale_or_gap(tmp_path: Path) -> None:
    store = AccessStore.open(tmp_path / "a.sqlite3")
    store.apply(0, snapshot(5, card(1, "AA01")))
    old = AccessListUpdate(edge_id="edge-1", from_version=3, to_version=5)
    skip = AccessListUpdate(edge_id="edge-1", from_version=6, to_version=7)
    assert store.apply(5, old) is UpdateOutcome.STALE
    assert store.apply(5, skip) is UpdateOutcome.GAP
    assert store.apply(5, snapshot(5)) is UpdateOutcome.STALE
    # A lower snapshot that does not answer the version held is an old one: refused.
    assert store.apply(5, snapshot(2)) is UpdateOutcome.STALE
    # One that answers it is the truth of a hub whose database was replaced.
    restored = snapshot(2).model_copy(update={"from_version": 5})
    assert store.apply(5, restored) is UpdateOutcome.APPLIED
    assert store.load().version == 2
    assert len(store.load()) == 0


def test_the_access_log_is_kept_until_acknowledged_and_stored_once_per_id(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    store = AccessStore.open(path)
    records = [denied(i) for i in range(5)]
    store.record(records[:3])
    store.record(records)  # the first three again: ignored
    assert store.log_depth() == 5
    assert [r.id for r in store.pending_log(2)] == ["record-0000", "record-0001"]
    assert store.acknowledge(["record-0000", "record-0001", "unknown-0000"]) == 2
    store.close()
    again = AccessStore.open(path)
    assert [r.id for r in again.pending_log(10)] == ["record-0002", "record-0003", "record-0004"]


def test_a_store_of_an_unknown_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=99")
    with pytest.raises(AccessStoreError):
        AccessStore.open(path)


def test_a_damaged_access_file_is_set_aside_and_the_edge_starts(tmp_path: Path) -> None:
    """A power cut mid-write left the access file zeroed: the store (and with it the whole
    agent, every alarm included) failed to open at every start. Now it is set aside and the
    edge starts with an empty allow-list at version 0, which the hub answers with a snapshot."""
    path = tmp_path / "access.sqlite3"
    path.write_bytes(b"\0" * 100 + b"power cut mid-write" * 300)
    store = AccessStore.open(path)  # must not raise
    try:
        assert store.load().version == 0
        assert store.apply(0, snapshot(3, card(1, "AA01"))) is UpdateOutcome.APPLIED
        assert store.load().version == 3
    finally:
        store.close()
    assert (tmp_path / "access.sqlite3.damaged-1").exists()
    reopened = AccessStore.open(path)
    assert reopened.load().version == 3
    reopened.close()


def test_an_access_file_that_cannot_be_written_is_read_into_memory_and_fetched_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "access.sqlite3"
    store = AccessStore.open(path)
    store.apply(0, snapshot(3, card(1, "AA01"), card(2, "AA02")))
    floor = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    store.save_floor(floor)
    store.record([], [("gate", '{"open": false}')])
    store.close()
    # WAL mode cannot work without its shared-memory file (as on a card remounted read-only).
    path.with_name(path.name + "-shm").mkdir()

    store = AccessStore.open(path)  # must not raise
    try:
        held = store.load()
        # What could be read is used, but at version 0: the hub sends the allow-list whole.
        assert held.version == 0
        assert held.site is not None
        assert set(held.doors) == {"gate"}
        assert held.lookup(CredentialKind.CARD, "AA02")[1] is not None
        assert store.load_floor() == floor
        assert store.door_states() == {"gate": '{"open": false}'}
    finally:
        store.close()


def denied(i: int) -> AccessRecord:
    return AccessRecord(
        id=f"record-{i:04d}",
        edge_id="edge-1",
        door_id="gate",
        kind=AccessEventKind.DENIED,
        ts=datetime(2026, 12, 7, tzinfo=UTC),
        reason="unknown_credential",
    )


def fill_the_card(store: AccessStore) -> None:
    """Make the access file unable to grow by a page, as on a full SD card, and fill the room
    its log's and doors' pages have left (with rows named ``filler-``)."""
    db: sqlite3.Connection = store._db
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")
    for table in ("log (id, body)", "doors (door_id, state)"):
        for size in (4000, 400, 40, 1):
            with contextlib.suppress(sqlite3.OperationalError):
                while True:
                    db.execute(
                        f"INSERT INTO {table} VALUES ('filler-' || hex(randomblob(8)), ?)",
                        ("x" * size,),
                    )


def mine(ids: Iterable[str]) -> list[str]:
    return [i for i in ids if not i.startswith("filler-")]


def test_a_door_record_on_a_full_card_is_kept_in_memory_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    """A door's record the full disk refused failed the door's step, whose frame was then never
    acknowledged: the edge's device session reconnected for ever, every alarm behind it. Now the
    store moves into memory with what it held, and the write goes there."""
    store = AccessStore.open(tmp_path / "access.sqlite3")
    try:
        store.apply(0, snapshot(3, card(1, "AA01")))
        store.record([denied(1)], [("gate", '{"open": true}')])
        fill_the_card(store)

        store.record([denied(2)], [("gate", '{"open": false}')])  # must not raise

        assert not store.on_disk
        assert mine(r.id for r in store.pending_log(10_000)) == ["record-0001", "record-0002"]
        assert store.door_states()["gate"] == '{"open": false}'
        assert store.load().lookup(CredentialKind.CARD, "AA01")[1] is not None
        assert store.acknowledge(["record-0001"]) == 1
        store.save_floor(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
        assert mine(r.id for r in store.pending_log(10_000)) == ["record-0002"]
    finally:
        store.close()


def test_a_statements_own_error_still_raises(tmp_path: Path) -> None:
    store = AccessStore.open(tmp_path / "access.sqlite3")
    try:
        store._db.execute("DROP TABLE log")
        with pytest.raises(AccessStoreError):
            store.record([denied(1)])
        assert store.on_disk
    finally:
        store.close()
