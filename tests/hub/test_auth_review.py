"""Found by an outside review: an admin scoped to some sites could issue an unscoped admin
token, create accounts of other sites, list every site's accounts and tokens and disable or
revoke them. A scoped caller now grants and manages only some of its own sites."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from hub.auth import repository
from hub.auth.repository import AuthStore
from hub.auth.rules import Role, verify_password
from hub.auth.scoping import within_scope
from tests.hub.http import ok, token_client

API = "/api/v1"
PASSWORD = "a long enough password"
MEI = frozenset({"meiyuan"})


def user(username: str, sites: list[str] | None, role: str = "operator") -> dict[str, Any]:
    return {"username": username, "password": PASSWORD, "role": role, "sites": sites}


def token(name: str, sites: list[str] | None, role: str = "admin") -> dict[str, Any]:
    return {"name": name, "role": role, "sites": sites}


@pytest.mark.parametrize(
    ("sites", "scope", "within"),
    [
        (None, None, True),
        (["a"], None, True),
        ([], None, True),
        (None, frozenset({"a"}), False),
        ([], frozenset({"a"}), False),
        (["a"], frozenset({"a", "b"}), True),
        (["a", "b"], frozenset({"a", "b"}), True),
        (["a", "c"], frozenset({"a", "b"}), False),
    ],
)
def test_a_scoped_caller_manages_only_some_of_its_own_sites(
    sites: list[str] | None, scope: frozenset[str] | None, within: bool
) -> None:
    assert within_scope(sites, scope) is within


async def test_a_scoped_admin_grants_only_its_own_sites(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with token_client(app, Role.ADMIN, sites=MEI, name="adm-mei") as scoped:
        for body in (token("wide", None), token("lan", ["lanyuan"]), token("both", [])):
            refused = await scoped.post(f"{API}/tokens", json=body)
            assert refused.status_code == 403, refused.text
        mixed = token("mixed", ["meiyuan", "lanyuan"])
        assert (await scoped.post(f"{API}/tokens", json=mixed)).status_code == 403
        for body in (user("wide", None), user("lan", ["lanyuan"]), user("none", [])):
            refused = await scoped.post(f"{API}/users", json=body)
            assert refused.status_code == 403, refused.text
        issued = await ok(await scoped.post(f"{API}/tokens", json=token("m", ["meiyuan"])), 201)
        assert issued["record"]["sites"] == ["meiyuan"]
        await ok(await scoped.post(f"{API}/users", json=user("op-m", ["meiyuan"])), 201)
    names = [t["name"] for t in (await ok(await client.get(f"{API}/tokens")))["items"]]
    assert "m" in names
    assert not {"wide", "lan"} & set(names)
    users = [u["username"] for u in (await ok(await client.get(f"{API}/users")))["items"]]
    assert "op-m" in users
    assert not {"wide", "lan"} & set(users)


async def test_a_scoped_admin_lists_and_changes_only_its_sites_accounts_and_tokens(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    lan_user = await ok(await client.post(f"{API}/users", json=user("op-l", ["lanyuan"])), 201)
    all_user = await ok(await client.post(f"{API}/users", json=user("op-all", None)), 201)
    mei_user = await ok(await client.post(f"{API}/users", json=user("op-m", ["meiyuan"])), 201)
    lan = await ok(await client.post(f"{API}/tokens", json=token("lan", ["lanyuan"])), 201)
    wide = await ok(await client.post(f"{API}/tokens", json=token("wide", None)), 201)
    mei = await ok(await client.post(f"{API}/tokens", json=token("mei", ["meiyuan"])), 201)
    async with token_client(app, Role.ADMIN, sites=MEI, name="adm-mei") as scoped:
        users = (await ok(await scoped.get(f"{API}/users")))["items"]
        assert [u["username"] for u in users] == ["op-m"]
        tokens = (await ok(await scoped.get(f"{API}/tokens")))["items"]
        assert sorted(t["name"] for t in tokens) == ["adm-mei", "mei"]
        for other in (lan_user, all_user):
            url = f"{API}/users/{other['id']}/disabled"
            answer = await scoped.post(url, json={"disabled": True})
            missing = await scoped.post(f"{API}/users/999999/disabled", json={"disabled": True})
            assert answer.status_code == missing.status_code == 404, answer.text
        for other in (lan, wide):
            answer = await scoped.delete(f"{API}/tokens/{other['record']['id']}")
            assert answer.status_code == 404, answer.text
        url = f"{API}/users/{mei_user['id']}/disabled"
        assert (await ok(await scoped.post(url, json={"disabled": True})))["disabled"] is True
        revoked = await ok(await scoped.delete(f"{API}/tokens/{mei['record']['id']}"))
        assert revoked["revoked_at"] is not None
    users = {u["username"]: u for u in (await ok(await client.get(f"{API}/users")))["items"]}
    assert not users["op-l"]["disabled"]
    assert not users["op-all"]["disabled"]
    tokens = {t["name"]: t for t in (await ok(await client.get(f"{API}/tokens")))["items"]}
    assert tokens["lan"]["revoked_at"] is None
    assert tokens["wide"]["revoked_at"] is None


async def test_an_unscoped_admin_keeps_every_right(client: httpx.AsyncClient) -> None:
    wide = await ok(await client.post(f"{API}/tokens", json=token("wide", None)), 201)
    lan = await ok(await client.post(f"{API}/users", json=user("op-l", ["lanyuan"])), 201)
    await ok(await client.post(f"{API}/users", json=user("none", [])), 201)
    assert len((await ok(await client.get(f"{API}/users")))["items"]) >= 2
    url = f"{API}/users/{lan['id']}/disabled"
    assert (await ok(await client.post(url, json={"disabled": True})))["disabled"] is True
    await ok(await client.delete(f"{API}/tokens/{wide['record']['id']}"))


def test_an_unknown_username_costs_a_password_check_as_a_known_one_does(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The answer must not come sooner for a username that has no account (it took 6 ms
    # against 60): the hash is checked either way.
    checked: list[str] = []
    real = verify_password

    def counted(password: str, stored: str) -> bool:
        checked.append(stored)
        return real(password, stored)

    monkeypatch.setattr(repository, "verify_password", counted)
    auth = AuthStore(engine)
    auth.create_user("li", "a password of li's", Role.OPERATOR)
    assert auth.check_password("nobody", "a password of li's") is None
    assert auth.check_password("li", "not the password") is None
    assert len(checked) == 2
