"""No anonymous access: every API route refuses a request without a credential, and roles hold.

The route list is read from the app itself, so a route added later is covered by these tests
without anyone remembering to list it.
"""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from hub.app import create_app
from hub.auth.rules import PUBLIC_API_PATHS, Role
from hub.settings import HubSettings
from tests.hub.http import api_client


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    """Return a hub app on a fresh SQLite database, without MQTT."""
    return create_app(HubSettings(data_dir=tmp_path, start_ingest=False))


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Return a client that sends no credential."""
    async with api_client(app) as client:
        client.headers.pop("authorization")
        yield client


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Return (method, concrete path) of every /api/v1 operation, path parameters filled in.

    Read from the OpenAPI schema: every API route is in it (only the resident page and the
    docs themselves are left out on purpose).
    """
    found: list[tuple[str, str]] = []
    for path, operations in app.openapi()["paths"].items():
        if path.startswith("/api/v1"):
            concrete = re.sub(r"\{[^}]+\}", "1", path)
            found.extend((method.upper(), concrete) for method in sorted(operations))
    return found


async def test_every_api_route_refuses_anonymous_requests(
    app: FastAPI, anonymous: httpx.AsyncClient
) -> None:
    routes = api_routes(app)
    assert len(routes) > 15
    for method, path in routes:
        response = await anonymous.request(method, path)
        if path in PUBLIC_API_PATHS:
            assert response.status_code != 401, (method, path)
        else:
            assert response.status_code == 401, (method, path, response.text)


async def test_the_resident_page_stays_open_and_the_docs_need_a_sign_in(
    anonymous: httpx.AsyncClient,
) -> None:
    assert (await anonymous.get("/r/not-a-token/status")).status_code == 404
    # Signed-in callers only since the outside review (tests/hub/test_docs_review_sign_in.py).
    assert (await anonymous.get("/openapi.json")).status_code == 401


async def test_a_responder_reads_but_cannot_act_on_cases_or_manage(app: FastAPI) -> None:
    async with api_client(app, Role.RESPONDER) as responder:
        assert (await responder.get("/api/v1/cases")).status_code == 200
        assert (await responder.post("/api/v1/cases/1/acknowledge")).status_code == 403
        device = {"id": "d1", "kind": "smoke", "location": "Building 1", "edge_id": "e1"}
        assert (await responder.post("/api/v1/devices", json=device)).status_code == 403


async def test_an_operator_acts_but_cannot_administer(app: FastAPI) -> None:
    async with api_client(app, Role.OPERATOR) as operator:
        missing_case = await operator.post("/api/v1/cases/999/acknowledge")
        assert missing_case.status_code == 404, "allowed through, then not found"
        assert (await operator.get("/api/v1/users")).status_code == 403
        assert (await operator.get("/api/v1/auth/me")).json()["role"] == "operator"


async def test_an_edge_token_reads_nothing(app: FastAPI) -> None:
    async with api_client(app, Role.EDGE) as edge:
        assert (await edge.get("/api/v1/cases")).status_code == 403
        assert (await edge.get("/api/v1/devices")).status_code == 403
