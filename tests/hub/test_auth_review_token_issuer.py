"""Found by an outside review: an API token an admin issued kept working, with the rights it was
issued with, after that admin was disabled, demoted to an operator or moved to other sites. A
token issued by an admin's account now works only while that admin could issue it now."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from hub.app import create_app
from hub.persistence.engine import create_hub_engine
from hub.persistence.tables import UserRow
from hub.settings import HubSettings
from tests.hub.http import api_client

API = "/api/v1"
BOOTSTRAP = "lnl_test-bootstrap-token-0123456789abcdef"
PASSWORD = "a long enough password"


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> FastAPI:
    settings = HubSettings(
        data_dir=tmp_path, database_url=database_url, start_ingest=False, bootstrap_token=BOOTSTRAP
    )
    return create_app(settings)


@pytest.fixture
async def hub(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running app that sends the bootstrap token unless told otherwise."""
    async with api_client(app) as client:
        client.headers["authorization"] = f"Bearer {BOOTSTRAP}"
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def account(
    hub: httpx.AsyncClient, username: str, role: str = "operator", sites: list[str] | None = None
) -> tuple[int, str]:
    """Create an account and sign it in; return its id and its session token."""
    body = {"username": username, "password": PASSWORD, "role": role, "sites": sites}
    created = await hub.post(f"{API}/users", json=body)
    assert created.status_code == 201, created.text
    signed = await hub.post(
        f"{API}/auth/login",
        json={"username": username, "password": PASSWORD},
        headers={"authorization": ""},
    )
    assert signed.status_code == 200, signed.text
    return int(created.json()["id"]), str(signed.json()["token"])


async def admin_session(
    hub: httpx.AsyncClient, username: str, sites: list[str] | None = None
) -> tuple[int, str]:
    """Create an admin account and sign it in; return its id and its session token."""
    return await account(hub, username, "admin", sites)


async def issue(
    hub: httpx.AsyncClient, credential: str, name: str, role: str, sites: list[str] | None = None
) -> str:
    body: dict[str, Any] = {"name": name, "role": role, "sites": sites}
    response = await hub.post(f"{API}/tokens", json=body, headers=bearer(credential))
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


async def works(hub: httpx.AsyncClient, token: str, path: str = "/users") -> int:
    return (await hub.get(f"{API}{path}", headers=bearer(token))).status_code


def set_user(database_url: str, user_id: int, **values: Any) -> None:
    """Change an account by SQL, as an admin with the database does (the API's own route,
    ``PATCH /users/<id>``, also revokes what the account can no longer issue:
    ``tests/hub/test_auth_account_changes.py``)."""
    engine = create_hub_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(update(UserRow).where(UserRow.id == user_id).values(**values))
    finally:
        engine.dispose()


async def test_a_token_stops_when_the_admin_who_issued_it_is_disabled(
    hub: httpx.AsyncClient,
) -> None:
    li_id, li = await admin_session(hub, "li")
    script = await issue(hub, li, "nightly export", "admin")
    edge = await issue(hub, li, "edge-01", "edge")
    assert await works(hub, script) == 200

    disabled = await hub.post(f"{API}/users/{li_id}/disabled", json={"disabled": True})
    assert disabled.status_code == 200, disabled.text

    assert await works(hub, script) == 401
    assert await works(hub, edge, "/auth/me") == 401
    # For good: enabling Li again brings neither back (they may have been issued by whoever
    # held Li's account), as for her sessions.
    await hub.post(f"{API}/users/{li_id}/disabled", json={"disabled": False})
    assert await works(hub, script) == 401
    listed = (await hub.get(f"{API}/tokens")).json()["items"]
    of_li = {t["name"]: t["revoked_at"] is not None for t in listed if t["user_id"] == li_id}
    assert of_li == {"nightly export": True, "edge-01": True}


async def test_a_token_has_no_more_rights_than_its_issuer_still_has(
    hub: httpx.AsyncClient, database_url: str
) -> None:
    li_id, li = await admin_session(hub, "li")
    script = await issue(hub, li, "nightly export", "admin")
    operator = await issue(hub, li, "sms gateway", "operator")
    # A token issued with one of Li's tokens is Li's too.
    grandchild = await issue(hub, script, "made by the script", "admin")
    assert await works(hub, grandchild) == 200

    await asyncio.to_thread(set_user, database_url, li_id, role="operator")

    for token in (script, operator, grandchild):
        assert await works(hub, token, "/auth/me") == 401
    await asyncio.to_thread(set_user, database_url, li_id, role="admin")
    assert await works(hub, script) == 200


async def test_a_token_stops_when_its_issuer_leaves_the_tokens_sites(
    hub: httpx.AsyncClient, database_url: str
) -> None:
    mei_id, mei = await admin_session(hub, "mei", ["meiyuan"])
    token = await issue(hub, mei, "mei gate", "operator", ["meiyuan"])
    assert await works(hub, token, "/cases") == 200

    await asyncio.to_thread(set_user, database_url, mei_id, sites=["lanyuan"])
    assert await works(hub, token, "/cases") == 401
    await asyncio.to_thread(set_user, database_url, mei_id, sites=["lanyuan", "meiyuan"])
    assert await works(hub, token, "/cases") == 200


async def test_what_does_not_end_a_token(hub: httpx.AsyncClient) -> None:
    # The owners' choice (docs/security.md): a password change or reset ends sessions, not the
    # tokens scripts and edges hold; tokens the bootstrap token issued stand on their own.
    li_id, li = await admin_session(hub, "li")
    script = await issue(hub, li, "nightly export", "operator")
    standalone = await issue(hub, BOOTSTRAP, "gateway", "operator")

    changed = await hub.post(
        f"{API}/auth/password",
        json={"current_password": PASSWORD, "new_password": "another long password"},
        headers=bearer(li),
    )
    assert changed.status_code == 200, changed.text
    reset = await hub.post(
        f"{API}/users/{li_id}/password", json={"new_password": "a third long password"}
    )
    assert reset.status_code == 200, reset.text

    assert await works(hub, script, "/cases") == 200
    assert await works(hub, standalone, "/cases") == 200
    [record] = [
        t for t in (await hub.get(f"{API}/tokens")).json()["items"] if t["name"] == "gateway"
    ]
    assert record["user_id"] is None
