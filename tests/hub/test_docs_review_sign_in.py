"""Found by an outside review: ``/openapi.json``, ``/docs`` and ``/redoc`` answered anyone, a
map of every route and record of the hub. They now need a signed-in caller of any role."""

import httpx
import pytest
from fastapi import FastAPI

from hub.auth.rules import Role
from tests.hub.http import api_client, token_client

DOC_PAGES = ("/docs", "/redoc")


async def test_the_api_document_and_pages_refuse_an_anonymous_caller(app: FastAPI) -> None:
    async with api_client(app) as client:
        client.headers.pop("authorization")
        refused = await client.get("/openapi.json")
        assert refused.status_code == 401, refused.text
        assert "paths" not in refused.text
        for page in DOC_PAGES:
            sent = await client.get(page)
            assert sent.status_code == 303, (page, sent.text)
            assert sent.headers["location"] == "/console/"
            assert "swagger" not in sent.text.lower()
            assert "redoc" not in sent.text.lower()
        wrong = await client.get("/openapi.json", headers={"authorization": "Bearer lnl_nope"})
        assert wrong.status_code == 401


@pytest.mark.parametrize("role", [Role.EDGE, Role.RESPONDER, Role.ADMIN])
async def test_any_signed_in_role_reads_the_api_document(app: FastAPI, role: Role) -> None:
    async with api_client(app), token_client(app, role) as client:
        spec = await client.get("/openapi.json")
        assert spec.status_code == 200, spec.text
        assert "/api/v1/cases" in spec.json()["paths"]
        for page in DOC_PAGES:
            shown = await client.get(page)
            assert shown.status_code == 200, page
            assert "/openapi.json" in shown.text


async def test_the_console_reads_the_document_with_its_session_cookie(app: FastAPI) -> None:
    async with api_client(app) as admin:
        user = {"username": "li", "password": "a long enough password", "role": "operator"}
        assert (await admin.post("/api/v1/users", json=user)).status_code == 201
        admin.headers.pop("authorization")
        credentials = {"username": "li", "password": user["password"]}
        signed = await admin.post("/api/v1/auth/login", json=credentials)
        assert signed.status_code == 200, signed.text
        # The client keeps the cookie the sign-in set, as a browser does.
        assert (await admin.get("/openapi.json")).status_code == 200
        assert (await admin.get("/docs")).status_code == 200


async def test_behind_a_path_prefix_the_docs_stay_closed_and_point_under_it(app: FastAPI) -> None:
    async with api_client(app), token_client(app, Role.OPERATOR) as signed:
        token = signed.headers["authorization"]
        transport = httpx.ASGITransport(app=app, root_path="/linli")
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            assert (await http.get("/linli/openapi.json")).status_code == 401
            sent = await http.get("/linli/docs")
            assert sent.status_code == 303
            assert sent.headers["location"] == "/linli/console/"
            page = await http.get("/linli/docs", headers={"authorization": token})
            assert page.status_code == 200
            assert "'/linli/openapi.json'" in page.text or '"/linli/openapi.json"' in page.text
            assert "/linli/docs-assets/swagger-ui-bundle.js" in page.text
            spec = await http.get("/linli/openapi.json", headers={"authorization": token})
            assert spec.status_code == 200
