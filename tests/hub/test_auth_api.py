"""Signing in, accounts and tokens through the HTTP API, on SQLite and PostgreSQL."""

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from hub.app import create_app
from hub.auth.routes import SESSION_COOKIE
from hub.auth.rules import MAX_FAILED_SIGN_INS, SESSION_LIFETIME
from hub.settings import HubSettings
from tests.hub.conftest import FakeClock
from tests.hub.http import api_client

BOOTSTRAP = "lnl_test-bootstrap-token-0123456789abcdef"
PASSWORD = "a long enough password"


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: FakeClock) -> FastAPI:
    """Return a hub app with a bootstrap token, on a fresh database, without MQTT."""
    settings = HubSettings(
        data_dir=tmp_path,
        database_url=database_url,
        start_ingest=False,
        bootstrap_token=BOOTSTRAP,
    )
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Return a client of the app that sends no credentials unless a test adds them."""
    async with api_client(app) as client:
        client.headers.pop("authorization", None)
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def add_user(
    client: httpx.AsyncClient, username: str, role: str, sites: list[str] | None = None
) -> dict[str, object]:
    response = await client.post(
        "/api/v1/users",
        json={"username": username, "password": PASSWORD, "role": role, "sites": sites},
        headers=bearer(BOOTSTRAP),
    )
    assert response.status_code == 201, response.text
    user: dict[str, object] = response.json()
    return user


async def sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


async def test_no_credentials_is_401_with_a_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "sign in" in response.json()["detail"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer lnl_forged-token-that-was-never-issued",
        "Bearer " + BOOTSTRAP[:-1] + "X",
        "Basic " + BOOTSTRAP,
        "Bearer",
        BOOTSTRAP,
    ],
)
async def test_forged_or_malformed_tokens_are_refused(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.get("/api/v1/auth/me", headers={"authorization": header})
    assert response.status_code == 401


async def test_the_bootstrap_token_is_an_admin(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/auth/me", headers=bearer(BOOTSTRAP))
    assert response.json() == {"name": "bootstrap", "role": "admin", "sites": None}


async def test_a_user_signs_in_and_the_session_works_by_header_and_cookie(
    client: httpx.AsyncClient,
) -> None:
    await add_user(client, "li", "operator", ["courtyard-a"])
    response = await client.post(
        "/api/v1/auth/login", json={"username": "li", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["principal"] == {"name": "li", "role": "operator", "sites": ["courtyard-a"]}
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    me = await client.get("/api/v1/auth/me", headers=bearer(body["token"]))
    assert me.json()["name"] == "li"
    client.cookies.set(SESSION_COOKIE, body["token"])
    assert (await client.get("/api/v1/auth/me")).json()["name"] == "li"


async def test_a_wrong_password_or_unknown_user_is_the_same_401(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    await add_user(client, "li", "operator")
    caplog.set_level(logging.WARNING)
    wrong = await client.post(
        "/api/v1/auth/login", json={"username": "li", "password": "not the password"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"username": "nobody", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "not the password" not in caplog.text
    assert PASSWORD not in caplog.text


async def test_sign_in_is_throttled_after_repeated_failures(client: httpx.AsyncClient) -> None:
    await add_user(client, "li", "operator")
    for _ in range(5):
        await client.post("/api/v1/auth/login", json={"username": "li", "password": "x" * 12})
    response = await client.post(
        "/api/v1/auth/login", json={"username": "li", "password": PASSWORD}
    )
    assert response.status_code == 401
    assert "too many" in response.json()["detail"]


async def test_guesses_sent_at_once_are_throttled_too(client: httpx.AsyncClient) -> None:
    """A guesser who sends many sign-ins at once gets no more checked than one who waits for
    each answer: every attempt counts before its password is checked, not after."""
    await add_user(client, "li", "operator")
    guesses = [{"username": "li", "password": f"guess {i:04d} long"} for i in range(30)]
    answers = await asyncio.gather(
        *(client.post("/api/v1/auth/login", json=guess) for guess in guesses)
    )
    assert all(answer.status_code == 401 for answer in answers)
    checked = [a for a in answers if "too many" not in a.json()["detail"]]
    assert len(checked) <= MAX_FAILED_SIGN_INS, f"{len(checked)} guesses were checked"
    response = await client.post(
        "/api/v1/auth/login", json={"username": "li", "password": PASSWORD}
    )
    assert "too many" in response.json()["detail"]


async def test_guesses_from_one_address_do_not_lock_the_user_out_elsewhere(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Five wrong passwords for "li" from one address block that address, not li at her own
    desk: otherwise anyone could lock an operator out during an incident by guessing."""
    await add_user(client, "li", "operator")
    attacker = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("10.9.9.9", 40000)), base_url="http://hub"
    )
    async with attacker:
        for _ in range(MAX_FAILED_SIGN_INS):
            await attacker.post("/api/v1/auth/login", json={"username": "li", "password": "x" * 12})
        blocked = await attacker.post(
            "/api/v1/auth/login", json={"username": "li", "password": PASSWORD}
        )
        assert "too many" in blocked.json()["detail"]
    at_her_desk = await client.post(
        "/api/v1/auth/login", json={"username": "li", "password": PASSWORD}
    )
    assert at_her_desk.status_code == 200, at_her_desk.text


async def test_a_session_expires_after_a_shift(client: httpx.AsyncClient, clock: FakeClock) -> None:
    await add_user(client, "li", "operator")
    token = await sign_in(client, "li")
    clock.advance(SESSION_LIFETIME.total_seconds() - 1)
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 200
    clock.advance(2)
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401


async def test_signing_out_ends_the_session(client: httpx.AsyncClient) -> None:
    await add_user(client, "li", "operator")
    token = await sign_in(client, "li")
    assert (await client.post("/api/v1/auth/logout", headers=bearer(token))).status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401


async def test_disabling_a_user_stops_their_sessions_at_once(client: httpx.AsyncClient) -> None:
    user = await add_user(client, "li", "operator")
    token = await sign_in(client, "li")
    response = await client.post(
        f"/api/v1/users/{user['id']}/disabled", json={"disabled": True}, headers=bearer(BOOTSTRAP)
    )
    assert response.json()["disabled"] is True
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401
    refused = await client.post("/api/v1/auth/login", json={"username": "li", "password": PASSWORD})
    assert refused.status_code == 401


async def test_only_admins_manage_accounts(client: httpx.AsyncClient) -> None:
    await add_user(client, "li", "operator")
    token = await sign_in(client, "li")
    response = await client.post(
        "/api/v1/users",
        json={"username": "mallory", "password": PASSWORD, "role": "admin"},
        headers=bearer(token),
    )
    assert response.status_code == 403
    assert (await client.get("/api/v1/users", headers=bearer(token))).status_code == 403
    assert (await client.get("/api/v1/users", headers=bearer(BOOTSTRAP))).status_code == 200


async def test_accounts_never_show_password_hashes(client: httpx.AsyncClient) -> None:
    await add_user(client, "li", "operator")
    listed = (await client.get("/api/v1/users", headers=bearer(BOOTSTRAP))).text
    assert "scrypt" not in listed
    assert PASSWORD not in listed


async def test_a_taken_username_and_a_short_password_are_refused(
    client: httpx.AsyncClient,
) -> None:
    await add_user(client, "li", "operator")
    taken = await client.post(
        "/api/v1/users",
        json={"username": "li", "password": PASSWORD, "role": "responder"},
        headers=bearer(BOOTSTRAP),
    )
    assert taken.status_code == 422
    assert "taken" in taken.json()["detail"]
    short = await client.post(
        "/api/v1/users",
        json={"username": "wang", "password": "short", "role": "responder"},
        headers=bearer(BOOTSTRAP),
    )
    assert short.status_code == 422


async def test_api_tokens_are_shown_once_work_and_can_be_revoked(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/tokens",
        json={"name": "sms gateway", "role": "operator", "sites": ["courtyard-a"]},
        headers=bearer(BOOTSTRAP),
    )
    assert response.status_code == 201
    issued = response.json()
    token, record = issued["token"], issued["record"]
    me = await client.get("/api/v1/auth/me", headers=bearer(token))
    assert me.json() == {"name": "sms gateway", "role": "operator", "sites": ["courtyard-a"]}
    listed = (await client.get("/api/v1/tokens", headers=bearer(BOOTSTRAP))).text
    assert token not in listed
    assert "sms gateway" in listed
    revoked = await client.delete(f"/api/v1/tokens/{record['id']}", headers=bearer(BOOTSTRAP))
    assert revoked.json()["revoked_at"] is not None
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401


async def test_an_api_token_can_expire(client: httpx.AsyncClient, clock: FakeClock) -> None:
    response = await client.post(
        "/api/v1/tokens",
        json={"name": "temp", "role": "responder", "expires_in_days": 1},
        headers=bearer(BOOTSTRAP),
    )
    token = response.json()["token"]
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 200
    clock.advance(86_400)
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401


async def test_an_edge_token_cannot_read(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/tokens", json={"name": "edge-1", "role": "edge"}, headers=bearer(BOOTSTRAP)
    )
    token = response.json()["token"]
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 200
    assert (await client.get("/api/v1/users", headers=bearer(token))).status_code == 403


async def test_a_seeded_operator_token_is_a_token_and_a_password(
    database_url: str, tmp_path: Path
) -> None:
    seed = "lnl_demo-operator-secret-0123456789"
    settings = HubSettings(
        data_dir=tmp_path, database_url=database_url, start_ingest=False, seed_operator_token=seed
    )
    for _ in range(2):  # a restart seeds again without harm
        async with api_client(create_app(settings)) as client:
            client.headers.pop("authorization")
            me = await client.get("/api/v1/auth/me", headers=bearer(seed))
            assert me.json() == {"name": "operator", "role": "operator", "sites": None}
            assert (await sign_in(client, "operator", seed)).startswith("lnl_")


async def test_a_refused_request_does_not_echo_the_secret_back(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/users",
        json={"username": "li", "password": 12345678901234, "role": "operator"},
        headers=bearer(BOOTSTRAP),
    )
    assert response.status_code == 422
    assert "12345678901234" not in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "password"]


async def test_account_changes_are_on_the_audit_trail_without_secrets(
    client: httpx.AsyncClient,
) -> None:
    user = await add_user(client, "li", "operator", ["courtyard-a"])
    token = await sign_in(client, "li")
    await client.post(
        f"/api/v1/users/{user['id']}/disabled", json={"disabled": True}, headers=bearer(BOOTSTRAP)
    )
    issued = await client.post(
        "/api/v1/tokens", json={"name": "gw", "role": "operator"}, headers=bearer(BOOTSTRAP)
    )
    await client.delete(
        f"/api/v1/tokens/{issued.json()['record']['id']}", headers=bearer(BOOTSTRAP)
    )
    trail = await client.get("/api/v1/audit", headers=bearer(BOOTSTRAP))
    assert trail.status_code == 200, trail.text
    entries = [(e["action"], e["actor"]) for e in trail.json()["items"]]
    for expected in [
        ("user_created", "bootstrap"),
        ("signed_in", "li"),
        ("user_disabled", "bootstrap"),
        ("token_issued", "bootstrap"),
        ("token_revoked", "bootstrap"),
    ]:
        assert expected in entries
    for secret in (PASSWORD, token, issued.json()["token"]):
        assert secret not in trail.text
    verdict = (await client.get("/api/v1/audit/verify", headers=bearer(BOOTSTRAP))).json()
    assert verdict["intact"] is True


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({}, False),  # neither Origin nor Referer: not from the hub's own pages
        ({"origin": "http://hub.test:3000"}, False),  # another port: the same site
        ({"origin": "http://grafana.hub.test"}, False),  # a sibling subdomain
        ({"origin": "null"}, False),  # a sandboxed page
        ({"referer": "http://evil.test/hub.test"}, False),
        ({"origin": "http://hub.test"}, True),
        ({"origin": "https://HUB.test"}, True),  # behind a TLS proxy passing the Host on
        ({"referer": "http://hub.test/console/cases"}, True),
    ],
)
async def test_a_change_with_the_session_cookie_must_come_from_the_hubs_own_pages(
    client: httpx.AsyncClient, headers: dict[str, str], allowed: bool
) -> None:
    await add_user(client, "li", "operator")
    signed = await client.post("/api/v1/auth/login", json={"username": "li", "password": PASSWORD})
    client.cookies.set(SESSION_COOKIE, signed.json()["token"])
    device = {"id": "b3-1201-sos", "kind": "sos_button", "location": "Building 3/Unit 1201"}
    changed = await client.post("/api/v1/devices", json=device, headers=headers)
    assert changed.status_code == (201 if allowed else 403), changed.text
    # Reading is not a change: the cookie reads from anywhere (CORS keeps the answer from
    # other origins' scripts).
    assert (await client.get("/api/v1/devices", headers=headers)).status_code == 200
    listed = (await client.get("/api/v1/devices")).json()["items"]
    assert [d["id"] for d in listed] == (["b3-1201-sos"] if allowed else [])


async def test_a_bearer_token_needs_no_origin(client: httpx.AsyncClient) -> None:
    device = {"id": "b3-1201-sos", "kind": "sos_button", "location": "Building 3/Unit 1201"}
    created = await client.post("/api/v1/devices", json=device, headers=bearer(BOOTSTRAP))
    assert created.status_code == 201
