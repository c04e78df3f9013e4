"""The anchor witness (``hub.audit.witness``): the anchor the hub wrote last, kept in its
data folder, outside the database. Someone who can write the database (a PostgreSQL admin, a
restored dump) rewrites the chain from an entry, or cuts its end, and deletes the anchors
from there on: the anchors left check out, and before the witness the hub's next anchor
signed the rewritten head (found by an outside review). On SQLite and PostgreSQL."""

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from hub.app import create_app
from hub.audit.anchoring import AnchorWatch
from hub.audit.anchors import WITNESS_FILE, AnchorRefusedError
from hub.audit.key import anchor_key
from hub.audit.repository import verify_audit_chain
from hub.persistence.engine import create_hub_engine, migrate
from hub.settings import HubSettings
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.http import api_client
from tests.hub.test_audit_anchors import record, rewrite


def copy(source: Path, target: Path) -> None:
    """Copy a SQLite database as a backup tool does (its WAL included)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def anchored(database_url: str, data_dir: Path) -> tuple[HubStore, AnchorWatch, Engine]:
    """A hub with six entries, anchored at entries 3 and 6."""
    settings = HubSettings(data_dir=data_dir, database_url=database_url)
    engine = create_hub_engine(database_url)
    migrate(engine)
    clock = FakeClock()
    store = HubStore(engine, clock=clock)
    watch = AnchorWatch(store.audit, settings, clock=clock, interval=60)
    for n in range(6):
        store.audit.append(record(n, clock))
        if n in (2, 5):
            assert watch.anchor_once()
    return store, watch, engine


def test_the_hub_keeps_its_last_anchor_and_an_untouched_trail_verifies(
    database_url: str, tmp_path: Path
) -> None:
    store, watch, engine = anchored(database_url, tmp_path)
    assert (tmp_path / WITNESS_FILE).is_file()
    store.audit.append(record(6, FakeClock()))
    assert watch.anchor_once()  # the witness holds: the next anchor is signed
    verdict = verify_audit_chain(HubSettings(data_dir=tmp_path, database_url=database_url))
    assert verdict.intact, verdict.describe()
    engine.dispose()


def test_a_chain_rewritten_with_its_anchors_deleted_is_caught_and_not_signed(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, watch, engine = anchored(database_url, tmp_path)
    rewrite(create_engine(database_url), 2, {"n": "nothing happened"})
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_anchors WHERE seq >= 2"))
    store.audit.append(record(6, FakeClock()))  # the hub goes on appending to the rewrite
    with pytest.raises(AnchorRefusedError, match="written again"):
        watch.anchor_once()
    verdict = verify_audit_chain(HubSettings(data_dir=tmp_path, database_url=database_url))
    assert not verdict.intact
    assert verdict.broken_seq == 6, verdict.describe()
    assert "witness" in (verdict.reason or "")
    engine.dispose()


def test_the_end_cut_with_its_anchors_is_caught(database_url: str, tmp_path: Path) -> None:
    _, watch, engine = anchored(database_url, tmp_path)
    with engine.begin() as conn:
        head = conn.execute(text("SELECT hash FROM audit_log WHERE seq = 4")).scalar_one()
        conn.execute(text("DELETE FROM audit_log WHERE seq > 4"))
        conn.execute(text("DELETE FROM audit_anchors WHERE seq > 4"))
        conn.execute(text("UPDATE audit_head SET seq = 4, hash = :h"), {"h": head})
    with pytest.raises(AnchorRefusedError, match="entries were removed"):
        watch.anchor_once()
    verdict = verify_audit_chain(HubSettings(data_dir=tmp_path, database_url=database_url))
    assert not verdict.intact
    assert verdict.broken_seq == 5, verdict.describe()
    assert "entry 6 was anchored" in (verdict.reason or "")
    engine.dispose()


def test_only_the_latest_anchors_deleted_is_caught(database_url: str, tmp_path: Path) -> None:
    _, _, engine = anchored(database_url, tmp_path)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_anchors WHERE seq = 6"))
    verdict = verify_audit_chain(HubSettings(data_dir=tmp_path, database_url=database_url))
    assert not verdict.intact
    assert "anchors were deleted" in (verdict.reason or ""), verdict.describe()
    engine.dispose()


def test_a_witness_edited_by_hand_is_named(database_url: str, tmp_path: Path) -> None:
    _, _, engine = anchored(database_url, tmp_path)
    path = tmp_path / WITNESS_FILE
    path.write_text(path.read_text().replace('"seq": 6', '"seq": 60'))
    verdict = verify_audit_chain(HubSettings(data_dir=tmp_path, database_url=database_url))
    assert not verdict.intact
    assert "not signed with its key" in (verdict.reason or "")
    engine.dispose()


def test_every_anchor_deleted_is_caught_and_not_signed_over(
    database_url: str, tmp_path: Path
) -> None:
    _, watch, engine = anchored(database_url, tmp_path)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_anchors"))
    with pytest.raises(AnchorRefusedError, match="anchors were deleted"):
        watch.anchor_once()
    verdict = verify_audit_chain(HubSettings(data_dir=tmp_path, database_url=database_url))
    assert not verdict.intact
    assert "anchors were deleted" in (verdict.reason or ""), verdict.describe()
    engine.dispose()


def test_a_restored_backup_is_named_until_the_witness_is_moved_aside(tmp_path: Path) -> None:
    """A restore loses the entries after the backup: ``verify`` says so and the hub does not
    anchor; moving the witness aside (kept, it names what was lost) accepts the restore."""
    database = tmp_path / "hub.sqlite3"
    url = f"sqlite:///{database}"
    _, _, engine = anchored(url, tmp_path)
    backup = tmp_path / "backup.sqlite3"
    copy(database, backup)
    engine.dispose()
    _, _, engine = anchored(url, tmp_path)  # six more entries, anchored at 9 and 12
    engine.dispose()
    copy(backup, database)
    settings = HubSettings(data_dir=tmp_path, database_url=url)
    verdict = verify_audit_chain(settings)
    assert not verdict.intact
    assert "older copy of the database" in (verdict.reason or ""), verdict.describe()
    engine = create_hub_engine(url)
    clock = FakeClock()
    store = HubStore(engine, clock=clock)
    store.audit.append(record(7, clock))
    with pytest.raises(AnchorRefusedError, match="entries were removed"):
        AnchorWatch(store.audit, settings, clock=clock, interval=60).anchor_once()
    engine.dispose()
    (tmp_path / WITNESS_FILE).rename(tmp_path / "audit-anchor.lost")
    assert verify_audit_chain(settings).intact
    _, _, engine = anchored(url, tmp_path)
    assert (tmp_path / WITNESS_FILE).is_file()
    assert verify_audit_chain(settings).intact
    engine.dispose()


async def test_an_unreadable_witness_is_a_verdict_through_the_api_not_a_500(
    database_url: str, tmp_path: Path
) -> None:
    """The CLI said so already (exit 2); the API answered 500, and the console's audit page
    showed an error instead of the trail's state."""
    settings = HubSettings(data_dir=tmp_path, database_url=database_url, start_ingest=False)
    anchor_key(settings, make=True)
    (tmp_path / WITNESS_FILE).write_text("{not json")
    async with api_client(create_app(settings)) as admin:
        response = await admin.get("/api/v1/audit/verify")
    assert response.status_code == 200, response.text
    verdict = response.json()
    assert verdict["intact"] is False
    assert "witness" in verdict["reason"]
