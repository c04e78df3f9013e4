"""What responders, operators and households write for others to read must show something, and
show it as it was written, as a request's text does (``test_request_text_visible``).

A case action's note (the resolution note the household reads among its request's updates, a
comment on the case, an acceptance), a responder's update to a request and a household's rating
comment took text made only of zero-width characters, and kept bidi overrides that make a note
read otherwise than it was written. Now one with nothing visible is refused (422, nothing
changes) and bidi controls are dropped from what is stored; an optional note or comment left
empty or only spaces is still no note at all.
"""

from typing import Any

import httpx
import pytest

from hub.requests.rules import COMMENT_SHOWS_NOTHING, NOTE_SHOWS_NOTHING
from tests.hub.conftest import clock
from tests.hub.residents import household
from tests.hub.test_requests_api import LOCATION
from tests.residents.test_request_text_visible import client

__all__ = ["client", "clock"]

INVISIBLE = {
    "zero-width": "\u200b\u200c\u200d\u2060\ufeff",
    "zero-width between spaces": " \u200b \u3000\u200b ",
    "bidi controls only": "\u202e\u2066\u2069\u202c",
}

REVERSED = "管道\u202e好修已\u202c 谢谢"
KEPT = "管道好修已 谢谢"


async def opened(client: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    """Report a leak for a new household; return its token and the request as it sees it."""
    home = await household(client, "Wang family", LOCATION)
    data = {"category": "repair", "text": "Water drips through the ceiling"}
    response = await client.post(f"/r/{home['token']}/requests", data=data)
    assert response.status_code == 201, response.text
    mine: dict[str, Any] = response.json()
    return home["token"], mine


async def case_of(client: httpx.AsyncClient, request_id: int) -> dict[str, Any]:
    """Return the request's case as the operator reads it, with its history."""
    seen = (await client.get(f"/api/v1/requests/{request_id}")).json()
    case: dict[str, Any] = (await client.get(f"/api/v1/cases/{seen['case_id']}")).json()
    return case


async def resolve(client: httpx.AsyncClient, case_id: int, note: str) -> httpx.Response:
    return await client.post(
        f"/api/v1/cases/{case_id}/resolve", json={"resolution": "real", "note": note}
    )


@pytest.mark.parametrize("note", INVISIBLE.values(), ids=INVISIBLE)
async def test_a_resolution_note_with_nothing_visible_is_refused(
    client: httpx.AsyncClient, note: str
) -> None:
    token, mine = await opened(client)
    case = await case_of(client, mine["id"])
    response = await resolve(client, case["id"], note)
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == NOTE_SHOWS_NOTHING
    assert (await case_of(client, mine["id"]))["status"] == case["status"]
    followed = (await client.get(f"/r/{token}/requests/{mine['id']}")).json()
    assert (followed["stage"], followed["updates"]) == ("assigned", [])


async def test_the_household_reads_the_resolution_note_as_it_was_written(
    client: httpx.AsyncClient,
) -> None:
    token, mine = await opened(client)
    case = await case_of(client, mine["id"])
    assert (await resolve(client, case["id"], REVERSED)).status_code == 200
    followed = (await client.get(f"/r/{token}/requests/{mine['id']}")).json()
    assert [u["note"] for u in followed["updates"]] == [KEPT]


@pytest.mark.parametrize("action", ["comment", "accept", "acknowledge"])
@pytest.mark.parametrize("note", INVISIBLE.values(), ids=INVISIBLE)
async def test_a_case_note_with_nothing_visible_is_refused(
    client: httpx.AsyncClient, action: str, note: str
) -> None:
    _token, mine = await opened(client)
    case = await case_of(client, mine["id"])
    response = await client.post(f"/api/v1/cases/{case['id']}/{action}", json={"note": note})
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == NOTE_SHOWS_NOTHING
    assert (await case_of(client, mine["id"]))["events"] == case["events"]


async def test_a_comment_on_a_case_keeps_no_bidi_controls(client: httpx.AsyncClient) -> None:
    _token, mine = await opened(client)
    case = await case_of(client, mine["id"])
    response = await client.post(f"/api/v1/cases/{case['id']}/comment", json={"note": REVERSED})
    assert response.status_code == 200, response.text
    events = (await case_of(client, mine["id"]))["events"]
    assert events[-1]["action"] == "commented"
    assert events[-1]["note"] == KEPT


@pytest.mark.parametrize("note", INVISIBLE.values(), ids=INVISIBLE)
async def test_an_update_whose_note_shows_nothing_is_refused(
    client: httpx.AsyncClient, note: str
) -> None:
    token, mine = await opened(client)
    response = await client.post(f"/api/v1/requests/{mine['id']}/updates", data={"note": note})
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == NOTE_SHOWS_NOTHING
    assert (await client.get(f"/api/v1/requests/{mine['id']}")).json()["updates"] == []
    assert (await client.get(f"/r/{token}/requests/{mine['id']}")).json()["updates"] == []


async def test_the_household_reads_an_update_as_it_was_written(
    client: httpx.AsyncClient,
) -> None:
    token, mine = await opened(client)
    response = await client.post(f"/api/v1/requests/{mine['id']}/updates", data={"note": REVERSED})
    assert response.status_code == 201, response.text
    followed = (await client.get(f"/r/{token}/requests/{mine['id']}")).json()
    assert [u["note"] for u in followed["updates"]] == [KEPT]


async def done(client: httpx.AsyncClient) -> tuple[str, int]:
    """Open a request and resolve it; return the household's token and the request's id."""
    token, mine = await opened(client)
    case = await case_of(client, mine["id"])
    assert (await resolve(client, case["id"], "Pipe changed")).status_code == 200
    return token, mine["id"]


@pytest.mark.parametrize("comment", INVISIBLE.values(), ids=INVISIBLE)
async def test_a_rating_comment_with_nothing_visible_is_refused(
    client: httpx.AsyncClient, comment: str
) -> None:
    token, request_id = await done(client)
    rated = await client.post(
        f"/r/{token}/requests/{request_id}/rating", json={"score": 5, "comment": comment}
    )
    assert rated.status_code == 422, rated.text
    assert rated.json()["detail"] == COMMENT_SHOWS_NOTHING
    followed = (await client.get(f"/r/{token}/requests/{request_id}")).json()
    assert (followed["rating"], followed["can_rate"]) == (None, True)
    assert (await client.get(f"/api/v1/requests/{request_id}")).json()["ratings"] == []


async def test_a_rating_comment_keeps_no_bidi_controls(client: httpx.AsyncClient) -> None:
    token, request_id = await done(client)
    rated = await client.post(
        f"/r/{token}/requests/{request_id}/rating", json={"score": 4, "comment": REVERSED}
    )
    assert rated.status_code == 200, rated.text
    [rating] = (await client.get(f"/api/v1/requests/{request_id}")).json()["ratings"]
    assert rating["comment"] == KEPT


async def test_a_not_fixed_comment_reopens_the_case_with_it_as_written(
    client: httpx.AsyncClient,
) -> None:
    token, request_id = await done(client)
    rated = await client.post(
        f"/r/{token}/requests/{request_id}/rating",
        json={"score": 1, "comment": REVERSED, "fixed": False},
    )
    assert rated.status_code == 200, rated.text
    events = (await case_of(client, request_id))["events"]
    [reopened] = [e for e in events if e["action"] == "reopened"]
    assert reopened["note"] == f"the household says it is not fixed: {KEPT}"


async def test_a_rating_comment_left_empty_is_no_comment(client: httpx.AsyncClient) -> None:
    token, request_id = await done(client)
    rated = await client.post(
        f"/r/{token}/requests/{request_id}/rating", json={"score": 5, "comment": "  "}
    )
    assert rated.status_code == 200, rated.text
    [rating] = (await client.get(f"/api/v1/requests/{request_id}")).json()["ratings"]
    assert rating["comment"] is None
