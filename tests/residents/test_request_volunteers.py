"""Volunteers (邻里守望) on residents' requests: sent by the roster beside the staff member to a
request that welcomes one, never instead of staff, never to a hazard; they answer from the
same responder routes as staff. Pure rules, then a hub on SQLite and PostgreSQL."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hub.cases.correlation import CaseCategory
from hub.cases.dispatch import NEIGHBOUR_HELP, fill_team
from hub.errors import InvalidInputError
from hub.requests.rules import RequestCategory, volunteers_welcome
from hub.roster.rules import Responder, ResponderRole
from tests.hub.conftest import FakeClock, hub_app
from tests.hub.http import api_client
from tests.hub.residents import household
from tests.hub.test_requests_api import LOCATION, responder_client, staff

NOW = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)
PLUMBER = Responder(id="plumber", site_id="s", name="Zhang", role=ResponderRole.MAINTENANCE)
CHEN = Responder(id="chen", site_id="s", name="Chen", role=ResponderRole.VOLUNTEER)
WANG = Responder(id="wang", site_id="s", name="Wang", role=ResponderRole.GRID_WORKER)


def chosen(category: CaseCategory, people: list[Responder], welcome: bool) -> list[tuple[str, str]]:
    extra = (NEIGHBOUR_HELP,) if welcome else ()
    found = fill_team(category, (), "s", None, people, NOW, "Asia/Shanghai", extra=extra)
    return [(duty.name, responder.id) for duty, responder in found]


def test_a_request_that_welcomes_one_gets_a_volunteer_beside_staff_never_instead() -> None:
    assert chosen(CaseCategory.REQUEST, [PLUMBER, CHEN], welcome=True) == [
        ("service", "plumber"),
        ("neighbour", "chen"),
    ]
    assert chosen(CaseCategory.REQUEST, [PLUMBER, CHEN], welcome=False) == [("service", "plumber")]
    # Nobody of staff on call: no volunteer alone on the request.
    assert chosen(CaseCategory.REQUEST, [CHEN], welcome=True) == []
    # Extra help waits for every staff duty: a fire without its patrol gets no volunteer.
    assert chosen(CaseCategory.LIFE_SAFETY, [WANG, CHEN], welcome=True) == [("area", "wang")]


def test_which_requests_welcome_a_volunteer() -> None:
    assert volunteers_welcome(RequestCategory.SANITATION, None) is True
    assert volunteers_welcome(RequestCategory.OTHER, None) is True
    assert volunteers_welcome(RequestCategory.REPAIR, None) is False
    assert volunteers_welcome(RequestCategory.REPAIR, True) is True
    assert volunteers_welcome(RequestCategory.SANITATION, False) is False
    assert volunteers_welcome(RequestCategory.HAZARD, None) is False
    for category in (RequestCategory.HAZARD, RequestCategory.ELEVATOR, RequestCategory.UTILITIES):
        with pytest.raises(InvalidInputError, match="volunteer cannot be sent"):
            volunteers_welcome(category, True)


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: FakeClock) -> FastAPI:
    return hub_app(database_url, tmp_path, clock)


async def log_call(client: httpx.AsyncClient, household_id: int, **body: Any) -> Any:
    response = await client.post(
        "/api/v1/requests", json={"household_id": household_id, "text": "…", **body}
    )
    return response


async def team(client: httpx.AsyncClient, case_id: int) -> list[tuple[str, str, bool]]:
    case = (await client.get(f"/api/v1/cases/{case_id}")).json()
    return [(m["duty"], m["responder"], m["accepted"]) for m in case["team"]]


async def test_a_volunteer_helps_with_rubbish_and_answers_like_staff(app: FastAPI) -> None:
    async with api_client(app) as client:
        await staff(client)
        volunteer = {"id": "chen", "site_id": "lanyuan", "name": "陈阿姨", "role": "volunteer"}
        assert (await client.put("/api/v1/responders/chen", json=volunteer)).status_code == 200
        zhao = await household(client, "Zhao", LOCATION)

        rubbish = await log_call(client, zhao["id"], category="sanitation")
        assert rubbish.status_code == 201, rubbish.text
        case_id = rubbish.json()["case_id"]
        assert rubbish.json()["request"]["volunteers"] is True
        assert await team(client, case_id) == [
            ("service", "plumber-1", False),
            ("neighbour", "chen", False),
        ]
        # The household sees who is coming, the volunteer by first name and role.
        mine = (await client.get(f"/r/{zhao['token']}/requests")).json()["items"][0]
        assert {"name": "陈", "role": "volunteer"} in mine["assigned"]

        # A repair takes no volunteer unless asked; a hazard never.
        repair = await log_call(client, zhao["id"], category="repair")
        assert await team(client, repair.json()["case_id"]) == [("service", "plumber-1", False)]
        asked = await log_call(client, zhao["id"], category="repair", volunteers=True)
        assert [m[1] for m in await team(client, asked.json()["case_id"])] == [
            "plumber-1",
            "chen",
        ]
        hazard = await log_call(client, zhao["id"], category="hazard", volunteers=True)
        assert hazard.status_code == 422
        assert "volunteer cannot be sent to a hazard" in hazard.text

        # The volunteer answers from the same routes as staff: declines one, accepts another.
        async with await responder_client(app, "chen") as chen:
            declined = await chen.post(f"/api/v1/cases/{case_id}/decline", json={})
            assert declined.status_code == 200, declined.text
            accepted = await chen.post(f"/api/v1/cases/{asked.json()['case_id']}/accept", json={})
            assert accepted.status_code == 200, accepted.text
        # Declined: off the team, the plumber still on it, nobody sent in the volunteer's place.
        assert await team(client, case_id) == [("service", "plumber-1", False)]
        assert ("neighbour", "chen", True) in await team(client, asked.json()["case_id"])
