"""A request not done within 48 h climbs to the street (PRODUCT.md scenario 13, first half):
the pure deadline rule, then a hub store on SQLite and PostgreSQL on an injected clock."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine

from hub.cases.correlation import CaseCategory
from hub.cases.rules import CaseAction, CaseStatus, Resolution
from hub.cases.supervision import (
    DEFAULT_POLICY,
    Escalate,
    Satisfied,
    SupervisedCase,
    TimerKind,
    on_timer,
    resolve_timer,
    supervision_policy,
)
from hub.requests.repository import NewRequest
from hub.requests.rules import RequestCategory, RequestSource
from hub.residents.rules import issue_token
from hub.roster.rules import Grid, Responder, ResponderRole, Site
from hub.settings import HubSettings
from hub.store import HubStore
from tests.hub.conftest import FakeClock

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def facts(status: CaseStatus, level: int = 0) -> SupervisedCase:
    return SupervisedCase(
        status=status,
        category=CaseCategory.REQUEST,
        acknowledged=True,
        waiting=frozenset(),
        escalation_level=level,
    )


def test_the_resolution_deadlines_are_a_setting() -> None:
    """48 h for a request unless the site says otherwise; another category may get one."""
    assert supervision_policy(HubSettings()).resolve_within == {
        CaseCategory.REQUEST: timedelta(hours=48)
    }
    site = HubSettings(resolve_within_s={"request": 86400, "property": 3 * 86400})
    policy = supervision_policy(site)
    assert policy.resolve_within == {
        CaseCategory.REQUEST: timedelta(days=1),
        CaseCategory.PROPERTY: timedelta(days=3),
    }
    timer = resolve_timer(CaseCategory.PROPERTY, NOW, policy)
    assert timer is not None
    assert timer.due_at == NOW + timedelta(days=3)
    with pytest.raises(ValidationError):
        HubSettings(resolve_within_s={"request": 0})
    with pytest.raises(ValidationError):
        HubSettings(resolve_within_s={"nonsense": 60})


def test_a_request_not_done_in_48_hours_climbs_one_level_and_is_checked_again() -> None:
    timer = resolve_timer(CaseCategory.REQUEST, NOW, DEFAULT_POLICY)
    assert timer is not None
    assert (timer.kind, timer.due_at) == (TimerKind.RESOLVE, NOW + timedelta(hours=48))
    assert resolve_timer(CaseCategory.LIFE_SAFETY, NOW, DEFAULT_POLICY) is None
    late = timer.due_at
    outcome = on_timer(facts(CaseStatus.ACCEPTED), timer, late, DEFAULT_POLICY)
    assert isinstance(outcome, Escalate)
    assert (outcome.level, outcome.repeated, outcome.overdue) == (1, False, TimerKind.RESOLVE)
    assert DEFAULT_POLICY.level_name(outcome.level) == "street"
    assert outcome.next.due_at == late + timedelta(hours=48)
    at_top = on_timer(facts(CaseStatus.IN_PROGRESS, level=2), timer, late, DEFAULT_POLICY)
    assert isinstance(at_top, Escalate)
    assert at_top.repeated
    assert on_timer(facts(CaseStatus.RESOLVED), timer, late, DEFAULT_POLICY) == Satisfied()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def store(engine: Engine, clock: FakeClock) -> HubStore:
    hub = HubStore(engine, clock=clock)
    hub.roster.put_site(Site(id="lanyuan", name="Lanyuan"))
    hub.roster.put_grid(Grid(id="g-b3", site_id="lanyuan", name="B3", places=["Building 3"]))
    hub.roster.put_responder(
        Responder(id="plumber-1", site_id="lanyuan", name="Zhang", role=ResponderRole.MAINTENANCE)
    )
    return hub


def open_request(store: HubStore, text: str) -> int:
    home = store.households.create_household(text, "Building 3/Floor 1/101", [], issue_token()[1])
    new = NewRequest(
        household_id=home.id,
        category=RequestCategory.REPAIR,
        text=text,
        source=RequestSource.OPERATOR,
    )
    case_id = store.requests.open_request(new, []).case.id
    store.cases.act(case_id, CaseAction.ACCEPT, actor="plumber-1")
    return case_id


def test_a_repair_nobody_finishes_in_48_hours_climbs_to_the_street(
    store: HubStore, clock: FakeClock
) -> None:
    stuck = open_request(store, "Stair light broken")
    fixed = open_request(store, "Tap drips")
    clock.advance(24 * 3600)
    store.cases.act(fixed, CaseAction.RESOLVE, note="new washer", resolution=Resolution.REAL)

    clock.advance(24 * 3600 - 1)  # 1 s before 48 h: nothing yet
    assert store.deadlines.fire_due_timers(clock.now) == []
    clock.advance(1)
    [climbed] = store.deadlines.fire_due_timers(clock.now)
    assert (climbed.id, climbed.escalation_level) == (stuck, 1)
    case = store.cases.get_case(stuck)
    [line] = [e for e in case.events if e.action == "escalated"]
    assert line.note == "not done in time: escalated to the street level"
    assert store.cases.get_case(fixed).escalation_level == 0  # done in time

    clock.advance(48 * 3600)  # still not done two days later: the district
    [again] = store.deadlines.fire_due_timers(clock.now)
    assert again.escalation_level == 2


def test_a_request_an_operator_reopens_gets_48_hours_anew(
    store: HubStore, clock: FakeClock
) -> None:
    """Resolved at 40 h, reopened by an operator at 41 h ("the plumber never came"): the 48 h
    start again from the reopening. Before, the first attempt's deadline still fired at 48 h
    on top of the reopened case's own escalation, and one that had fired while the case was
    resolved left the reopened request never to climb for being unfinished."""
    case_id = open_request(store, "Ceiling leaks")
    clock.advance(40 * 3600)
    store.cases.act(case_id, CaseAction.RESOLVE, note="fixed", resolution=Resolution.REAL)
    clock.advance(3600)
    store.cases.act(case_id, CaseAction.REOPEN, actor="op", note="the plumber never came")
    store.cases.act(case_id, CaseAction.ACCEPT, actor="plumber-1")  # taken on again at once
    clock.advance(7 * 3600)  # 48 h after the request opened
    assert store.deadlines.fire_due_timers(clock.now) == []
    assert store.cases.get_case(case_id).escalation_level == 0
    clock.advance(41 * 3600 - 1)  # 1 s before 48 h after the reopening
    assert store.deadlines.fire_due_timers(clock.now) == []
    clock.advance(1)
    [climbed] = store.deadlines.fire_due_timers(clock.now)
    assert (climbed.id, climbed.escalation_level) == (case_id, 1)


def test_a_request_reopened_after_its_deadline_passed_still_climbs(
    store: HubStore, clock: FakeClock
) -> None:
    case_id = open_request(store, "Door does not shut")
    clock.advance(24 * 3600)
    store.cases.act(case_id, CaseAction.RESOLVE, note="planed", resolution=Resolution.REAL)
    clock.advance(30 * 3600)  # the first deadline fires on a resolved case: nothing to do
    assert store.deadlines.fire_due_timers(clock.now) == []
    store.cases.act(case_id, CaseAction.REOPEN, actor="op", note="still sticks")
    store.cases.act(case_id, CaseAction.ACCEPT, actor="plumber-1")
    clock.advance(48 * 3600)
    [climbed] = store.deadlines.fire_due_timers(clock.now)
    assert (climbed.id, climbed.escalation_level) == (case_id, 1)
