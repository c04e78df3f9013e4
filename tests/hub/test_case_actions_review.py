"""Outside review of people's actions on cases: what the audit trail says they did."""

from dataclasses import replace

import httpx
import pytest
from fastapi import FastAPI

from hub.cases.actions import PersonAction, decide_action
from hub.cases.dispatch import Assignment
from hub.cases.rules import CaseAction, CaseStatus, Resolution
from hub.errors import IllegalTransitionError
from hub.roster.rules import Responder, ResponderRole
from tests.hub.test_case_actions import DISPATCHED, NOW
from tests.hub.test_case_scope import LANYUAN_SMOKE, admin, open_case, put

__all__ = ["admin"]

ZHAO = Responder(id="zhao", site_id="lanyuan", name="Zhao", role=ResponderRole.GRID_WORKER)
ON_IT = replace(
    DISPATCHED,
    status=CaseStatus.ACCEPTED,
    team=(Assignment("area", "wang", accepted=True), Assignment("patrol", "li")),
)


def test_a_dispatch_that_replaces_a_member_names_who_was_taken_off() -> None:
    """Found by an outside review: a named dispatch takes the duty of whoever held it, even a
    responder who accepted and is on the way, and the trail said only who joined: nothing
    recorded that wang was taken off the fire."""
    outcome = decide_action(
        ON_IT, PersonAction(CaseAction.DISPATCH, actor="op", assignee="zhao"), NOW, named=ZHAO
    )
    assert outcome.team == (Assignment("area", "zhao"), Assignment("patrol", "li"))
    assert outcome.detail == {
        "from": "accepted",
        "assignee": "zhao",
        "removed": "wang",
        "to": "dispatched",
    }


def test_an_operators_hand_over_names_whose_part_it_passed_on() -> None:
    outcome = decide_action(
        ON_IT, PersonAction(CaseAction.HAND_OVER, actor="op", assignee="zhao"), NOW, named=ZHAO
    )
    assert outcome.detail["removed"] == "wang"
    assert outcome.detail["assignee"] == "zhao"


def test_actions_that_take_nobody_off_say_nothing_of_it() -> None:
    for request in (
        PersonAction(CaseAction.ACCEPT, actor="li"),
        PersonAction(CaseAction.START, actor="wang"),
        PersonAction(CaseAction.COMMENT, actor="op", note="on the way"),
        PersonAction(CaseAction.RESOLVE, actor="op", note="out", resolution=Resolution.REAL),
    ):
        assert "removed" not in decide_action(ON_IT, request, NOW).detail, request.action
    # A decline names the one who declined already.
    declined = decide_action(DISPATCHED, PersonAction(CaseAction.DECLINE, actor="wang"), NOW)
    assert "removed" not in declined.detail
    assert declined.detail["declined_by"] == "wang"


async def test_the_trail_names_the_responder_a_dispatch_took_off(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    case_id = open_case(app, LANYUAN_SMOKE["id"])
    responder = {"id": "qian", "site_id": "lanyuan", "name": "qian", "role": "grid_worker"}
    await put(admin, "/api/v1/responders/qian", responder)
    accepted = await admin.post(f"/api/v1/cases/{case_id}/accept")
    assert accepted.status_code == 200, accepted.text
    sent = await admin.post(f"/api/v1/cases/{case_id}/dispatch", json={"assignee": "qian"})
    assert sent.status_code == 200, sent.text
    assert [m["responder"] for m in sent.json()["team"]] == ["qian"]
    trail = (await admin.get("/api/v1/audit", params={"limit": 1000})).json()["items"]
    [dispatched] = [e for e in trail if e["action"] == "dispatched" and e["actor"] is not None]
    assert dispatched["detail"]["assignee"] == "qian"
    assert dispatched["detail"]["removed"] == "wang"


def test_a_member_who_has_not_accepted_cannot_say_work_started() -> None:
    """Found by an outside review: li, asked but not answering, could mark wang's accepted
    case in progress (and be recorded as the one who started it) without ever accepting."""
    with pytest.raises(IllegalTransitionError, match="case 7: li has not accepted it"):
        decide_action(ON_IT, PersonAction(CaseAction.START, actor="li"), NOW)
    started = decide_action(ON_IT, PersonAction(CaseAction.START, actor="wang"), NOW)
    assert started.status is CaseStatus.IN_PROGRESS
    # An operator, on no team, says so for the team.
    by_operator = decide_action(ON_IT, PersonAction(CaseAction.START, actor="op"), NOW)
    assert by_operator.status is CaseStatus.IN_PROGRESS


def test_a_dispatched_case_is_acknowledged_once() -> None:
    """Found by an outside review: a dispatched case took any number of acknowledgements, so a
    double click or a retried request recorded the action twice and paged the team again."""
    first = decide_action(DISPATCHED, PersonAction(CaseAction.ACKNOWLEDGE, actor="op"), NOW)
    assert (first.status, first.acknowledged_at) == (CaseStatus.DISPATCHED, NOW)
    seen = replace(DISPATCHED, acknowledged_at=NOW)
    with pytest.raises(IllegalTransitionError, match="case 7: it was acknowledged already"):
        decide_action(seen, PersonAction(CaseAction.ACKNOWLEDGE, actor="op-2"), NOW)


async def test_a_retried_acknowledgement_is_refused_and_recorded_once(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    case_id = open_case(app, LANYUAN_SMOKE["id"])  # the hub dispatched it to wang
    first = await admin.post(f"/api/v1/cases/{case_id}/acknowledge", json={"note": "seen"})
    assert first.status_code == 200, first.text
    again = await admin.post(f"/api/v1/cases/{case_id}/acknowledge", json={"note": "seen"})
    assert again.status_code == 409
    assert "acknowledged already" in again.json()["detail"]
    trail = (await admin.get("/api/v1/audit", params={"limit": 1000})).json()["items"]
    assert [e["case_id"] for e in trail if e["action"] == "acknowledged"] == [case_id]
    shown = (await admin.get(f"/api/v1/cases/{case_id}")).json()
    assert shown["status"] == "dispatched"
    # The case no longer offers what it refuses: the console shows the view's actions only.
    assert "acknowledge" not in shown["actions"]
    assert "dispatch" in shown["actions"]


def test_a_case_declined_back_to_open_may_be_acknowledged_again() -> None:
    declined_back = replace(DISPATCHED, status=CaseStatus.OPEN, team=(), acknowledged_at=NOW)
    outcome = decide_action(declined_back, PersonAction(CaseAction.ACKNOWLEDGE, actor="op"), NOW)
    assert outcome.status is CaseStatus.ACKNOWLEDGED
