"""Sites, grids, responders and dispatch: the pure rules, then the repository and the API."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from devices.kinds import AlertKind, DeviceKind, Severity
from devices.messages import FeedbackStage
from hub.app import create_app
from hub.cases import CaseAction, CaseEventAction, CaseStatus, feedback_stage
from hub.correlation import CaseCategory
from hub.dispatch import choose_responder
from hub.errors import IllegalTransitionError, InvalidInputError
from hub.roster import (
    Grid,
    Responder,
    ResponderRole,
    Shift,
    Site,
    grid_of_place,
    on_call,
    site_of_edge,
)
from hub.settings import HubSettings
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device
from tests.hub.http import api_client

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


def test_life_safety_goes_to_the_grid_worker_then_the_patrol() -> None:
    everyone = [ZHAO, LI, WANG]
    choose = choose_responder
    assert choose(CaseCategory.LIFE_SAFETY, "lanyuan", "g-b3", everyone, MONDAY_10, "UTC") == WANG
    # Another grid: Wang does not cover it, the site-wide patrol does.
    assert choose(CaseCategory.LIFE_SAFETY, "lanyuan", "g-gate", everyone, MONDAY_10, "UTC") == LI
    assert choose(CaseCategory.SECURITY, "lanyuan", "g-b3", everyone, MONDAY_10, "UTC") == LI
    assert choose(CaseCategory.MAINTENANCE, "lanyuan", "g-b3", everyone, MONDAY_10, "UTC") == ZHAO
    assert choose(CaseCategory.PROPERTY, "lanyuan", "g-b3", everyone, MONDAY_10, "UTC") == ZHAO
    declined = choose(
        CaseCategory.LIFE_SAFETY, "lanyuan", "g-b3", everyone, MONDAY_10, "UTC", exclude=["wang"]
    )
    assert declined == LI
    assert choose(CaseCategory.LIFE_SAFETY, "other", "g-b3", everyone, MONDAY_10, "UTC") is None
    nobody = choose(
        CaseCategory.SECURITY, "lanyuan", None, everyone, MONDAY_10, "UTC", exclude=["li", "wang"]
    )
    assert nobody is None


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
    store.put_site(SITE)
    store.put_grid(GRID_B3)
    store.put_grid(GRID_GATE)
    for responder in (WANG, LI, ZHAO):
        store.put_responder(responder)
    store.register_device(make_device("b3-1201-smoke", edge_id="edge-b3"))
    store.register_device(make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON, edge_id="edge-b3"))
    return store


def test_a_new_fire_case_is_dispatched_by_grid_and_category(
    staffed: HubStore, clock: FakeClock
) -> None:
    [case] = staffed.ingest_alerts([make_alert(device_id="b3-1201-smoke")], clock.now).cases_opened
    assert (case.status, case.assignee, case.site_id, case.grid_id) == (
        CaseStatus.DISPATCHED,
        "wang",
        "lanyuan",
        "g-b3",
    )
    assert case.acknowledged_at is None  # the hub dispatching it is not someone coming
    events = staffed.get_case(case.id).events
    assert [e.action for e in events] == [CaseEventAction.OPENED, CaseEventAction.DISPATCHED]
    assert "Wang" in (events[-1].note or "")

    # Wang declines: it goes to the patrol at once, and never back to Wang.
    declined = staffed.act(case.id, CaseAction.DECLINE, actor="wang", note="on leave")
    assert (declined.status, declined.assignee) == (CaseStatus.DISPATCHED, "li")
    accepted = staffed.act(case.id, CaseAction.ACCEPT, actor="li")
    assert (accepted.status, accepted.acknowledged_at) == (CaseStatus.ACCEPTED, clock.now)
    handed = staffed.act(case.id, CaseAction.HAND_OVER, assignee="zhao", actor="li")
    assert (handed.status, handed.assignee) == (CaseStatus.DISPATCHED, "zhao")
    # Zhao declines: back to Li (who handed it over but never declined); Li declines too and
    # nobody is left: it waits for an operator.
    assert staffed.act(case.id, CaseAction.DECLINE).assignee == "li"
    waiting = staffed.act(case.id, CaseAction.DECLINE)
    assert (waiting.status, waiting.assignee) == (CaseStatus.OPEN, None)
    with pytest.raises(IllegalTransitionError, match="no responder is on call"):
        staffed.act(case.id, CaseAction.DISPATCH)
    assert staffed.act(case.id, CaseAction.DISPATCH, assignee="wang").assignee == "wang"


def test_dispatching_to_nobody_known_is_refused(staffed: HubStore, clock: FakeClock) -> None:
    [case] = staffed.ingest_alerts([make_alert(device_id="b3-1201-smoke")], clock.now).cases_opened
    staffed.act(case.id, CaseAction.ACCEPT, actor="wang")
    with pytest.raises(InvalidInputError, match="responder ghost does not exist"):
        staffed.act(case.id, CaseAction.HAND_OVER, assignee="ghost")
    with pytest.raises(InvalidInputError, match="needs the responder"):
        staffed.act(case.id, CaseAction.HAND_OVER)
    assert staffed.get_case(case.id).assignee == "wang"


def test_without_a_roster_cases_stay_open(store: HubStore, clock: FakeClock) -> None:
    store.register_device(make_device("b3-1201-smoke", edge_id="edge-b3"))
    [case] = store.ingest_alerts([make_alert(device_id="b3-1201-smoke")], clock.now).cases_opened
    assert (case.status, case.assignee, case.site_id) == (CaseStatus.OPEN, None, None)


def test_the_resident_hears_someone_is_coming_only_when_a_person_took_it(
    staffed: HubStore, clock: FakeClock
) -> None:
    sos = make_alert(device_id="b3-1201-sos", kind=AlertKind.SOS, severity=Severity.CRITICAL)
    [case] = staffed.ingest_alerts([sos], clock.now).cases_opened
    household = staffed.create_household("Wang family", "Building 3", ["b3-1201-sos"], "h" * 64)
    assert staffed.household_status(household).stage == "case_opened"
    staffed.act(case.id, CaseAction.ACKNOWLEDGE, actor="operator")  # seen while dispatched
    assert staffed.get_case(case.id).status is CaseStatus.DISPATCHED
    assert staffed.household_status(household).stage == "acknowledged"


def test_a_responder_accepting_tells_the_resident_someone_is_coming(
    staffed: HubStore, clock: FakeClock
) -> None:
    sos = make_alert(device_id="b3-1201-sos", kind=AlertKind.SOS, severity=Severity.CRITICAL)
    [case] = staffed.ingest_alerts([sos], clock.now).cases_opened
    household = staffed.create_household("Wang family", "Building 3", ["b3-1201-sos"], "h" * 64)
    assert case.status is CaseStatus.DISPATCHED
    assert staffed.household_status(household).stage == "case_opened"
    accepted = staffed.act(case.id, CaseAction.ACCEPT, actor=case.assignee)
    assert feedback_stage(accepted.status, accepted.acknowledged_at is not None) is (
        FeedbackStage.ACKNOWLEDGED
    )
    assert staffed.household_status(household).stage == "acknowledged"


def test_roster_records_are_checked_and_replaced(staffed: HubStore) -> None:
    with pytest.raises(InvalidInputError, match="site nowhere does not exist"):
        staffed.put_grid(GRID_B3.model_copy(update={"site_id": "nowhere"}))
    with pytest.raises(InvalidInputError, match="g-none are not grids of site lanyuan"):
        staffed.put_responder(WANG.model_copy(update={"grid_ids": ["g-none"]}))
    staffed.put_responder(WANG.model_copy(update={"shifts": [NIGHT]}))
    assert [r.shifts for r in staffed.list_responders(site_id="lanyuan") if r.id == "wang"] == [
        [NIGHT]
    ]
    assert [g.id for g in staffed.list_grids(site_id="lanyuan")] == ["g-b3", "g-gate"]
    assert staffed.list_sites() == [SITE]
    assert staffed.verify_audit().intact


# --- the API ----------------------------------------------------------------------------


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> FastAPI:
    return create_app(HubSettings(data_dir=tmp_path, database_url=database_url, start_ingest=False))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(app) as client:
        yield client


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
