"""The pure core of people's actions on a case (``hub.cases.actions``), on plain values."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from hub.cases.actions import CaseFacts, PersonAction, decide_action
from hub.cases.correlation import CaseCategory
from hub.cases.dispatch import Assignment, Duty
from hub.cases.rules import CaseAction, CaseEventAction, CaseStatus, Resolution
from hub.errors import IllegalTransitionError, InvalidInputError
from hub.roster.rules import Responder, ResponderRole

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
AREA, PATROL = Duty("area", (ResponderRole.GRID_WORKER,)), Duty("patrol", (ResponderRole.SECURITY,))
WANG = Responder(id="wang", site_id="lanyuan", name="Wang", role=ResponderRole.GRID_WORKER)
LI = Responder(id="li", site_id="lanyuan", name="Li", role=ResponderRole.SECURITY)
QIAN = Responder(id="qian", site_id="meiyuan", name="Qian", role=ResponderRole.SECURITY)

DISPATCHED = CaseFacts(
    id=7,
    status=CaseStatus.DISPATCHED,
    category=CaseCategory.LIFE_SAFETY,
    team=(Assignment("area", "wang"), Assignment("patrol", "li")),
    declined=(),
    acknowledged_at=None,
    site_id="lanyuan",
)
OPEN = replace(DISPATCHED, status=CaseStatus.OPEN, team=())


def test_the_first_accept_makes_the_case_accepted_and_acknowledged() -> None:
    outcome = decide_action(DISPATCHED, PersonAction(CaseAction.ACCEPT, actor="li"), NOW)
    assert outcome.status is CaseStatus.ACCEPTED
    assert outcome.team == (Assignment("area", "wang"), Assignment("patrol", "li", accepted=True))
    assert outcome.acknowledged_at == NOW  # accepting tells the resident someone is coming
    assert (outcome.event, outcome.detail) == (
        CaseEventAction.ACCEPTED,
        {"from": "dispatched", "responder": "li", "to": "accepted"},
    )
    assert not outcome.redispatch
    assert not outcome.added


def test_a_decline_frees_only_that_duty_and_passes_it_on() -> None:
    outcome = decide_action(DISPATCHED, PersonAction(CaseAction.DECLINE, actor="wang"), NOW)
    assert outcome.team == (Assignment("patrol", "li"),)
    assert outcome.status is CaseStatus.DISPATCHED  # li still has to answer
    assert outcome.declined == ("wang",)
    assert outcome.redispatch


def test_the_last_decline_sends_the_case_back_to_open() -> None:
    alone = replace(DISPATCHED, team=(Assignment("area", "wang"),))
    outcome = decide_action(alone, PersonAction(CaseAction.DECLINE, actor="wang"), NOW)
    assert (outcome.status, outcome.team) == (CaseStatus.OPEN, ())


def test_someone_who_accepted_cannot_decline() -> None:
    accepted = replace(
        DISPATCHED,
        status=CaseStatus.ACCEPTED,
        team=(Assignment("area", "wang", accepted=True), Assignment("patrol", "li")),
    )
    with pytest.raises(IllegalTransitionError, match="case 7: wang has accepted it"):
        decide_action(accepted, PersonAction(CaseAction.DECLINE, actor="wang"), NOW)


def test_an_unnamed_dispatch_takes_whoever_the_rules_chose() -> None:
    outcome = decide_action(
        OPEN, PersonAction(CaseAction.DISPATCH), NOW, on_call=[(AREA, WANG), (PATROL, LI)]
    )
    assert outcome.added == (Assignment("area", "wang"), Assignment("patrol", "li"))
    assert outcome.status is CaseStatus.DISPATCHED
    assert outcome.detail["assignee"] == "wang, li"


def test_an_unnamed_dispatch_with_nobody_on_call_says_to_name_someone() -> None:
    with pytest.raises(IllegalTransitionError, match="no responder is on call for it: name one"):
        decide_action(OPEN, PersonAction(CaseAction.DISPATCH), NOW)


def test_a_named_responder_takes_the_duty_their_role_fits() -> None:
    only_area = replace(DISPATCHED, team=(Assignment("area", "wang"),))
    guard = Responder(id="zhao", site_id="lanyuan", name="Zhao", role=ResponderRole.SECURITY)
    outcome = decide_action(
        only_area, PersonAction(CaseAction.DISPATCH, assignee="zhao"), NOW, named=guard
    )
    assert outcome.team == (Assignment("area", "wang"), Assignment("patrol", "zhao"))
    assert outcome.added == (Assignment("patrol", "zhao"),)


@pytest.mark.parametrize(
    ("named", "error", "message"),
    [
        (None, InvalidInputError, "responder ghost does not exist"),
        (QIAN, InvalidInputError, "qian works at site meiyuan, not at the case's site lanyuan"),
        (LI, IllegalTransitionError, "case 7: li is already on it"),
    ],
)
def test_a_named_responder_must_exist_work_there_and_be_new_to_the_case(
    named: Responder | None, error: type[Exception], message: str
) -> None:
    assignee = "ghost" if named is None else named.id
    with pytest.raises(error, match=message):
        decide_action(
            DISPATCHED, PersonAction(CaseAction.DISPATCH, assignee=assignee), NOW, named=named
        )


def test_a_hand_over_passes_only_the_callers_part() -> None:
    accepted = replace(
        DISPATCHED,
        status=CaseStatus.ACCEPTED,
        team=(Assignment("area", "wang", accepted=True), Assignment("patrol", "li")),
    )
    guard = Responder(id="zhao", site_id="lanyuan", name="Zhao", role=ResponderRole.SECURITY)
    outcome = decide_action(
        accepted,
        PersonAction(CaseAction.HAND_OVER, actor="li", assignee="zhao"),
        NOW,
        named=guard,
    )
    assert outcome.team == (
        Assignment("area", "wang", accepted=True),
        Assignment("patrol", "zhao"),
    )


def test_resolving_needs_a_code_and_a_note_and_frees_the_incident() -> None:
    with pytest.raises(InvalidInputError, match="needs a resolution code"):
        decide_action(DISPATCHED, PersonAction(CaseAction.RESOLVE, note="out"), NOW)
    with pytest.raises(InvalidInputError, match="needs a note"):
        decide_action(
            DISPATCHED,
            PersonAction(CaseAction.RESOLVE, note="  ", resolution=Resolution.REAL),
            NOW,
        )
    outcome = decide_action(
        DISPATCHED,
        PersonAction(CaseAction.RESOLVE, note="out", resolution=Resolution.FALSE_ALARM),
        NOW,
    )
    assert (outcome.status, outcome.resolution) == (CaseStatus.RESOLVED, Resolution.FALSE_ALARM)
    assert outcome.detail["resolution"] == "false_alarm"
    assert not outcome.reclaim_key


def test_reopening_starts_afresh_and_reclaims_the_incident() -> None:
    resolved = replace(
        DISPATCHED,
        status=CaseStatus.RESOLVED,
        declined=("zhou",),
        acknowledged_at=NOW,
    )
    outcome = decide_action(resolved, PersonAction(CaseAction.REOPEN, actor="op"), NOW)
    assert (outcome.status, outcome.team, outcome.declined) == (CaseStatus.OPEN, (), ())
    assert outcome.acknowledged_at is None
    assert outcome.reclaim_key
    assert outcome.reset_escalation
    assert outcome.schedule_acknowledgement
    assert outcome.redispatch


def test_a_comment_changes_nothing_but_needs_a_note() -> None:
    with pytest.raises(InvalidInputError, match="a comment needs a note"):
        decide_action(DISPATCHED, PersonAction(CaseAction.COMMENT), NOW)
    outcome = decide_action(DISPATCHED, PersonAction(CaseAction.COMMENT, note="called her"), NOW)
    assert (outcome.status, outcome.team) == (DISPATCHED.status, DISPATCHED.team)
    assert outcome.acknowledged_at is None


def test_an_illegal_move_names_the_case_and_changes_nothing() -> None:
    with pytest.raises(IllegalTransitionError, match="case 7: cannot accept a case that is open"):
        decide_action(OPEN, PersonAction(CaseAction.ACCEPT, actor="li"), NOW)
