"""The records the audit trail vouches for (``hub.audit.records``): someone with database
access edits, deletes, adds or back-dates an alert or a case's history line and leaves the
chain alone. Before this check ``verify`` read the chain only and said "intact" (found by an
outside review). Raw SQL on SQLite and PostgreSQL plays the tamperer."""

from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from hub.audit.chain import AuditEntry
from hub.audit.records import ALERTS, EVENTS, RecordCheck, entry_record
from hub.cases.rules import CaseAction, Resolution
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device


def fill(store: HubStore, clock: FakeClock) -> tuple[int, list[str]]:
    """Store three alerts and act on their case (entries 1-8: three ``alert_stored``,
    ``opened``, two ``alert_attached``, ``acknowledged``, ``resolved``)."""
    store.fleet.register_device(make_device("b3-1201-smoke"))
    alerts = [make_alert(device_id="b3-1201-smoke") for _ in range(3)]
    [case] = store.intake.ingest_alerts(alerts, clock.now).cases_opened
    clock.advance(30)
    store.cases.act(case.id, CaseAction.ACKNOWLEDGE, note="seen", actor="op-1")
    clock.advance(30)
    store.cases.act(
        case.id, CaseAction.RESOLVE, note="toast", resolution=Resolution.NUISANCE, actor="op-1"
    )
    return case.id, sorted(a.id for a in alerts)


def test_an_untouched_trail_and_its_records_verify(store: HubStore, clock: FakeClock) -> None:
    fill(store, clock)
    verdict = store.audit.verify_audit(page_size=3)
    assert verdict.intact, verdict.describe()
    assert verdict.checked == 8


@pytest.mark.parametrize(
    ("tamper", "broken_seq", "said"),
    [
        # A resolution taken out of the history, or its note rewritten.
        ("DELETE FROM case_events WHERE action = 'resolved'", 8, "history line"),
        ("UPDATE case_events SET note = 'real fire' WHERE action = 'resolved'", 8, "history line"),
        # An acknowledgement back-dated by ten minutes.
        ("UPDATE case_events SET ts = :early WHERE action = 'acknowledged'", 7, "history line"),
        # The actor changed: someone else acknowledged.
        ("UPDATE case_events SET actor = 'op-2' WHERE action = 'acknowledged'", 7, "history line"),
        # An alert deleted, its kind changed.
        ("DELETE FROM alerts WHERE id = :first", 1, "alert"),
        ("UPDATE alerts SET kind = 'tamper' WHERE id = :first", 1, "alert"),
        ("UPDATE alerts SET received_at = :early WHERE id = :first", 1, "alert"),
    ],
)
def test_a_record_edited_behind_the_chain_breaks_the_trail_at_its_entry(
    engine: Engine, store: HubStore, clock: FakeClock, tamper: str, broken_seq: int, said: str
) -> None:
    _, alert_ids = fill(store, clock)
    # The first stored alert is entry 1 (entries of a take are chained in id order).
    first = store.audit.list_audit(limit=1)[0].alert_id
    assert first in alert_ids
    with engine.begin() as conn:
        given = {"early": T0 - timedelta(minutes=10), "first": first}
        conn.execute(text(tamper), {k: v for k, v in given.items() if f":{k}" in tamper})
    verdict = store.audit.verify_audit(page_size=3)
    assert not verdict.intact
    assert verdict.broken_seq == broken_seq, verdict.describe()
    assert said in (verdict.reason or "")


@pytest.mark.parametrize("table", ["case_events", "alerts"])
def test_a_record_added_behind_the_chain_breaks_the_trail(
    engine: Engine, store: HubStore, clock: FakeClock, table: str
) -> None:
    case_id, [first, *_] = fill(store, clock)
    with engine.begin() as conn:
        if table == "case_events":
            conn.execute(
                text(
                    "INSERT INTO case_events (case_id, ts, action, note, actor)"
                    " VALUES (:case, :ts, 'commented', 'all clear, no one home', 'op-1')"
                ),
                {"case": case_id, "ts": T0 + timedelta(seconds=45)},
            )
        else:
            columns = (
                "edge_id, device_id, kind, state, severity, ts, detected_at, received_at,"
                " location, reason, case_id"
            )
            conn.execute(
                text(
                    f"INSERT INTO alerts (id, {columns}) SELECT 'forged', {columns}"
                    " FROM alerts WHERE id = :first"
                ),
                {"first": first},
            )
    verdict = store.audit.verify_audit(page_size=3)
    assert not verdict.intact
    assert table in (verdict.reason or ""), verdict.describe()
    assert verdict.broken_seq is None
    assert verdict.describe().startswith("audit trail broken:")


def test_each_kind_of_entry_names_the_record_it_vouches_for() -> None:
    stored = AuditEntry(
        seq=1,
        ts=T0,
        action="alert_stored",
        case_id=None,
        alert_id="a1",
        actor=None,
        detail={
            "edge_id": "e",
            "device_id": "d",
            "kind": "smoke",
            "state": "raised",
            "severity": "critical",
            "ts": T0.isoformat(),
        },
        prev_hash="0" * 64,
        hash="1" * 64,
    )
    event = AuditEntry(
        seq=2,
        ts=T0,
        action="resolved",
        case_id=3,
        alert_id=None,
        actor="op",
        detail={"from": "acknowledged", "to": "resolved", "note": "toast"},
        prev_hash="1" * 64,
        hash="2" * 64,
    )
    other = AuditEntry(
        seq=3,
        ts=T0,
        action="roster_changed",
        case_id=None,
        alert_id=None,
        actor="op",
        detail={},
        prev_hash="2" * 64,
        hash="3" * 64,
    )
    stored_record = entry_record(stored)
    assert stored_record is not None
    assert stored_record[0] == ALERTS
    assert entry_record(event) == (EVENTS, (3, T0, "resolved", "op", None, "toast"))
    assert entry_record(other) is None
    check = RecordCheck()
    assert not check.page([stored, event], {ALERTS: [], EVENTS: []})
    assert check.found is not None
    assert check.found.seq == 1
