"""A responder writes on the record of the cases they are on only: ``respond`` is the
permission of a case assigned to oneself (``hub.auth.rules``), and a note posted to a request
is refused to a responder not on its case already, yet a comment on any case of their site
went on its record (found by an outside review)."""

import httpx
import pytest
from fastapi import FastAPI

from hub.auth.rules import Role
from tests.hub.http import ok, token_client
from tests.hub.test_scoping_more import admin, new_household  # noqa: F401 - two sites

pytestmark = pytest.mark.fake_clock

API = "/api/v1"


async def test_a_responder_comments_only_on_a_case_they_are_on(
    app: FastAPI,
    admin: httpx.AsyncClient,  # noqa: F811
) -> None:
    liu = {"id": "liu", "site_id": "meiyuan", "name": "Liu", "role": "security"}
    await ok(await admin.put(f"{API}/responders/liu", json=liu))
    home = await new_household(admin, "Chen", "Building 9/Unit 101", "mei-sos")
    body = {"household_id": home["id"], "category": "sanitation", "text": "bins"}
    opened = await ok(await admin.post(f"{API}/requests", json=body), 201)
    case_id = opened["case_id"]
    team = (await ok(await admin.get(f"{API}/cases/{case_id}")))["team"]
    assert [m["responder"] for m in team] == ["zhao"]

    meiyuan = frozenset({"meiyuan"})
    async with (
        token_client(app, Role.RESPONDER, sites=meiyuan, name="liu") as guard,
        token_client(app, Role.RESPONDER, sites=meiyuan, name="zhao") as worker,
    ):
        note = {"note": "this household is fine, no need to come"}
        refused = await guard.post(f"{API}/cases/{case_id}/comment", json=note)
        assert refused.status_code == 403, refused.text
        await ok(await worker.post(f"{API}/cases/{case_id}/comment", json={"note": "on my way"}))
    events = (await ok(await admin.get(f"{API}/cases/{case_id}")))["events"]
    notes = [event["note"] for event in events if event["action"] == "commented"]
    assert notes == ["on my way"]
