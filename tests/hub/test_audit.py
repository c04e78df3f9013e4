"""The audit chain: pure hashing and checking, then the repository on SQLite and PostgreSQL."""

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, event, text

from devices.kinds import AlertKind
from hub.audit.chain import GENESIS_HASH, AuditRecord, ChainVerifier, canonical, chain, link_hash
from hub.cases.rules import CaseAction, Resolution
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device


def records(n: int) -> list[AuditRecord]:
    return [
        AuditRecord(ts=T0 + timedelta(seconds=i), action="alert_stored", alert_id=f"a{i}")
        for i in range(n)
    ]


def test_a_chain_links_each_entry_to_the_previous_hash() -> None:
    entries = chain(records(3), 0, GENESIS_HASH)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert len({e.hash for e in entries}) == 3
    # Appending later continues the same chain as appending all at once.
    first, rest = chain(records(1), 0, GENESIS_HASH), records(3)[1:]
    assert chain(rest, 1, first[0].hash) == entries[1:]


def test_an_entrys_bytes_and_hash_stay_what_they_were() -> None:
    """The hashes already stored were made from these bytes: any change to how an entry is
    written down (key order, separators, escaping, non-ASCII, numbers, time zone) would make
    every existing chain look tampered with. Pinned from the first implementation
    (``json.dumps`` with sorted keys, compact separators, UTF-8)."""
    record = AuditRecord(
        ts=datetime(2026, 11, 20, 8, 30, 0, 123456, tzinfo=timezone(timedelta(hours=8))),
        action="case_resolved",
        case_id=42,
        actor="王 (operator)",
    )
    detail = {
        "note": '厨房 "smoke" ✓\n',
        "values": {"co_ppm": 35.5, "n": 3, "ok": True},
        "gone": None,
    }
    body = canonical(7, record, "ab" * 32, detail)
    assert (
        body
        == (
            '{"action":"case_resolved","actor":"王 (operator)","alert_id":null,"case_id":42,'
            '"detail":{"gone":null,"note":"厨房 \\"smoke\\" ✓\\n","values":{"co_ppm":35.5,"n":3,'
            '"ok":true}},"prev_hash":"' + "ab" * 32 + '","seq":7,'
            '"ts":"2026-11-20T00:30:00.123456+00:00"}'
        ).encode()
    )
    assert (
        link_hash("ab" * 32, body)
        == "a993b246bc73b1ab23b07b6821410bbd9d54b0ef20dc6829b3f5417f8f55e513"
    )


def test_the_verifier_accepts_an_intact_chain_fed_in_pages() -> None:
    entries = chain(records(5), 0, GENESIS_HASH)
    verifier = ChainVerifier()
    assert verifier.feed(entries[:2])
    assert verifier.feed(entries[2:])
    verdict = verifier.finish(5, entries[-1].hash)
    assert (verdict.intact, verdict.checked) == (True, 5)
    assert verdict.describe() == "audit chain intact: 5 entries"


def test_the_verifier_names_the_first_broken_link() -> None:
    entries = chain(records(5), 0, GENESIS_HASH)
    edited = [*entries]
    edited[2] = dataclasses.replace(entries[2], actor="mallory")
    verifier = ChainVerifier()
    assert not verifier.feed(edited)
    verdict = verifier.finish(5, entries[-1].hash)
    assert (verdict.intact, verdict.checked, verdict.broken_seq) == (False, 2, 3)
    assert verdict.reason == "its content does not match its hash (edited)"

    # A forged entry hashed correctly on its own still breaks the link after it.
    edited[2] = chain([AuditRecord(ts=T0, action="forged")], 2, entries[1].hash)[0]
    forged = ChainVerifier()
    forged.feed(edited)
    assert forged.finish(5, entries[-1].hash).broken_seq == 4

    missing = ChainVerifier()
    missing.feed([*entries[:1], *entries[2:]])
    assert missing.finish(5, entries[-1].hash).reason == "entry 2 is missing"

    short = ChainVerifier()
    short.feed(entries[:4])
    cut = short.finish(5, entries[-1].hash)
    assert (cut.intact, cut.broken_seq) == (False, 5)


# --- the repository ---------------------------------------------------------------------


def fill(store: HubStore, clock: FakeClock) -> int:
    """Store some alerts and act on the case; return the case id."""
    store.fleet.register_device(make_device("b3-1201-smoke"))
    alerts = [make_alert(device_id="b3-1201-smoke") for _ in range(3)]
    [case] = store.intake.ingest_alerts(alerts, clock.now).cases_opened
    store.cases.act(case.id, CaseAction.ACKNOWLEDGE, note="seen", actor="op-1")
    store.cases.act(
        case.id, CaseAction.RESOLVE, note="toast", resolution=Resolution.NUISANCE, actor="op-1"
    )
    return case.id


def test_every_alert_decision_and_action_is_on_the_chain(store: HubStore, clock: FakeClock) -> None:
    case_id = fill(store, clock)
    entries = store.audit.list_audit(limit=1000)
    assert [e.action for e in entries] == [
        "alert_stored",
        "alert_stored",
        "alert_stored",
        "opened",
        "alert_attached",
        "alert_attached",
        "acknowledged",
        "resolved",
    ]
    assert [e.seq for e in entries] == list(range(1, 9))
    resolved = entries[-1]
    assert (resolved.case_id, resolved.actor) == (case_id, "op-1")
    assert resolved.detail == {
        "from": "acknowledged",
        "to": "resolved",
        "resolution": "nuisance",
        "note": "toast",
    }
    assert store.audit.list_audit(after_seq=6, limit=1)[0].seq == 7
    assert store.audit.verify_audit().intact
    assert store.audit.verify_audit(page_size=3).checked == 8


@pytest.mark.parametrize(
    ("tamper", "broken_seq"),
    [
        ("UPDATE audit_log SET actor = 'someone else' WHERE seq = 7", 7),
        ("UPDATE audit_log SET ts = ts + INTERVAL '1 second' WHERE seq = 2", 2),
        ("DELETE FROM audit_log WHERE seq = 5", 5),
        ("DELETE FROM audit_log WHERE seq = 8", 8),
        ("UPDATE audit_head SET seq = 7", 8),
    ],
)
def test_a_row_edited_by_hand_breaks_the_chain_there(
    engine: Engine, store: HubStore, clock: FakeClock, tamper: str, broken_seq: int
) -> None:
    fill(store, clock)
    if engine.dialect.name == "sqlite":
        tamper = tamper.replace("ts + INTERVAL '1 second'", "datetime(ts, '+1 second')")
    with engine.begin() as conn:
        conn.execute(text(tamper))
    verdict = store.audit.verify_audit(page_size=3)
    assert not verdict.intact
    assert verdict.broken_seq == broken_seq
    assert f"broken at entry {broken_seq}" in verdict.describe()


def test_a_refused_action_appends_nothing(store: HubStore, clock: FakeClock) -> None:
    case_id = fill(store, clock)
    before = store.db.count_rows()["audit_log"]
    with pytest.raises(Exception, match="closed or reopened"):
        store.cases.act(case_id, CaseAction.ACKNOWLEDGE, actor="op-2")
    assert store.db.count_rows()["audit_log"] == before


def test_parallel_writers_never_fork_the_chain(engine: Engine) -> None:
    """Workers on their own connections (like hub processes) append at the same time."""
    workers, rounds = 6, 5
    HubStore(engine).fleet.register_device(make_device("b3-1201-smoke"))
    HubStore(engine).fleet.register_device(
        make_device("b5-gas", kind=make_device().kind, location="Building 5/Floor 1/Unit 101")
    )
    barrier = threading.Barrier(workers)

    def work(n: int) -> None:
        store = HubStore(engine)
        barrier.wait()
        for _ in range(rounds):
            device = "b3-1201-smoke" if n % 2 else "b5-gas"
            store.intake.ingest_alerts(
                [make_alert(device_id=device, kind=AlertKind.SMOKE)], datetime.now(UTC)
            )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(work, n) for n in range(workers)]:
            future.result()
    store = HubStore(engine)
    verdict = store.audit.verify_audit()
    assert verdict.intact, verdict.describe()
    # Per alert: stored, plus opened or attached.
    assert verdict.checked == 2 * workers * rounds
    assert store.db.count_rows()["cases"] == 2


def test_an_append_reads_the_head_only_when_another_writer_moved_it(engine: Engine) -> None:
    """Each store guesses the head it last wrote; a stale guess is caught, never forks."""
    HubStore(engine).fleet.register_device(make_device("b3-1201-smoke"))
    first, second = HubStore(engine), HubStore(engine)
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", seen)
    try:

        def ingest(store: HubStore) -> list[str]:
            statements.clear()
            store.intake.ingest_alerts(
                [make_alert(device_id="b3-1201-smoke", kind=AlertKind.SMOKE)], datetime.now(UTC)
            )
            return [s for s in statements if "audit_head" in s]

        # PostgreSQL moves the head in the WITH clause of the entries' insert (one statement).
        move = "WITH" if engine.dialect.name == "postgresql" else "UPDATE"
        assert any(s.startswith("SELECT") for s in ingest(first))  # no guess yet: read
        warm = ingest(first)
        assert [s.split()[0] for s in warm] == [move]  # its own head: no read
        stale = ingest(second)  # its first: reads
        assert any(s.startswith("SELECT") for s in stale)
        moved = ingest(first)  # its guess is stale now: the move misses, then it reads
        assert [s.split()[0] for s in moved] == [move, "SELECT", "UPDATE"]
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    verdict = HubStore(engine).audit.verify_audit()
    assert verdict.intact, verdict.describe()
    assert verdict.checked == 8  # 4 alerts: stored, plus opened or attached
