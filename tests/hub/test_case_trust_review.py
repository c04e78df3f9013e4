"""Outside review of whom a case action speaks for, and when it says it happened."""

import sqlite3
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from devices.kinds import AlertKind, DeviceKind, Severity
from devices.registry import Device
from hub.cases.actions import PersonAction, decide_action
from hub.cases.repository import CaseRepository
from hub.cases.rules import CaseAction, CaseStatus, Resolution
from hub.errors import IllegalTransitionError
from hub.persistence.tables import CaseRow
from hub.roster.rules import Grid, Responder, ResponderRole, Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert
from tests.hub.test_case_actions import DISPATCHED, NOW
from tests.hub.test_case_scope import LANYUAN_SMOKE, admin, open_case, put, signed_in

__all__ = ["admin"]

SMOKE = "b3-smoke"


def smoke_case(store: HubStore) -> int:
    """Set up a site with grid workers wang and zhou; open a smoke case (it goes to wang)."""
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan"))
    store.roster.put_grid(Grid(id="g-b3", site_id="lanyuan", name="B3", places=["Building 3"]))
    for worker in ("wang", "zhou"):
        store.roster.put_responder(
            Responder(id=worker, site_id="lanyuan", name=worker, role=ResponderRole.GRID_WORKER)
        )
    store.fleet.upsert_devices(
        [Device(id=SMOKE, kind=DeviceKind.SMOKE, location="Building 3/Floor 2/Unit 201")]
    )
    alert = make_alert(device_id=SMOKE, kind=AlertKind.SMOKE, severity=Severity.CRITICAL)
    [case] = store.intake.ingest_alerts([alert], T0).cases_opened
    assert [(m.responder, m.accepted) for m in case.team] == [("wang", False)]
    return case.id


@pytest.mark.parametrize(
    "action", [CaseAction.ACCEPT, CaseAction.DECLINE, CaseAction.START, CaseAction.HAND_OVER]
)
def test_a_responder_off_the_team_answers_for_nobody(action: CaseAction) -> None:
    """Found by an outside review: an accept, decline or hand-over by someone not on the team
    is taken as an operator's on a member's behalf; a responder's account acts for itself."""
    request = PersonAction(action, actor="zhou", assignee="qian", for_self=True)
    with pytest.raises(IllegalTransitionError, match="zhou is not on its team"):
        decide_action(DISPATCHED, request, NOW)
    # An operator (no such flag) still answers for the member asked.
    operator = decide_action(DISPATCHED, PersonAction(CaseAction.ACCEPT, actor="op"), NOW)
    assert operator.team[0].accepted


def test_a_members_own_moves_are_still_theirs() -> None:
    accepted = decide_action(
        DISPATCHED, PersonAction(CaseAction.ACCEPT, actor="li", for_self=True), NOW
    )
    assert accepted.detail["responder"] == "li"
    commented = decide_action(
        DISPATCHED, PersonAction(CaseAction.COMMENT, actor="zhou", note="hi", for_self=True), NOW
    )
    assert commented.status is CaseStatus.DISPATCHED


def test_a_late_accept_by_a_responder_taken_off_changes_nothing(store: HubStore) -> None:
    """Wang's acceptance deadline passed and the case went to zhou; wang's accept, sent
    before that and checked then, arrives after: it must not accept zhou's part."""
    case_id = smoke_case(store)
    store.cases.act(case_id, CaseAction.DISPATCH, actor="op", assignee="zhou")
    for action in (CaseAction.ACCEPT, CaseAction.HAND_OVER, CaseAction.DECLINE):
        with pytest.raises(IllegalTransitionError, match="wang is not on its team"):
            store.cases.act(case_id, action, actor="wang", assignee="wang", for_self=True)
    case = store.cases.get_case(case_id)
    assert [(m.responder, m.accepted) for m in case.team] == [("zhou", False)]
    assert case.status is CaseStatus.DISPATCHED
    assert case.events[-1].actor == "op"


class TeamChangesAfterTheCheck(CaseRepository):
    """The cases' repository, where the case goes to zhou right after the guard of a
    responder's request read its team (as if wang's acceptance deadline passed then), and
    zhou accepts it if ``zhou_accepts``."""

    zhou_accepts = False

    def case_scope(self, case_id: int) -> tuple[str | None, frozenset[str]] | None:
        scope = super().case_scope(case_id)
        self.act(case_id, CaseAction.DISPATCH, actor="op", assignee="zhou")
        if self.zhou_accepts:
            self.act(case_id, CaseAction.ACCEPT, actor="zhou")
        return scope


@pytest.mark.parametrize(("action", "zhou_accepts"), [("accept", False), ("hand_over", True)])
async def test_a_responder_taken_off_between_the_check_and_the_action_is_refused(
    app: FastAPI, admin: httpx.AsyncClient, action: str, zhou_accepts: bool
) -> None:
    """Found by an outside review: the route checked that wang was on the team, the action
    ran in a later transaction; taken off in between, wang's accept accepted zhou's part
    (the case showed accepted and stopped escalating though zhou never answered), and
    wang's hand-over passed zhou's part on to someone else."""
    case_id = open_case(app, LANYUAN_SMOKE["id"])
    for other in ("zhou", "qian"):
        body = {"id": other, "site_id": "lanyuan", "name": other, "role": "grid_worker"}
        await put(admin, f"/api/v1/responders/{other}", body)
    store: HubStore = app.state.store
    racing = TeamChangesAfterTheCheck(store.db, store.policy)
    racing.zhou_accepts = zhou_accepts
    store.cases = racing
    async with await signed_in(admin, app, "wang", "responder", ["lanyuan"]) as wang:
        body = {"assignee": "qian"} if action == "hand_over" else {}
        late = await wang.post(f"/api/v1/cases/{case_id}/{action}", json=body)
    assert late.status_code == 409, late.text
    assert "wang is not on its team" in late.json()["detail"]
    case = (await admin.get(f"/api/v1/cases/{case_id}")).json()
    assert [(m["responder"], m["accepted"]) for m in case["team"]] == [("zhou", zhou_accepts)]
    assert case["status"] == ("accepted" if zhou_accepts else "dispatched")
    assert [e["actor"] for e in case["events"]][-1] == ("zhou" if zhou_accepts else "op")


def case_locked(engine: Engine, case_id: int) -> bool:
    """Return whether another transaction holds the case's row lock (on SQLite: the write
    lock), without waiting for it."""
    if engine.dialect.name == "sqlite":
        probe = sqlite3.connect(str(engine.url.database), timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
        return False
    with engine.connect() as conn:
        try:
            conn.execute(
                select(CaseRow.id).where(CaseRow.id == case_id).with_for_update(nowait=True)
            )
        except OperationalError:
            return True
        finally:
            conn.rollback()
    return False


class RacedClock:
    """A clock whose first read, once armed, lets another worker's action on the case commit
    in between (a second store, its clock a minute later) if the case is not locked then:
    as when the action's transaction waits for its turn after reading the time."""

    def __init__(self, engine: Engine, now: datetime) -> None:
        self.now = now
        self._engine = engine
        self.armed_for: int | None = None
        self.raced = False

    def __call__(self) -> datetime:
        case_id, self.armed_for = self.armed_for, None
        if case_id is not None and not case_locked(self._engine, case_id):
            other = HubStore(self._engine, clock=lambda: self.now + timedelta(minutes=1))
            other.cases.act(case_id, CaseAction.COMMENT, note="on my way", actor="op-2")
            self.raced = True
        return self.now


@pytest.mark.parametrize(
    ("action", "resolution"),
    [(CaseAction.RESOLVE, Resolution.NUISANCE), (CaseAction.COMMENT, None)],
)
def test_an_actions_time_is_read_once_the_case_is_locked(
    engine: Engine, clock: FakeClock, action: CaseAction, resolution: Resolution | None
) -> None:
    """Found by an outside review: the time was read before the transaction waited for its
    turn and the case's lock, so an action committed meanwhile by another worker came
    before it in the case's history (and the audit chain) with a later time, and a case was
    resolved before the last line of its own history."""
    raced = RacedClock(engine, clock.now)
    store = HubStore(engine, clock=raced)
    case_id = smoke_case(store)
    raced.armed_for = case_id
    store.cases.act(case_id, action, actor="op-1", note="burnt toast", resolution=resolution)
    case = store.cases.get_case(case_id)
    times = [e.ts for e in case.events]
    assert times == sorted(times)
    if case.resolved_at is not None:
        assert case.resolved_at >= times[-1]
    actions = [e.ts for e in store.audit.list_audit(limit=1000) if e.actor is not None]
    assert None not in actions
    assert actions == sorted(t for t in actions if t is not None)
    assert not raced.raced, "the time was read before the case was locked"
