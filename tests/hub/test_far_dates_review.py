"""Found by an outside review: a time whose UTC value falls outside the years 1 to 9999 (the
year 1 at +14:00) answered 500 where a route stored it. The routes refuse it as invalid
input, and a value one of them misses is still a 422 that changes nothing."""

import inspect
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import StatementError
from starlette.requests import Request

from hub.errors import InvalidInputError
from hub.http.times import StorableDatetime, check_storable
from tests.hub.factories import T0
from tests.hub.residents import household
from tests.hub.test_requests_api import LOCATION, staff

pytestmark = pytest.mark.fake_clock

API = "/api/v1"
FAR = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00")
"""Valid ISO times whose UTC values are the year 0 and the year 10000."""


@pytest.mark.parametrize("value", FAR)
def test_a_time_outside_the_years_a_database_holds_is_invalid(value: str) -> None:
    with pytest.raises(ValidationError, match="outside the years 1 to 9999"):
        TypeAdapter(StorableDatetime).validate_python(value)
    with pytest.raises(InvalidInputError, match="until lies outside"):
        check_storable(datetime.fromisoformat(value), "until")


def test_the_first_and_last_instants_are_storable() -> None:
    edges = ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999+00:00")
    for value in edges:
        assert TypeAdapter(StorableDatetime).validate_python(value).tzinfo is not None
        check_storable(datetime.fromisoformat(value), "until")


async def test_a_far_off_visit_time_is_refused(client: httpx.AsyncClient) -> None:
    await staff(client)
    created = await household(client, "Zhao family", LOCATION)
    call = {"household_id": created["id"], "category": "elevator", "text": "Lift stuck"}
    opened = await client.post(f"{API}/requests", json=call)
    assert opened.status_code == 201, opened.text
    url = f"{API}/requests/{opened.json()['request']['id']}"
    before = (await client.get(url)).json()
    for value in FAR:
        refused = await client.post(f"{url}/updates", data={"visit_at": value})
        assert refused.status_code == 422, refused.text
        assert "outside the years 1 to 9999" in refused.text
    assert (await client.get(url)).json() == before


async def test_a_far_off_away_time_is_refused(client: httpx.AsyncClient) -> None:
    created = await household(client, "Chen family", LOCATION)
    url = f"{API}/households/{created['id']}/care"
    flagged = await client.put(url, json={"consent": {"by": "Chen"}})
    assert flagged.status_code == 200, flagged.text
    for value in FAR:
        settings = {"consent": {"by": "Chen"}, "away_until": value}
        for refused in (
            await client.put(url, json=settings),
            await client.post(f"{url}/away", json={"until": value}),
        ):
            assert refused.status_code == 422, refused.text
            assert "outside the years 1 to 9999" in refused.text
    assert (await client.get(url)).json()["away_until"] is None


async def test_a_far_off_window_on_the_residents_page_is_refused(
    client: httpx.AsyncClient,
) -> None:
    """The residents' page's request form, a window starting in the year 0 in UTC: a 422 that
    stores nothing."""
    created = await household(client, "Li family", LOCATION)
    token = created["token"]
    until = (T0 + timedelta(days=1)).astimezone(UTC).isoformat()
    data = {"category": "repair", "text": "Tap drips", "preferred_until": until}
    refused = await client.post(f"/r/{token}/requests", data=data | {"preferred_from": FAR[0]})
    assert refused.status_code == 422, refused.text
    assert (await client.get(f"/r/{token}/requests")).json()["items"] == []


async def test_a_far_off_time_a_route_misses_is_refused_by_the_backstop(app: FastAPI) -> None:
    """What the database layer raises converting a time no route refused (SQLAlchemy wraps
    the OverflowError in a StatementError) is a 422; any other failed statement stays a 500."""
    handler = app.exception_handlers[StatementError]
    request = Request({"type": "http", "method": "POST", "path": "/", "headers": []})
    overflow = StatementError("date value out of range", "INSERT", {}, OverflowError("year 0"))
    response = handler(request, overflow)
    assert inspect.isawaitable(response)
    assert (await response).status_code == 422
    other = StatementError("boom", "INSERT", {}, ValueError("something else"))
    failed = handler(request, other)
    assert inspect.isawaitable(failed)
    with pytest.raises(StatementError):
        await failed
