"""Sites, grids, responders and dispatch: the pure rules, then the repository and the API."""

from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from devices.kinds import AlertKind, DeviceKind, Severity
from devices.messages import FeedbackStage
from hub.cases.correlation import CaseCategory
from hub.cases.dispatch import Assignment, answering, duty_for, fill_team, handing_over, ordered
from hub.cases.rules import CaseAction, CaseEventAction, CaseStatus, feedback_stage
from hub.cases.views import CaseView
from hub.errors import IllegalTransitionError, InvalidInputError
from hub.residents.views import HouseholdView
from hub.roster.rules import (
    Grid,
    Responder,
    ResponderRole,
    Shift,
    Site,
    grid_of_place,
    on_call,
    site_of_edge,
)
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device

SITE = Site(id="lanyuan", name="Lanyuan community", edge_ids=["edge-b3", "edge-gate"])
GRID_B3 = Grid(id="g-b3", site_id="lanyuan", name="Building 3 grid", places=["Building 3"])
GRID_GATE = Grid(
    id="g-gate", site_id="lanyuan", name="Gates", places=["Courtyard/Main gate", "Building 3/Lobby"]
)
WANG = Responder(
    id="wang", site_id="lanyuan", name="Wang", role=ResponderRole.GRID_WORKER, grid_ids=["g-b3"]
)
LI = Responder(id="li", site_id="lanyuan", name="Li", role=ResponderRole.SECURITY)
ZHAO = Responder(id="zhao", site_id="lanyuan", name="Zhao", role=ResponderRole.MAINTENANCE)
NIGHT = Shift(days=[0, 1, 2, 3, 4], start=time(22, 0), end=time(6, 0))
# Monday 2025-03-03 10:00 in Shanghai.
MONDAY_10 = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)


# --- the pure rules ---------------------------------------------------------------------


def test_a_device_belongs_to_the_site_of_its_edge_and_the_grid_of_its_place() -> None:
    assert site_of_edge([SITE], "edge-gate") == SITE
    assert site_of_edge([SITE], "edge-elsewhere") is None
    assert site_of_edge([SITE], None) is None
    grids = [GRID_B3, GRID_GATE]
    assert grid_of_place(grids, "Building 3/Floor 12/Unit 1201") == GRID_B3
    assert grid_of_place(grids, "Building 3/Lobby/Door") == GRID_GATE  # the longer prefix
    assert grid_of_place(grids, "Building 30/Floor 1") is None
    assert grid_of_place(grids, "//") is None


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2025, 3, 3, 21, 59), False),  # Monday before the shift
        (datetime(2025, 3, 3, 22, 0), True),
        (datetime(2025, 3, 4, 5, 59), True),  # past midnight, Tuesday morning
        (datetime(2025, 3, 4, 6, 0), False),
        (datetime(2025, 3, 8, 23, 0), False),  # Saturday: no shift starts
        (datetime(2025, 3, 8, 3, 0), True),  # Friday's night shift runs into Saturday
        (datetime(2025, 3, 9, 3, 0), False),
    ],
)
def test_on_call_follows_shifts_in_the_site_time_zone(local: datetime, expected: bool) -> None:
    night_watch = LI.model_copy(update={"shifts": [NIGHT]})
    shanghai = local.replace(tzinfo=UTC) - timedelta(hours=8)  # the same instant, in UTC
    assert on_call(night_watch, shanghai, "Asia/Shanghai") is expected
    assert on_call(LI, shanghai, "Asia/Shanghai")  # no shifts: always
    assert not on_call(LI.model_copy(update={"active": False}), shanghai, "Asia/Shanghai")


def team_for(category: CaseCategory, grid: str | None, **kw: Any) -> list[tuple[str, str]]:
    everyone = [ZHAO, LI, WANG]
    found = fill_team(category, (), "lanyuan", grid, everyone, MONDAY_10, "UTC", **kw)
    return [(duty.name, responder.id) for duty, responder in found]


def test_life_safety_goes_to_the_grid_worker_and_the_patrol_together() -> None:
    # Scenario 1: the building's grid worker and the security patrol, both at once.
    assert team_for(CaseCategory.LIFE_SAFETY, "g-b3") == [("area", "wang"), ("patrol", "li")]
    # Another grid: Wang does not cover it and nobody else fits the area duty.
    assert team_for(CaseCategory.LIFE_SAFETY, "g-gate") == [("patrol", "li")]
    assert team_for(CaseCategory.SECURITY, "g-b3") == [("patrol", "li")]
    assert team_for(CaseCategory.MAINTENANCE, "g-b3") == [("maintenance", "zhao")]
    assert team_for(CaseCategory.PROPERTY, "g-b3") == [("property", "zhao")]
    # Who declined is never asked again; the security duty falls back to the grid worker.
    assert team_for(CaseCategory.LIFE_SAFETY, "g-b3", declined=["wang"]) == [("patrol", "li")]
    assert team_for(CaseCategory.SECURITY, "g-b3", declined=["li"]) == [("patrol", "wang")]
    nobody = fill_team(
        CaseCategory.SECURITY, (), "other", "g-b3", [ZHAO, LI, WANG], MONDAY_10, "UTC"
    )
    assert nobody == []


def test_a_free_duty_is_filled_without_doubling_anyone() -> None:
    held = (Assignment("area", "wang", accepted=True),)
    everyone = [ZHAO, LI, WANG]
    found = fill_team(CaseCategory.LIFE_SAFETY, held, "lanyuan", "g-b3", everyone, MONDAY_10, "UTC")
    assert [(d.name, r.id) for d, r in found] == [("patrol", "li")]
    # A security case held by Wang (its fallback role) does not get Li on top of him.
    patrol = (Assignment("patrol", "wang"),)
    assert (
        fill_team(CaseCategory.SECURITY, patrol, "lanyuan", "g-b3", everyone, MONDAY_10, "UTC")
        == []
    )
    # Nor does anyone take two duties: with Li declined, the grid worker stays in his own.
    found = fill_team(
        CaseCategory.LIFE_SAFETY, (), "lanyuan", "g-b3", everyone, MONDAY_10, "UTC", declined=["li"]
    )
    assert [(d.name, r.id) for d, r in found] == [("area", "wang")]


def test_who_an_answer_or_a_hand_over_applies_to() -> None:
    team = (Assignment("area", "wang", accepted=True), Assignment("patrol", "li"))
    assert answering(team, "li") == team[1]
    assert answering(team, "wang") is None  # he already accepted
    assert answering(team, "operator") == team[1]  # on someone's behalf: the one waiting
    assert handing_over(team, "li") == team[1]
    assert handing_over(team, "operator") == team[0]  # the one who has it
    assert duty_for(CaseCategory.LIFE_SAFETY, team, ResponderRole.SECURITY) == "patrol"
    assert duty_for(CaseCategory.LIFE_SAFETY, team[:1], ResponderRole.SECURITY) == "patrol"
    assert duty_for(CaseCategory.LIFE_SAFETY, team, ResponderRole.MAINTENANCE) == "area"
    assert ordered(CaseCategory.LIFE_SAFETY, reversed(team)) == team


@pytest.mark.parametrize(
    ("model", "data", "complaint"),
    [
        (Site, {"id": "x", "name": "X", "timezone": "Mars/Olympus"}, "unknown time zone"),
        (Site, {"id": "bad id", "name": "X"}, "not a valid id"),
        (Grid, {"id": "g", "site_id": "x", "name": "G", "places": []}, "at least 1"),
        (Grid, {"id": "g", "site_id": "x", "name": "G", "places": ["a//b"]}, "non-empty parts"),
        (Shift, {"days": [7], "start": "08:00", "end": "09:00"}, "less than or equal to 6"),
        (Shift, {"days": [1], "start": "08:00", "end": "08:00"}, "same time"),
        (Responder, {"id": "r", "site_id": "x", "name": "R", "role": "chef"}, "role"),
    ],
)
def test_bad_roster_records_are_refused(model: Any, data: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        model.model_validate(data)


# --- the repository ---------------------------------------------------------------------


@pytest.fixture
def staffed(store: HubStore) -> HubStore:
    """A site with its grids, three responders and devices in building 3."""
    store.roster.put_site(SITE)
    store.roster.put_grid(GRID_B3)
    store.roster.put_grid(GRID_GATE)
    for responder in (WANG, LI, ZHAO):
        store.roster.put_responder(responder)
    store.fleet.register_device(make_device("b3-1201-smoke", edge_id="edge-b3"))
    store.fleet.register_device(
        make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON, edge_id="edge-b3")
    )
    return store


def team_of(case: CaseView) -> list[tuple[str, str, bool]]:
    return [(m.duty, m.responder, m.accepted) for m in case.team]


def test_a_new_fire_case_goes_to_the_grid_worker_and_the_patrol(
    staffed: HubStore, clock: FakeClock
) -> None:
    [case] = staffed.intake.ingest_alerts(
        [make_alert(device_id="b3-1201-smoke")], clock.now
    ).cases_opened
    assert (case.status, case.assignee, case.site_id, case.grid_id) == (
        CaseStatus.DISPATCHED,
        "wang",
        "lanyuan",
        "g-b3",
    )
    assert team_of(case) == [("area", "wang", False), ("patrol", "li", False)]
    assert case.acknowledged_at is None  # the hub dispatching it is not someone coming
    events = staffed.cases.get_case(case.id).events
    assert [e.action for e in events] == [CaseEventAction.OPENED, CaseEventAction.DISPATCHED]
    assert "Wang" in (events[-1].note or "")
    assert "Li" in (events[-1].note or "")

    # Wang declines: nobody else fits his duty; the case stays with the patrol, never back to him.
    declined = staffed.cases.act(case.id, CaseAction.DECLINE, actor="wang", note="on leave")
    assert (declined.status, team_of(declined)) == (
        CaseStatus.DISPATCHED,
        [("patrol", "li", False)],
    )
    accepted = staffed.cases.act(case.id, CaseAction.ACCEPT, actor="li")
    assert (accepted.status, accepted.acknowledged_at) == (CaseStatus.ACCEPTED, clock.now)
    with pytest.raises(IllegalTransitionError, match="nobody else is on call for it"):
        staffed.cases.act(case.id, CaseAction.DISPATCH)
    # More help while Li is on it: an operator names Zhao; he declines, Li carries on.
    more = staffed.cases.act(case.id, CaseAction.DISPATCH, assignee="zhao", actor="operator")
    assert (more.status, team_of(more)) == (
        CaseStatus.ACCEPTED,
        [("area", "zhao", False), ("patrol", "li", True)],
    )
    assert CaseAction.DECLINE in more.actions
    with pytest.raises(IllegalTransitionError, match="li has already accepted it"):
        staffed.cases.act(case.id, CaseAction.ACCEPT, actor="li")
    with pytest.raises(IllegalTransitionError, match="hand it over instead"):
        staffed.cases.act(case.id, CaseAction.DECLINE, actor="li")
    kept = staffed.cases.act(case.id, CaseAction.DECLINE, actor="zhao")
    assert (kept.status, team_of(kept)) == (CaseStatus.ACCEPTED, [("patrol", "li", True)])
    assert CaseAction.DECLINE not in kept.actions
    # Li hands over to Wang, who must accept in turn; he declines: Li is asked again (handing
    # over is not declining), and when Li declines too nobody is left for an operator.
    handed = staffed.cases.act(case.id, CaseAction.HAND_OVER, assignee="wang", actor="li")
    assert (handed.status, team_of(handed)) == (
        CaseStatus.DISPATCHED,
        [("patrol", "wang", False)],
    )
    assert team_of(staffed.cases.act(case.id, CaseAction.DECLINE)) == [("patrol", "li", False)]
    waiting = staffed.cases.act(case.id, CaseAction.DECLINE)
    assert (waiting.status, waiting.assignee, waiting.team) == (CaseStatus.OPEN, None, [])
    with pytest.raises(IllegalTransitionError, match="no responder is on call"):
        staffed.cases.act(case.id, CaseAction.DISPATCH)
    assert staffed.cases.act(case.id, CaseAction.DISPATCH, assignee="wang").assignee == "wang"


def test_every_member_answers_for_themself(staffed: HubStore, clock: FakeClock) -> None:
    [case] = staffed.intake.ingest_alerts(
        [make_alert(device_id="b3-1201-smoke")], clock.now
    ).cases_opened
    first = staffed.cases.act(case.id, CaseAction.ACCEPT, actor="li")
    assert (first.status, team_of(first)) == (
        CaseStatus.ACCEPTED,
        [("area", "wang", False), ("patrol", "li", True)],
    )
    started = staffed.cases.act(case.id, CaseAction.START, actor="li")
    assert started.status is CaseStatus.IN_PROGRESS
    second = staffed.cases.act(case.id, CaseAction.ACCEPT, actor="wang")
    assert (second.status, team_of(second)) == (
        CaseStatus.IN_PROGRESS,
        [("area", "wang", True), ("patrol", "li", True)],
    )
    # Li hands his part over while Wang works on: still in progress, Zhao asked to accept.
    handed = staffed.cases.act(case.id, CaseAction.HAND_OVER, assignee="zhao", actor="li")
    assert (handed.status, team_of(handed)) == (
        CaseStatus.IN_PROGRESS,
        [("area", "wang", True), ("patrol", "zhao", False)],
    )
    # Zhao's part accepted by an operator on his behalf: the trail says for whom.
    staffed.cases.act(case.id, CaseAction.ACCEPT, actor="operator")
    trail = staffed.audit.list_audit(after_seq=0, limit=1000)
    answers = [(e.actor, e.detail["responder"]) for e in trail if e.action == "accepted"]
    assert answers == [("li", "li"), ("wang", "wang"), ("operator", "zhao")]


def test_a_responder_of_another_site_cannot_be_named(staffed: HubStore, clock: FakeClock) -> None:
    staffed.roster.put_site(Site(id="meiyuan", name="Meiyuan", edge_ids=["edge-m"]))
    staffed.roster.put_responder(
        Responder(id="qian", site_id="meiyuan", name="Qian", role=ResponderRole.SECURITY)
    )
    [case] = staffed.intake.ingest_alerts(
        [make_alert(device_id="b3-1201-smoke")], clock.now
    ).cases_opened
    with pytest.raises(InvalidInputError, match="qian works at site meiyuan"):
        staffed.cases.act(case.id, CaseAction.DISPATCH, assignee="qian")
    assert team_of(staffed.cases.get_case(case.id)) == [
        ("area", "wang", False),
        ("patrol", "li", False),
    ]


def test_dispatching_to_nobody_known_is_refused(staffed: HubStore, clock: FakeClock) -> None:
    [case] = staffed.intake.ingest_alerts(
        [make_alert(device_id="b3-1201-smoke")], clock.now
    ).cases_opened
    staffed.cases.act(case.id, CaseAction.ACCEPT, actor="wang")
    with pytest.raises(InvalidInputError, match="responder ghost does not exist"):
        staffed.cases.act(case.id, CaseAction.HAND_OVER, assignee="ghost")
    with pytest.raises(InvalidInputError, match="needs the responder"):
        staffed.cases.act(case.id, CaseAction.HAND_OVER)
    assert staffed.cases.get_case(case.id).assignee == "wang"


def test_without_a_roster_cases_stay_open(store: HubStore, clock: FakeClock) -> None:
    store.fleet.register_device(make_device("b3-1201-smoke", edge_id="edge-b3"))
    [case] = store.intake.ingest_alerts(
        [make_alert(device_id="b3-1201-smoke")], clock.now
    ).cases_opened
    assert (case.status, case.assignee, case.site_id) == (CaseStatus.OPEN, None, None)


def sos_of_a_household(staffed: HubStore, clock: FakeClock) -> tuple[CaseView, HouseholdView]:
    """Open a case of the building 3 SOS button, then register its household; return both."""
    sos = make_alert(device_id="b3-1201-sos", kind=AlertKind.SOS, severity=Severity.CRITICAL)
    [case] = staffed.intake.ingest_alerts([sos], clock.now).cases_opened
    household = staffed.households.create_household(
        "Wang family", "Building 3", ["b3-1201-sos"], "h" * 64
    )
    return case, household


def test_the_resident_hears_someone_is_coming_only_when_a_person_took_it(
    staffed: HubStore, clock: FakeClock
) -> None:
    case, household = sos_of_a_household(staffed, clock)
    assert staffed.households.household_status(household).stage == "case_opened"
    staffed.cases.act(case.id, CaseAction.ACKNOWLEDGE, actor="operator")  # seen while dispatched
    assert staffed.cases.get_case(case.id).status is CaseStatus.DISPATCHED
    assert staffed.households.household_status(household).stage == "acknowledged"


def test_a_responder_accepting_tells_the_resident_someone_is_coming(
    staffed: HubStore, clock: FakeClock
) -> None:
    case, household = sos_of_a_household(staffed, clock)
    assert case.status is CaseStatus.DISPATCHED
    assert staffed.households.household_status(household).stage == "case_opened"
    accepted = staffed.cases.act(case.id, CaseAction.ACCEPT, actor=case.assignee)
    assert feedback_stage(accepted.status, accepted.acknowledged_at is not None) is (
        FeedbackStage.ACKNOWLEDGED
    )
    assert staffed.households.household_status(household).stage == "acknowledged"


def test_roster_records_are_checked_and_replaced(staffed: HubStore) -> None:
    with pytest.raises(InvalidInputError, match="site nowhere does not exist"):
        staffed.roster.put_grid(GRID_B3.model_copy(update={"site_id": "nowhere"}))
    with pytest.raises(InvalidInputError, match="g-none are not grids of site lanyuan"):
        staffed.roster.put_responder(WANG.model_copy(update={"grid_ids": ["g-none"]}))
    staffed.roster.put_responder(WANG.model_copy(update={"shifts": [NIGHT]}))
    assert [
        r.shifts for r in staffed.roster.list_responders(site_id="lanyuan") if r.id == "wang"
    ] == [[NIGHT]]
    assert [g.id for g in staffed.roster.list_grids(site_id="lanyuan")] == ["g-b3", "g-gate"]
    assert staffed.roster.list_sites() == [SITE]
    assert staffed.audit.verify_audit().intact


# --- the API ----------------------------------------------------------------------------


async def test_the_roster_over_http(client: httpx.AsyncClient) -> None:
    assert (await client.put("/api/v1/sites/lanyuan", json=SITE.model_dump())).status_code == 200
    grid = GRID_B3.model_dump()
    assert (await client.put("/api/v1/grids/g-b3", json=grid)).status_code == 200
    wang = WANG.model_dump(mode="json") | {"shifts": [NIGHT.model_dump(mode="json")]}
    assert (await client.put("/api/v1/responders/wang", json=wang)).status_code == 200
    listed = (await client.get("/api/v1/responders", params={"site_id": "lanyuan"})).json()
    assert listed["items"][0]["shifts"] == [
        {"days": [0, 1, 2, 3, 4], "start": "22:00:00", "end": "06:00:00"}
    ]
    assert [s["id"] for s in (await client.get("/api/v1/sites")).json()["items"]] == ["lanyuan"]
    assert [g["id"] for g in (await client.get("/api/v1/grids")).json()["items"]] == ["g-b3"]

    mismatch = await client.put("/api/v1/grids/other", json=grid)
    assert (mismatch.status_code, "the path names other" in mismatch.text) == (422, True)
    extra = await client.put("/api/v1/sites/lanyuan", json=SITE.model_dump() | {"x": 1})
    assert extra.status_code == 422
    orphan = await client.put("/api/v1/responders/li", json=LI.model_dump() | {"site_id": "no"})
    assert (orphan.status_code, "site no does not exist" in orphan.text) == (422, True)
