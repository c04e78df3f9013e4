"""A case's counts, members, decliners and alerts checked against its history in the trail
(``hub.audit.case_rows``): what the first review of the case rows left open.

Found by an outside review: the check compared a case's status, priority, team... but not
``alert_count``, ``last_alert_at`` (what the next alert is joined by), ``declined`` (whom
dispatch passes over), the case's member rows (which devices and kinds are part of a fire)
nor which case each alert's row names. Someone with database access could delete the SOS
press's member row from a fire case, move the press's alert to another case, or add a
responder to ``declined`` so that dispatch never asks them, and verify said "intact". Real
cases through the hub's intake, on SQLite and PostgreSQL; raw SQL plays the tamperer.
"""

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from hub.audit.case_rows import apply
from hub.cases.rules import CaseAction, Resolution
from hub.roster.rules import Grid, Responder, ResponderRole, Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device
from tests.hub.test_audit_review_case_rows import line

SOS = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON, edge_id="edge-b3")
SMOKE = make_device("b3-1201-smoke", edge_id="edge-b3")
FAR = make_device("b5-0101-smoke", edge_id="edge-b3", location="Building 5/Floor 1/Unit 0101")


@pytest.fixture
def staffed(store: HubStore) -> HubStore:
    """Lanyuan, its grid over buildings 3 and 5, three responders, an SOS button and two smoke
    alarms (one in each building)."""
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", edge_ids=["edge-b3"]))
    store.roster.put_grid(
        Grid(id="g-b3", site_id="lanyuan", name="B3", places=["Building 3", "Building 5"])
    )
    for rid, role in (
        ("wang", ResponderRole.GRID_WORKER),
        ("li", ResponderRole.SECURITY),
        ("zhao", ResponderRole.SECURITY),
    ):
        store.roster.put_responder(Responder(id=rid, site_id="lanyuan", name=rid, role=role))
    for device in (SOS, SMOKE, FAR):
        store.fleet.register_device(device)
    return store


@dataclass(frozen=True)
class Fire:
    case_id: int
    """The fire case: three smoke alerts (raised medium, high, then cleared) and a press."""
    press: str
    """The SOS press's alert, attached to the fire case."""
    other: int
    """Another case (a smoke alarm in building 5)."""


def burning(store: HubStore, clock: FakeClock) -> Fire:
    """A smoke alarm opens a fire case; it worsens (priority raised), a neighbour presses SOS
    beside it (attached, raised to critical), the smoke clears; another building's alarm opens
    a case of its own."""

    def take(
        severity: Severity,
        device_id: str = SMOKE.id,
        kind: AlertKind = AlertKind.SMOKE,
        state: AlertState = AlertState.RAISED,
    ) -> str:
        alert = make_alert(
            device_id=device_id, kind=kind, state=state, severity=severity, ts=clock.now
        )
        store.intake.ingest_alerts([alert], clock.now)
        clock.advance(30)
        return alert.id

    opening = take(Severity.MEDIUM)
    [fire] = [c for c in store.cases.list_cases() if c.device_ids == [SMOKE.id]]
    take(Severity.HIGH)
    press = take(Severity.CRITICAL, device_id=SOS.id, kind=AlertKind.SOS)
    take(Severity.HIGH, state=AlertState.CLEARED)
    take(Severity.HIGH, device_id=FAR.id)
    [other] = [c for c in store.cases.list_cases() if c.device_ids == [FAR.id]]
    case = store.cases.get_case(fire.id)
    assert (case.alert_count, case.priority) == (4, Severity.CRITICAL)
    assert sorted(case.kinds) == ["smoke", "sos"]
    assert opening != press
    return Fire(fire.id, press, other.id)


def verify(store: HubStore) -> tuple[bool, str]:
    verdict = store.audit.verify_audit(page_size=4)
    return verdict.intact, verdict.describe()


def test_cases_the_hub_counted_verify(staffed: HubStore, clock: FakeClock) -> None:
    """Alerts attached (raising the priority), a press joining a fire, a clearance, declines
    by a person and by the supervisor, a resolution and a reopening by an alert, and a press
    taken in by the fire opened after it (members and alerts moved), a clearance adopted by
    the alarm that came after it: all intact."""
    fire = burning(staffed, clock)
    team = staffed.cases.get_case(fire.case_id).team
    staffed.cases.act(fire.case_id, CaseAction.DECLINE, actor=team[0].responder)
    clock.advance(600)
    staffed.deadlines.fire_due_timers(clock.now)  # the silent ones declined by supervision
    staffed.cases.act(
        fire.other, CaseAction.RESOLVE, resolution=Resolution.NUISANCE, note="toast", actor="op-1"
    )
    again = make_alert(device_id=FAR.id, severity=Severity.CRITICAL, ts=clock.now)
    staffed.intake.ingest_alerts([again], clock.now)  # reopened, raised
    assert staffed.cases.get_case(fire.other).alert_count == 2
    staffed.cases.act(
        fire.case_id, CaseAction.RESOLVE, resolution=Resolution.REAL, note="out", actor="op"
    )
    staffed.cases.act(
        fire.other, CaseAction.RESOLVE, resolution=Resolution.REAL, note="out", actor="op"
    )
    clock.advance(3600)
    press = make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.HIGH, ts=clock.now)
    [sos] = staffed.intake.ingest_alerts([press], clock.now).cases_opened
    clock.advance(20)
    smoke = make_alert(device_id=SMOKE.id, severity=Severity.MEDIUM, ts=clock.now)
    [merged] = staffed.intake.ingest_alerts([smoke], clock.now).cases_opened
    assert staffed.cases.get_case(sos.id).merged_into == merged.id
    assert staffed.cases.get_case(merged.id).alert_count == 2
    # A clearance before the alarm it ends (another worker took it first): stored with no
    # case, then adopted by the case its alarm opens.
    clock.advance(3600)
    cleared = make_alert(device_id=FAR.id, state=AlertState.CLEARED, ts=clock.now)
    assert staffed.intake.ingest_alerts([cleared], clock.now).cases_opened == []
    late = make_alert(device_id=FAR.id, ts=clock.now - timedelta(seconds=10))
    [adopting] = staffed.intake.ingest_alerts([late], clock.advance(1)).cases_opened
    assert staffed.cases.get_case(adopting.id).alert_count == 2
    intact, said = verify(staffed)
    assert intact, said


@pytest.mark.parametrize(
    ("tamper", "found"),
    [
        # Fewer alerts than came: the fire reads smaller than it is.
        ("UPDATE cases SET alert_count = 1 WHERE id = :fire", ["{fire}: alert_count is 1"]),
        # Its last alert moved back: the next alarm of the building is "too long after".
        (
            "UPDATE cases SET last_alert_at = :early WHERE id = :fire",
            ["{fire}: last_alert_at is "],
        ),
        # The fire's device swapped for another building's: responders go to the wrong place.
        (
            "UPDATE cases SET device_id = 'b5-0101-smoke' WHERE id = :fire",
            ["{fire}: device_id is 'b5-0101-smoke' but"],
        ),
        (
            "UPDATE cases SET kind = 'water_leak', category = 'property' WHERE id = :fire",
            ["{fire}: kind is 'water_leak' but", "{fire}: category is 'property' but"],
        ),
        # A responder added to those who declined: dispatch never asks them.
        (
            "UPDATE cases SET declined = '[\"zhao\"]' WHERE id = :fire",
            ["{fire}: declined is ['zhao'] but its history in the trail says []"],
        ),
        # The press's device taken out of the fire: nobody sees a resident was in it.
        (
            "DELETE FROM case_members WHERE case_id = :fire AND kind = 'sos'",
            ["{fire}: member b3-1201-sos (sos) is missing"],
        ),
        (
            "UPDATE case_members SET alert_count = 1, last_alert_at = first_alert_at"
            " WHERE case_id = :fire AND kind = 'smoke'",
            [
                "{fire}: member b3-1201-smoke (smoke) alert_count is 1",
                "{fire}: member b3-1201-smoke (smoke) last_alert_at is",
            ],
        ),
        (
            "INSERT INTO case_members (case_id, device_id, kind, first_alert_at,"
            " last_alert_at, alert_count) SELECT :other, device_id, kind, first_alert_at,"
            " last_alert_at, alert_count FROM case_members WHERE case_id = :fire"
            " AND kind = 'sos'",
            ["{other}: member b3-1201-sos (sos) is in case_members but"],
        ),
        # The press's alert moved to another case, or to none.
        (
            "UPDATE alerts SET case_id = :other WHERE id = :press",
            [
                "{fire}: alert {press} is the case's by its history in the trail",
                "{other}: alert {press} names the case in its row in alerts",
            ],
        ),
        (
            "UPDATE alerts SET case_id = NULL WHERE id = :press",
            ["{fire}: alert {press} is the case's by its history in the trail"],
        ),
    ],
)
def test_counts_members_decliners_and_alerts_edited_behind_the_history_are_found(
    engine: Engine, staffed: HubStore, clock: FakeClock, tamper: str, found: list[str]
) -> None:
    fire = burning(staffed, clock)
    assert verify(staffed)[0]
    given = {"fire": fire.case_id, "other": fire.other, "press": fire.press, "early": T0}
    with engine.begin() as conn:
        conn.execute(text(tamper), {k: v for k, v in given.items() if f":{k}" in tamper})
    intact, said = verify(staffed)
    assert not intact, said
    findings = said.splitlines()[1:]
    wanted = [f"case {line.format(**given)}" for line in found]
    assert all(any(f.startswith(w) for f in findings) for w in wanted), said
    assert len(findings) == len(wanted), said


@pytest.mark.parametrize(
    "tamper",
    [
        "DELETE FROM alerts WHERE id = :press",
        "UPDATE alerts SET severity = 'low' WHERE id = :press",
    ],
)
def test_an_alert_row_deleted_or_edited_is_found_by_its_own_entry(
    engine: Engine, staffed: HubStore, clock: FakeClock, tamper: str
) -> None:
    """Answered before this review (``hub.audit.records``): the alert's ``alert_stored`` entry
    names the row it vouches for, field for field; its ``case_id`` is the case check's."""
    fire = burning(staffed, clock)
    with engine.begin() as conn:
        conn.execute(text(tamper), {"press": fire.press})
    verdict = staffed.audit.verify_audit(page_size=4)
    assert not verdict.intact
    assert "its alert in alerts is missing or was edited" in (verdict.reason or "")


def test_a_member_row_that_cannot_be_read_is_named_not_crashed_on(
    engine: Engine, staffed: HubStore, clock: FakeClock
) -> None:
    """On SQLite a column keeps any text: the case whose member row cannot be read back is
    named, the others are still checked. PostgreSQL refuses the text."""
    fire = burning(staffed, clock)
    with engine.begin() as conn:
        try:
            with conn.begin_nested():
                conn.execute(
                    text(
                        "UPDATE case_members SET first_alert_at = 'lately'"
                        " WHERE case_id = :fire AND kind = 'sos'"
                    ),
                    {"fire": fire.case_id},
                )
        except DBAPIError:
            assert engine.dialect.name == "postgresql"
            return
        conn.execute(text("UPDATE cases SET alert_count = 7 WHERE id = :id"), {"id": fire.other})
    intact, said = verify(staffed)
    assert not intact
    assert f"case {fire.case_id}: its row cannot be read back" in said
    assert f"case {fire.other}: alert_count is 7" in said


def test_a_raised_priority_is_recorded_by_value_not_only_in_words(
    engine: Engine, staffed: HubStore, clock: FakeClock
) -> None:
    """The ``priority_raised`` entries name the priority (``priority``, added); before, the
    check read it from the note's English, ``priority raised to high``."""
    fire = burning(staffed, clock)
    with engine.connect() as conn:
        raised = conn.execute(
            text(
                "SELECT detail FROM audit_log WHERE case_id = :fire AND action = 'priority_raised'"
                " ORDER BY seq"
            ),
            {"fire": fire.case_id},
        ).scalars()
        details = [d if isinstance(d, dict) else json.loads(d) for d in raised]
    assert [d.get("priority") for d in details] == ["high", "critical"]


def test_the_replay_reads_the_raised_priority_whatever_the_note_says() -> None:
    opened = apply(None, line(1, "opened", priority="low"))
    reworded = apply(opened, line(2, "priority_raised", priority="high", note="now urgent"))
    assert reworded is not None
    assert reworded.priority == "high"
    # An entry chained before the detail named it: its note, as before.
    older = apply(opened, line(2, "priority_raised", note="priority raised to medium"))
    assert older is not None
    assert older.priority == "medium"
