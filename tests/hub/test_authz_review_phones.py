"""A phone's OwnTracks token scoped to one community must not report for a responder of
another: an API token is named freely (a responder's phone token after its roster id), so a
community's admin could name one after another community's responder and move them on that
community's map, marking them on site at its cases (found by an outside review)."""

import base64

import httpx
import pytest
from fastapi import FastAPI

from hub.auth.rules import Role
from tests.hub.factories import T0
from tests.hub.http import ok, token_client
from tests.hub.patrols import location
from tests.hub.test_scoping_more import admin  # noqa: F401 - the two-site fixture

pytestmark = pytest.mark.fake_clock

API = "/api/v1"


def _basic(user: str, token: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}


async def test_a_community_scoped_phone_token_cannot_report_another_communitys_responder(
    app: FastAPI,
    admin: httpx.AsyncClient,  # noqa: F811
) -> None:
    mei_admin = token_client(app, Role.ADMIN, sites=frozenset({"meiyuan"}), name="admin-mei")
    async with mei_admin as scoped:
        body = {"name": "wang", "role": "responder", "sites": ["meiyuan"]}
        issued = await ok(await scoped.post(f"{API}/tokens", json=body), 201)
        own = {"name": "zhao", "role": "responder", "sites": ["meiyuan"]}
        zhao = await ok(await scoped.post(f"{API}/tokens", json=own), 201)
    fix = location(0, T0)

    forged = await admin.post(f"{API}/owntracks", json=fix, headers=_basic("wang", issued["token"]))
    assert forged.status_code == 404, forged.text
    positions = (await ok(await admin.get(f"{API}/positions")))["items"]
    assert [p["responder_id"] for p in positions] == []

    # The community's own responder still reports through a token scoped to it.
    mine = await admin.post(f"{API}/owntracks", json=fix, headers=_basic("zhao", zhao["token"]))
    assert await ok(mine) == []
    positions = (await ok(await admin.get(f"{API}/positions")))["items"]
    assert [p["responder_id"] for p in positions] == ["zhao"]
