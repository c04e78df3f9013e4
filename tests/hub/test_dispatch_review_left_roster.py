"""A responder taken off the roster (made inactive, or moved to another site) while a case waits
for their answer hands their duty on at the supervisor's next round, not at their acceptance
deadline: a maintenance case dispatched to the fitter who went home sick at 21:00 waited 24 h.

Before, their assignment stood until the deadline passed (2 min for a fire, 30 min for property
damage, 24 h for maintenance), pages going to someone the roster said could not come (outside
review of dispatch: "a page to a responder who was removed from the roster meanwhile").
Brought forward when the roster changes, not judged at each round: an operator who names a
responder the roster has as inactive (he rang in: he can go after all) is not undone.
On SQLite and PostgreSQL."""

from datetime import timedelta

from sqlalchemy import Engine

from hub.cases.rules import CaseAction, CaseEventAction
from hub.roster.rules import Responder, ResponderRole, Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.test_escalation_dispatch import sos_with_two_on_call


def second_guard(store: HubStore) -> None:
    zhao = Responder(id="zhao", site_id="lanyuan", name="zhao", role=ResponderRole.SECURITY)
    store.roster.put_responder(zhao)


def test_a_guard_made_inactive_hands_the_patrol_on_at_the_next_round(
    engine: Engine, clock: FakeClock
) -> None:
    store, case = sos_with_two_on_call(engine, clock)
    second_guard(store)
    li = next(r for r in store.roster.list_responders() if r.id == "li")
    clock.advance(10)
    store.roster.put_responder(li.model_copy(update={"active": False}))
    clock.advance(1)

    store.deadlines.fire_due_timers(clock.now)

    after = store.cases.get_case(case.id)
    assert sorted(m.responder for m in after.team) == ["wang", "zhao"]
    declined = [e for e in after.events if e.action is CaseEventAction.DECLINED]
    assert [(e.ts, e.note) for e in declined] == [(clock.now, "li is off the roster")]
    # Nobody else is touched: wang's deadline stands, and the case is not escalated.
    assert [e for e in after.events if e.action is CaseEventAction.ESCALATED] == []
    assert store.deadlines.fire_due_timers(clock.now + timedelta(seconds=30)) == []


def test_a_guard_moved_to_another_site_hands_the_patrol_on(
    engine: Engine, clock: FakeClock
) -> None:
    store, case = sos_with_two_on_call(engine, clock)
    second_guard(store)
    store.roster.put_site(Site(id="meiyuan", name="Meiyuan"))
    li = next(r for r in store.roster.list_responders() if r.id == "li")
    store.roster.put_responder(li.model_copy(update={"site_id": "meiyuan"}))
    clock.advance(1)

    store.deadlines.fire_due_timers(clock.now)

    assert sorted(m.responder for m in store.cases.get_case(case.id).team) == ["wang", "zhao"]


def test_one_who_accepted_stays_on_the_case(engine: Engine, clock: FakeClock) -> None:
    """Who said yes is on the way: the roster change does not take the case from them."""
    store, case = sos_with_two_on_call(engine, clock)
    second_guard(store)
    store.cases.act(case.id, CaseAction.ACCEPT, actor="li", for_self=True)
    li = next(r for r in store.roster.list_responders() if r.id == "li")
    store.roster.put_responder(li.model_copy(update={"active": False}))
    clock.advance(1)

    store.deadlines.fire_due_timers(clock.now)

    assert sorted(m.responder for m in store.cases.get_case(case.id).team) == ["li", "wang"]


def test_one_an_operator_names_though_inactive_is_not_undone(
    engine: Engine, clock: FakeClock
) -> None:
    store, case = sos_with_two_on_call(engine, clock)
    zhao = Responder(
        id="zhao", site_id="lanyuan", name="zhao", role=ResponderRole.SECURITY, active=False
    )
    store.roster.put_responder(zhao)
    store.cases.act(case.id, CaseAction.DISPATCH, actor="op.li", assignee="zhao")
    clock.advance(1)

    store.deadlines.fire_due_timers(clock.now)

    assert sorted(m.responder for m in store.cases.get_case(case.id).team) == ["wang", "zhao"]
