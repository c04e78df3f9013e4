"""Volunteers (邻里守望): wellbeing checks beside the grid worker; elsewhere only extra help."""

from datetime import UTC, datetime

from hub.cases.actions import CaseFacts, PersonAction, decide_action
from hub.cases.correlation import CaseCategory
from hub.cases.dispatch import HELPER_DUTY, Assignment, fill_team
from hub.cases.rules import CaseAction, CaseStatus
from hub.roster.rules import Responder, ResponderRole

NOW = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)
WANG = Responder(id="wang", site_id="s", name="Wang", role=ResponderRole.GRID_WORKER)
LI = Responder(id="li", site_id="s", name="Li", role=ResponderRole.SECURITY)
CHEN = Responder(id="chen", site_id="s", name="Chen", role=ResponderRole.VOLUNTEER)


def chosen(category: CaseCategory, people: list[Responder]) -> list[tuple[str, str]]:
    found = fill_team(category, (), "s", None, people, NOW, "Asia/Shanghai")
    return [(duty.name, responder.id) for duty, responder in found]


def test_a_wellbeing_check_goes_to_the_grid_worker_and_a_volunteer_neighbour() -> None:
    assert chosen(CaseCategory.WELLBEING, [WANG, CHEN]) == [
        ("check", "wang"),
        ("neighbour", "chen"),
    ]
    # Without staff on call the volunteer still goes; the check's lead duty waits for staff.
    assert chosen(CaseCategory.WELLBEING, [CHEN]) == [("neighbour", "chen")]


def test_a_volunteer_is_never_chosen_for_life_safety_or_a_request() -> None:
    assert chosen(CaseCategory.LIFE_SAFETY, [CHEN]) == []
    assert chosen(CaseCategory.REQUEST, [CHEN]) == []
    assert chosen(CaseCategory.LIFE_SAFETY, [WANG, LI, CHEN]) == [
        ("area", "wang"),
        ("patrol", "li"),
    ]


def test_an_operator_sends_a_volunteer_to_a_fire_as_extra_help_not_instead_of_staff() -> None:
    team = (Assignment("area", "wang", accepted=True), Assignment("patrol", "li"))
    case = CaseFacts(
        id=7,
        status=CaseStatus.ACCEPTED,
        category=CaseCategory.LIFE_SAFETY,
        team=team,
        declined=(),
        acknowledged_at=NOW,
        site_id="s",
    )
    outcome = decide_action(
        case, PersonAction(CaseAction.DISPATCH, assignee="chen"), NOW, named=CHEN
    )
    assert [(a.duty, a.responder) for a in outcome.team] == [
        ("area", "wang"),
        ("patrol", "li"),
        (HELPER_DUTY, "chen"),
    ]
    assert outcome.status is CaseStatus.ACCEPTED
