"""An outside review of accounts and sign-in, through the HTTP API on SQLite and PostgreSQL:
a disabled account's sessions stay ended when it is enabled again, guessers elsewhere cannot
lock an operator out at the desk she signs in from, and a guessable bootstrap token opens
nothing (the hub runs: it must hear alarms whatever its accounts' setup)."""

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from hub.app import create_app
from hub.auth.rules import MAX_FAILED_SIGN_INS, MAX_FAILED_SIGN_INS_PER_USER
from hub.settings import HubSettings
from tests.hub.factories import T0
from tests.hub.http import api_client
from tests.hub.test_audit_token_review import app
from tests.hub.test_auth_api import BOOTSTRAP, PASSWORD, add_user, bearer, sign_in

__all__ = ["app"]  # a hub with a bootstrap token, on a fresh database, without MQTT


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Return a client of the app (at 127.0.0.1) that sends no credentials unless asked."""
    async with api_client(app) as client:
        client.headers.pop("authorization", None)
        yield client


WRONG = {"username": "li", "password": "not her password"}
RIGHT = {"username": "li", "password": PASSWORD}
SHORTEST_BOOTSTRAP = 32
"""``hub.auth.rules.MIN_BOOTSTRAP_TOKEN_LENGTH``, written out: the test predates it."""


async def test_enabling_an_account_again_does_not_bring_its_old_sessions_back(
    client: httpx.AsyncClient,
) -> None:
    """An admin disables li because her laptop was stolen, signed in; enabling her again the
    next morning must not hand the thief that session back."""
    user = await add_user(client, "li", "operator")
    stolen = await sign_in(client, "li")
    for disabled in (True, False):
        response = await client.post(
            f"/api/v1/users/{user['id']}/disabled",
            json={"disabled": disabled},
            headers=bearer(BOOTSTRAP),
        )
        assert response.status_code == 200, response.text
    assert (await client.get("/api/v1/auth/me", headers=bearer(stolen))).status_code == 401
    fresh = await sign_in(client, "li")
    assert (await client.get("/api/v1/auth/me", headers=bearer(fresh))).status_code == 200


async def test_guessers_elsewhere_do_not_lock_an_operator_out_at_her_own_desk(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Thirty wrong passwords for li from six addresses (each under its own limit) refuse li
    on every new address, but not at the desk she signed in from before: otherwise anyone
    with a few addresses could keep the night operator out during an incident."""
    await add_user(client, "li", "operator")
    await sign_in(client, "li")  # her desk: the test client's address
    guessers = MAX_FAILED_SIGN_INS_PER_USER // MAX_FAILED_SIGN_INS
    for n in range(guessers):
        transport = httpx.ASGITransport(app=app, client=(f"203.0.113.{n + 1}", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as guesser:
            for _ in range(MAX_FAILED_SIGN_INS):
                answer = await guesser.post("/api/v1/auth/login", json=WRONG)
                assert "too many" not in answer.json()["detail"]
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as new_address:
        refused = await new_address.post("/api/v1/auth/login", json=RIGHT)
        assert "too many" in refused.json()["detail"], "the bound over addresses still holds"
    at_her_desk = await client.post("/api/v1/auth/login", json=RIGHT)
    assert at_her_desk.status_code == 200, at_her_desk.text


@pytest.mark.parametrize("weak", ["admin", "changeme-please", "x" * (SHORTEST_BOOTSTRAP - 1)])
async def test_a_guessable_bootstrap_token_opens_nothing(
    database_url: str, tmp_path: Path, weak: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Bearer tokens are not throttled (those the hub issues are 256 random bits), so a
    made-up bootstrap token, an admin of every site, could be guessed at full speed. It is
    refused, said at start; the hub itself runs (before the lead's change the helper's fix
    refused to start it: an upgrade would have left a site's alarms unheard)."""
    settings = HubSettings(
        data_dir=tmp_path, database_url=database_url, start_ingest=False, bootstrap_token=weak
    )
    app = create_app(settings)
    assert "the bootstrap token is not accepted: " in caplog.text
    assert "at least 32 characters" in caplog.text
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            me = await http.get("/api/v1/auth/me", headers=bearer(weak))
            health = await http.get("/api/v1/health")
    assert me.status_code == 401, me.text
    assert health.status_code == 200, health.text


async def test_a_long_bootstrap_token_still_works(database_url: str, tmp_path: Path) -> None:
    token = "y" * SHORTEST_BOOTSTRAP
    settings = HubSettings(
        data_dir=tmp_path, database_url=database_url, start_ingest=False, bootstrap_token=token
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            me = await http.get("/api/v1/auth/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "admin"


async def test_the_api_stays_closed_behind_a_path_prefix(app: FastAPI) -> None:
    """Served under a prefix (uvicorn's ``--root-path /linli`` behind a proxy), the API
    answered the cases, the roster and the households to a caller with no credential, and
    took a silence from one."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, root_path="/linli")
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            for path in ("/cases", "/households", "/sites", "/audit"):
                anonymous = await http.get(f"/linli/api/v1{path}")
                assert anonymous.status_code == 401, f"{path}: {anonymous.text}"
            # A silence takes no account of who sets it but the guard's: an edge's alarms
            # were silenced by anyone.
            silence = {
                "scope": "edge",
                "target": "edge-a",
                "ends_at": (T0 + timedelta(days=1)).isoformat(),
                "reason": "quiet",
            }
            refused = await http.post("/linli/api/v1/silences", json=silence)
            assert refused.status_code == 401, refused.text
            signed_in = await http.get("/linli/api/v1/cases", headers=bearer(BOOTSTRAP))
            assert signed_in.status_code == 200, signed_in.text


@pytest.mark.parametrize("weak", ["prometheus", "x" * (SHORTEST_BOOTSTRAP - 1)])
async def test_a_guessable_metrics_token_opens_no_metrics(
    database_url: str, tmp_path: Path, weak: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The metrics name every edge and count what the hub refuses, and their token is not
    throttled: a made-up short one is refused as the bootstrap token's is, and said at start."""
    settings = HubSettings(
        data_dir=tmp_path, database_url=database_url, start_ingest=False, metrics_token=weak
    )
    app = create_app(settings)
    assert "the metrics token is not accepted: " in caplog.text
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            scraped = await http.get("/metrics", headers=bearer(weak))
    assert scraped.status_code == 404, scraped.text
