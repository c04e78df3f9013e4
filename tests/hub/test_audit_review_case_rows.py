"""A case's own row checked against its history in the audit trail (``hub.audit.case_rows``).

Found by an outside review: someone with database access ran ``UPDATE cases SET status =
'resolved'`` on an open fire or SOS case (or lowered its priority or escalation level, or
emptied its team), wrote no history line and no audit entry, and ``linli audit verify`` said
"intact" while the console showed the alarm handled. Real cases opened through the hub's
intake, on SQLite and PostgreSQL; raw SQL plays the tamperer.
"""

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.audit.case_rows import CaseState, apply
from hub.audit.chain import AuditEntry
from hub.cases.rules import CaseAction, CaseStatus, Resolution
from hub.roster.rules import Grid, Responder, ResponderRole, Site
from hub.store import HubStore
from tests.cli import run_linli
from tests.hub.conftest import FakeClock, hub_app
from tests.hub.factories import T0, make_alert, make_device
from tests.hub.http import api_client

SOS = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON, edge_id="edge-b3")
SMOKE = make_device("b3-1201-smoke", edge_id="edge-b3")


@pytest.fixture
def staffed(store: HubStore) -> HubStore:
    """Lanyuan, its grid over building 3, three responders, an SOS button and a smoke alarm."""
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", edge_ids=["edge-b3"]))
    store.roster.put_grid(Grid(id="g-b3", site_id="lanyuan", name="B3", places=["Building 3"]))
    for rid, role in (
        ("wang", ResponderRole.GRID_WORKER),
        ("li", ResponderRole.SECURITY),
        ("zhao", ResponderRole.SECURITY),
    ):
        store.roster.put_responder(Responder(id=rid, site_id="lanyuan", name=rid, role=role))
    store.fleet.register_device(SOS)
    store.fleet.register_device(SMOKE)
    return store


def press(store: HubStore, clock: FakeClock) -> int:
    """Open an SOS case through the intake; return its id."""
    sos = make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=clock.now)
    [opened] = store.intake.ingest_alerts([sos], clock.now).cases_opened
    return opened.id


def escalated_sos(store: HubStore, clock: FakeClock) -> int:
    """An SOS nobody took on, escalated once by its deadline: open, dispatched, level 1."""
    case_id = press(store, clock)
    clock.advance(600)
    [escalated] = store.deadlines.fire_due_timers(clock.now)
    assert (escalated.id, escalated.escalation_level) == (case_id, 1)
    case = store.cases.get_case(case_id)
    assert case.status is not CaseStatus.RESOLVED
    assert case.team, "the SOS went to someone"
    return case_id


def verify(store: HubStore) -> tuple[bool, str]:
    verdict = store.audit.verify_audit(page_size=4)
    return verdict.intact, verdict.describe()


def test_a_case_lived_through_by_the_hub_verifies(staffed: HubStore, clock: FakeClock) -> None:
    """Every legitimate change of a case row has its line: opened, dispatched, escalated,
    declined, accepted, resolved, reopened by an alert more severe, merged, commented."""
    case_id = escalated_sos(staffed, clock)
    team = staffed.cases.get_case(case_id).team
    staffed.cases.act(case_id, CaseAction.DECLINE, actor=team[0].responder)
    staffed.cases.act(case_id, CaseAction.ACKNOWLEDGE, actor="op-1")
    staffed.cases.act(
        case_id, CaseAction.RESOLVE, resolution=Resolution.REAL, note="helped up", actor="op-1"
    )
    staffed.cases.act(case_id, CaseAction.COMMENT, note="family told", actor="op-1")
    smoke = make_alert(device_id=SMOKE.id, severity=Severity.MEDIUM, ts=clock.now)
    [fire] = staffed.intake.ingest_alerts([smoke], clock.now).cases_opened
    staffed.cases.act(
        fire.id, CaseAction.RESOLVE, resolution=Resolution.NUISANCE, note="toast", actor="op-1"
    )
    clock.advance(60)
    # The smoke comes back, worse, within the reopening window: reopened, priority raised.
    again = make_alert(device_id=SMOKE.id, severity=Severity.CRITICAL, ts=clock.now)
    staffed.intake.ingest_alerts([again], clock.now)
    reopened = staffed.cases.get_case(fire.id)
    assert reopened.status is not CaseStatus.RESOLVED
    assert reopened.priority is Severity.CRITICAL
    assert "reopened" in [e.action for e in reopened.events]
    intact, said = verify(staffed)
    assert intact, said


def _silenced(case_id: int) -> tuple[str, dict[str, Any]]:
    return (
        "UPDATE cases SET status = 'resolved', resolution = 'nuisance', resolved_at = :at,"
        " open_key = NULL WHERE id = :case_id",
        {"at": T0 + timedelta(minutes=11), "case_id": case_id},
    )


@pytest.mark.parametrize(
    ("tamper", "fields"),
    [
        # The alarm silenced: resolved, with no resolved line and no audit entry.
        ("silenced", ["status", "resolution", "resolved_at"]),
        ("UPDATE cases SET status = 'closed' WHERE id = :case_id", ["status"]),
        ("UPDATE cases SET priority = 'low' WHERE id = :case_id", ["priority"]),
        ("UPDATE cases SET escalation_level = 0 WHERE id = :case_id", ["escalation_level"]),
        # Marked taken on: its acknowledgement deadline would no longer climb.
        ("UPDATE cases SET acknowledged_at = :at WHERE id = :case_id", ["acknowledged_at"]),
        # Taken off the case: nobody is going (the lead named in ``assignee`` goes with it).
        ("UPDATE cases SET team = '[]', assignee = NULL WHERE id = :case_id", ["team"]),
        ("UPDATE cases SET assignee = 'nobody' WHERE id = :case_id", ["assignee"]),
        (
            'UPDATE cases SET team = \'[{"duty": "area", "responder": "wang",'
            " \"accepted\": false}]', assignee = 'wang' WHERE id = :case_id",
            ["team"],
        ),
    ],
)
def test_a_case_row_edited_behind_its_history_is_found(
    engine: Engine, staffed: HubStore, clock: FakeClock, tamper: str, fields: list[str]
) -> None:
    case_id = escalated_sos(staffed, clock)
    assert verify(staffed)[0]
    sql, given = _silenced(case_id) if tamper == "silenced" else (tamper, {"case_id": case_id})
    given = {k: v for k, v in {**given, "at": clock.now}.items() if f":{k}" in sql}
    with engine.begin() as conn:
        conn.execute(text(sql), given)
    intact, said = verify(staffed)
    assert not intact, said
    findings = said.splitlines()[1:]
    assert sorted(line.split(": ")[1].split(" ")[0] for line in findings) == sorted(fields), said
    assert all(line.startswith(f"case {case_id}: ") for line in findings), said


def test_the_command_names_a_silenced_alarm_and_fails(
    database_url: str, engine: Engine, staffed: HubStore, clock: FakeClock
) -> None:
    case_id = escalated_sos(staffed, clock)
    sql, given = _silenced(case_id)
    with engine.begin() as conn:
        conn.execute(text(sql), given)
    caught = run_linli("audit", "verify", "--database-url", database_url)
    assert caught.returncode == 1, caught.stdout + caught.stderr
    assert f"case {case_id}: status is 'resolved' but its history in the trail says" in (
        caught.stdout
    )


async def test_the_api_lists_the_findings(database_url: str, tmp_path: Path) -> None:
    app: FastAPI = hub_app(database_url, tmp_path)
    async with api_client(app) as client:
        store: HubStore = app.state.store
        store.fleet.register_device(SOS)
        case_id = press(store, FakeClock())
        sql, given = _silenced(case_id)
        with store.db.engine.begin() as conn:
            conn.execute(text(sql), given)
        verdict = (await client.get("/api/v1/audit/verify")).json()
    assert verdict["intact"] is False
    assert verdict["broken_seq"] is None
    assert f"case {case_id}: status is 'resolved'" in verdict["findings"][0]
    assert verdict["reason"].startswith("3 case field(s) part from")


@pytest.mark.parametrize(
    "edit", ["resolved_at = 'yesterday'", "team = 'nobody'", "acknowledged_at = 'now'"]
)
def test_a_case_row_edited_into_what_cannot_be_read_is_named_not_crashed_on(
    engine: Engine, staffed: HubStore, clock: FakeClock, edit: str
) -> None:
    """On SQLite a column keeps any text: the row cannot be read back, and is named; the other
    cases are still checked. PostgreSQL refuses the text or reads it (``'yesterday'``)."""
    case_id = escalated_sos(staffed, clock)
    smoke = make_alert(device_id=SMOKE.id, ts=clock.now)
    [other] = staffed.intake.ingest_alerts([smoke], clock.now).cases_opened
    with engine.begin() as conn:
        try:
            with conn.begin_nested():
                conn.execute(
                    text(f"UPDATE cases SET {edit} WHERE id = :case_id"), {"case_id": case_id}
                )
        except DBAPIError:
            # PostgreSQL's column types refuse such text: there is nothing to find there.
            assert engine.dialect.name == "postgresql"
            return
        conn.execute(text("UPDATE cases SET priority = 'low'"))
    intact, said = verify(staffed)
    assert not intact
    assert f"case {case_id}: " in said
    assert f"case {other.id}: priority is 'low'" in said


def _delete_unchecked(engine: Engine, case_id: int) -> None:
    """Delete a case's row and leave its history lines: their foreign key not checked (on
    SQLite outside a transaction, as a tamperer's own connection can)."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA foreign_keys = OFF")
            cursor.execute("DELETE FROM cases WHERE id = ?", (case_id,))
            raw.commit()
        finally:
            raw.close()
        return
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("DELETE FROM cases WHERE id = :case_id"), {"case_id": case_id})


def test_a_deleted_case_row_is_found(engine: Engine, staffed: HubStore, clock: FakeClock) -> None:
    case_id = escalated_sos(staffed, clock)
    _delete_unchecked(engine, case_id)
    intact, said = verify(staffed)
    assert not intact
    assert f"case {case_id}: the audit trail opened it but its row is gone" in said


def test_a_case_row_added_by_hand_is_found(
    engine: Engine, staffed: HubStore, clock: FakeClock
) -> None:
    case_id = escalated_sos(staffed, clock)
    columns = (
        "status, kind, priority, opened_at, updated_at, last_alert_at, alert_count, device_id,"
        " correlation_key, category, team, declined, escalation_level, version"
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO cases (id, {columns}) SELECT :new, {columns} FROM cases"
                " WHERE id = :case_id"
            ),
            {"new": case_id + 100, "case_id": case_id},
        )
    intact, said = verify(staffed)
    assert not intact
    assert f"case {case_id + 100}: its row has no opening in the audit trail" in said


def test_history_lines_deleted_with_the_row_edited_are_found(
    engine: Engine, staffed: HubStore, clock: FakeClock
) -> None:
    """The reverse way round: the tamperer edits the row and deletes the lines that made it
    (the records check names the missing line first)."""
    case_id = escalated_sos(staffed, clock)
    with engine.begin() as conn:
        conn.execute(
            text("DELETE FROM case_events WHERE case_id = :case_id AND action = 'escalated'"),
            {"case_id": case_id},
        )
        conn.execute(
            text("UPDATE cases SET escalation_level = 0 WHERE id = :case_id"), {"case_id": case_id}
        )
    intact, said = verify(staffed)
    assert not intact
    assert "history line in case_events is missing or was edited" in said


# --- the replay, pure: the changes the hub makes with no line of their own ---------------


def line(seq: int, action: str, **detail: str) -> AuditEntry:
    return AuditEntry(
        seq=seq,
        ts=T0 + timedelta(seconds=seq),
        action=action,
        case_id=1,
        alert_id=None,
        actor=None,
        detail=detail,
        prev_hash="",
        hash="",
    )


def test_the_care_watch_raising_an_sos_is_replayed_only_on_an_active_case() -> None:
    opened = apply(None, line(1, "opened", priority="high"))
    assert opened is not None
    raised = apply(opened, line(2, "commented", care="sos", note="family notified"))
    assert raised is not None
    assert raised.priority == "critical"
    handled = replace(opened, status="resolved")
    assert apply(handled, line(2, "commented", care="sos")) == handled
    assert apply(opened, line(2, "commented", care="stale")) == opened


def test_a_merge_and_a_reopening_by_an_alert_raise_as_the_hub_does() -> None:
    opened = apply(None, line(1, "opened", priority="medium"))
    taken = CaseState(status="open", priority="critical", escalation_level=2)
    merged = apply(opened, line(2, "merged_in", **{"from": "7"}), taken_in=taken)
    assert merged is not None
    assert (merged.priority, merged.escalation_level) == ("critical", 2)
    resolved = apply(opened, line(3, "resolved", to="resolved", resolution="real"))
    reopened = apply(resolved, line(4, "reopened"), alert_severity="high")
    assert reopened is not None
    assert (reopened.status, reopened.priority, reopened.resolution) == ("open", "high", None)


def test_cases_before_the_one_named_are_not_compared_and_the_rest_are(
    database_url: str, engine: Engine, staffed: HubStore, clock: FakeClock
) -> None:
    """``--cases-from``: a database upgraded from a hub that recorded less (cases from before
    the chain, hand-overs without ``removed``) is checked from its first case after the
    upgrade on; the cases after it still are, and a silenced one is still found."""
    old = escalated_sos(staffed, clock)
    smoke = make_alert(device_id=SMOKE.id, ts=clock.now)
    [fire] = staffed.intake.ingest_alerts([smoke], clock.now).cases_opened
    new = fire.id
    assert new > old
    with engine.begin() as conn:  # stands for a case an older hub recorded with less
        conn.execute(text("UPDATE cases SET escalation_level = 0 WHERE id = :id"), {"id": old})
    intact, said = verify(staffed)
    assert not intact
    assert f"case {old}: escalation_level" in said
    assert staffed.audit.verify_audit(cases_from=new).intact

    with engine.begin() as conn:  # the fire silenced behind the trail
        conn.execute(
            text("UPDATE cases SET status = 'resolved', resolution = 'nuisance' WHERE id = :id"),
            {"id": new},
        )
    verdict = staffed.audit.verify_audit(cases_from=new)
    assert not verdict.intact
    assert verdict.findings
    assert all(finding.startswith(f"case {new}: ") for finding in verdict.findings)
    caught = run_linli("audit", "verify", "--database-url", database_url, "--cases-from", str(new))
    assert caught.returncode == 1, caught.stdout + caught.stderr
    assert f"case {new}: status is 'resolved'" in caught.stdout
    assert f"case {old}:" not in caught.stdout
    assert f"case rows compared with their history from case {new} on" in caught.stdout
