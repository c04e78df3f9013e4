"""Found by an outside review: the session cookie was ``linli_session`` over HTTPS too, a name
any page of a sibling subdomain (or a plain-HTTP page of the same host) may set in the hub's
users' browsers: it planted its own signed-in session in an operator's browser, and she acted
as that account (cookie tossing). Over HTTPS the cookie is now ``__Host-linli_session``
(Secure, ``Path=/``, no ``Domain``: only the hub itself, over HTTPS, can set it) and the plain
name is not read there. Plain HTTP (the loopback demo, the tests) keeps ``linli_session``."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from hub.auth.routes import SECURE_SESSION_COOKIE, SESSION_COOKIE
from tests.hub.http import api_client

API = "/api/v1"
PASSWORD = "a long enough password"


@pytest.fixture
async def admin(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(app) as client:
        for name in ("li", "mallory"):
            body = {"username": name, "password": PASSWORD, "role": "operator"}
            assert (await client.post(f"{API}/users", json=body)).status_code == 201
        yield client


def browser(app: FastAPI, scheme: str) -> httpx.AsyncClient:
    """A client keeping cookies, as a browser does, with no credential of its own."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"{scheme}://hub.test"
    )


async def sign_in(client: httpx.AsyncClient, username: str) -> httpx.Response:
    signed = await client.post(
        f"{API}/auth/login",
        json={"username": username, "password": PASSWORD},
        headers={"origin": str(client.base_url).rstrip("/")},
    )
    assert signed.status_code == 200, signed.text
    return signed


@pytest.mark.usefixtures("admin")
async def test_over_https_the_session_cookie_is_host_prefixed(app: FastAPI) -> None:
    async with browser(app, "https") as li:
        signed = await sign_in(li, "li")
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith(f"{SECURE_SESSION_COOKIE}=")
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "path=/", "samesite=strict"} <= flags
        assert not any(flag.startswith("domain") for flag in flags)
        me = await li.get(f"{API}/auth/me")
        assert me.status_code == 200
        assert me.json()["name"] == "li"

        out = await li.post(f"{API}/auth/logout", headers={"origin": "https://hub.test"})
        assert out.status_code == 204
        cleared = out.headers["set-cookie"]
        assert cleared.startswith(f'{SECURE_SESSION_COOKIE}=""')
        assert "Secure" in cleared


@pytest.mark.usefixtures("admin")
async def test_over_https_a_planted_plain_cookie_signs_no_one_in(app: FastAPI) -> None:
    async with browser(app, "https") as mallory:
        planted = (await sign_in(mallory, "mallory")).json()["token"]
    # A sibling subdomain's page sets `linli_session=<mallory's session>; Domain=<parent>`:
    # Li's browser then sends it to the hub beside (or without) her own.
    async with browser(app, "https") as li:
        refused = await li.get(f"{API}/auth/me", headers={"cookie": f"{SESSION_COOKIE}={planted}"})
        assert refused.status_code == 401, refused.text
        own = (await sign_in(li, "li")).json()["token"]
        both = f"{SESSION_COOKIE}={planted}; {SECURE_SESSION_COOKIE}={own}"
        me = await li.get(f"{API}/auth/me", headers={"cookie": both})
        assert me.status_code == 200
        assert me.json()["name"] == "li"


@pytest.mark.usefixtures("admin")
async def test_over_plain_http_the_demo_keeps_its_cookie(app: FastAPI) -> None:
    async with browser(app, "http") as li:
        cookie = (await sign_in(li, "li")).headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "secure" not in cookie.lower()
        assert (await li.get(f"{API}/auth/me")).json()["name"] == "li"
        tossed = await li.get(f"{API}/auth/me", headers={"cookie": f"{SECURE_SESSION_COOKIE}=x"})
        assert tossed.status_code == 401
