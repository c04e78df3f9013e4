"""The audit chain's anchors (``hub.audit.anchors``): someone who can write the database
rewrites the chain from an edited entry (every later hash computed again, the head moved),
which the chain alone cannot tell; the anchors the hub signed with a key the database does
not hold can. On SQLite and PostgreSQL, through the repository, the HTTP API and the CLI."""

import stat
from dataclasses import fields
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, delete, select
from sqlalchemy.orm import Session

from hub.audit.anchoring import AnchorWatch
from hub.audit.anchors import ANCHOR_KEY_FILE, AnchorCheck, key_id, make_anchor
from hub.audit.chain import (
    GENESIS_HASH,
    AnchorsChecked,
    AuditEntry,
    AuditRecord,
    canonical,
    link_hash,
)
from hub.persistence.engine import create_hub_engine, migrate
from hub.persistence.tables import AuditAnchorRow, AuditEntryRow, AuditHeadRow
from hub.persistence.transactions import AUDIT_HEAD_ID
from hub.settings import HubSettings
from hub.store import HubStore
from tests.cli import run_linli
from tests.hub.conftest import FakeClock, hub_app
from tests.hub.factories import T0
from tests.hub.http import api_client

KEY = b"an anchor key of thirty-two byte"
OTHER_KEY = b"another key, somebody else's ..."


def record(n: int, clock: FakeClock) -> AuditRecord:
    return AuditRecord(ts=clock.advance(1), action="roster_changed", actor="op", detail={"n": n})


def rewrite(engine: Engine, seq: int, detail: dict[str, Any]) -> None:
    """Edit entry ``seq`` and write the chain again from it, head included, as someone who
    can write the database and knows the (documented) formula would."""
    with Session(engine) as session, session.begin():
        rows = list(session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.seq)))
        prev = GENESIS_HASH if seq == 1 else rows[seq - 2].hash
        for row in rows[seq - 1 :]:
            if row.seq == seq:
                row.detail = detail
            row.prev_hash = prev
            entry = AuditEntry(**{f.name: getattr(row, f.name) for f in fields(AuditEntry)})
            row.hash = prev = link_hash(prev, canonical(row.seq, entry, prev, row.detail))
        session.get_one(AuditHeadRow, AUDIT_HEAD_ID).hash = prev


def test_a_chain_written_again_from_an_edited_entry_is_caught_by_its_anchor(
    store: HubStore, engine: Engine, clock: FakeClock
) -> None:
    for n in range(5):
        store.audit.append(record(n, clock))
    anchored_at = clock.advance(1)
    assert store.audit.anchor(KEY, anchored_at)
    assert not store.audit.anchor(KEY, clock.advance(60))  # the head has not moved
    store.audit.append(record(5, clock))
    intact = store.audit.verify_audit(key=KEY)
    assert intact.intact
    assert intact.anchors == AnchorsChecked(checked=1, latest_seq=5, latest_at=anchored_at)
    assert "1 anchors checked, the latest at entry 5" in intact.describe()

    rewrite(engine, 2, {"n": "nothing happened"})
    # The chain alone: the rewrite holds.
    assert store.audit.verify_audit().intact
    # Its anchor: entry 5 is no longer the one the hub signed.
    caught = store.audit.verify_audit(key=KEY)
    assert (caught.intact, caught.broken_seq) == (False, 5)
    assert caught.reason is not None
    assert "written again after it was anchored" in caught.reason


def test_an_anchor_forged_without_the_key_is_named(
    store: HubStore, engine: Engine, clock: FakeClock
) -> None:
    for n in range(3):
        store.audit.append(record(n, clock))
    store.audit.anchor(KEY, clock())
    rewrite(engine, 1, {"n": "nothing happened"})
    # The rewriter removes the true anchor and signs the new head as best they can.
    with Session(engine) as session, session.begin():
        session.execute(delete(AuditAnchorRow))
        head = session.get_one(AuditHeadRow, AUDIT_HEAD_ID)
        forged = make_anchor(OTHER_KEY, head.seq, head.hash, clock())
        session.add(
            AuditAnchorRow(seq=3, hash=head.hash, ts=forged.ts, key_id=key_id(KEY), mac=forged.mac)
        )
    caught = store.audit.verify_audit(key=KEY)
    assert (caught.intact, caught.broken_seq) == (False, 3)
    assert caught.reason is not None
    assert "forged" in caught.reason


def test_entries_removed_from_the_end_after_an_anchor_are_named(
    store: HubStore, engine: Engine, clock: FakeClock
) -> None:
    for n in range(4):
        store.audit.append(record(n, clock))
    store.audit.anchor(KEY, clock())
    with Session(engine) as session, session.begin():
        third = session.scalars(select(AuditEntryRow).where(AuditEntryRow.seq == 3)).one()
        session.execute(delete(AuditEntryRow).where(AuditEntryRow.seq == 4))
        head = session.get_one(AuditHeadRow, AUDIT_HEAD_ID)
        head.seq, head.hash = 3, third.hash
    assert store.audit.verify_audit().intact  # the chain alone: a shorter, whole chain
    caught = store.audit.verify_audit(key=KEY)
    assert (caught.intact, caught.broken_seq) == (False, 4)
    assert caught.reason is not None
    assert "removed after they were anchored" in caught.reason


def test_anchors_of_another_key_are_counted_not_checked(store: HubStore, clock: FakeClock) -> None:
    store.audit.append(record(0, clock))
    store.audit.anchor(OTHER_KEY, clock())
    verdict = store.audit.verify_audit(key=KEY)
    assert verdict.intact
    assert verdict.anchors == AnchorsChecked(checked=0, other_keys=1)
    assert "no anchor of this hub's key; 1 of another key not checked" in verdict.describe()


def test_a_check_names_the_entry_and_the_anchor_on_plain_values() -> None:
    anchors = [make_anchor(KEY, 2, "b" * 64, T0), make_anchor(KEY, 3, "c" * 64, T0)]
    check = AnchorCheck(KEY)
    check.add([*anchors, make_anchor(OTHER_KEY, 1, "x" * 64, T0)])
    assert check.entry(1, "a" * 64)
    assert check.entry(2, "b" * 64)
    assert not check.entry(3, "d" * 64)
    assert check.found is not None
    assert check.found.seq == 3
    assert check.checked == 1


def test_the_hub_makes_its_key_once_and_the_api_and_the_cli_check_its_anchors(
    database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "hub"
    settings = HubSettings(data_dir=data_dir, database_url=database_url)
    engine = create_hub_engine(database_url)
    migrate(engine)
    clock = FakeClock()
    store = HubStore(engine, clock=clock)
    for n in range(3):
        store.audit.append(record(n, clock))
    watch = AnchorWatch(store.audit, settings, clock=clock, interval=60)
    assert watch.anchor_once()
    key_file = data_dir / ANCHOR_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    made = key_file.read_bytes()
    store.audit.append(record(3, clock))
    assert watch.anchor_once()
    assert key_file.read_bytes() == made  # made once, then read
    engine.dispose()

    intact = run_linli(
        "audit", "verify", "--database-url", database_url, "--data-dir", str(data_dir)
    )
    assert intact.returncode == 0, intact.stderr
    assert (
        "audit chain intact: 4 entries; 2 anchors checked, the latest at entry 4" in intact.stdout
    )
    unkeyed = run_linli(
        "audit", "verify", "--database-url", database_url, "--data-dir", str(tmp_path)
    )
    assert "anchors not checked (no anchor key here)" in unkeyed.stdout

    rewrite(create_engine(database_url), 1, {"n": "nothing happened"})
    caught = run_linli(
        "audit", "verify", "--database-url", database_url, "--data-dir", str(data_dir)
    )
    assert caught.returncode == 1
    assert "audit chain broken at entry 3" in caught.stdout
    assert "written again after it was anchored" in caught.stdout


async def test_the_api_says_what_the_anchors_said(database_url: str, tmp_path: Path) -> None:
    app: FastAPI = hub_app(database_url, tmp_path)
    async with api_client(app) as client:
        store: HubStore = app.state.store
        clock = FakeClock(T0 + timedelta(days=1))
        store.audit.append(record(0, clock))
        AnchorWatch(store.audit, app.state.settings, clock=clock, interval=60).anchor_once()
        verdict = (await client.get("/api/v1/audit/verify")).json()
    assert verdict["intact"] is True
    anchors = verdict["anchors"]
    assert (anchors["checked"], anchors["latest_seq"], anchors["other_keys"]) == (1, 2, 0)
