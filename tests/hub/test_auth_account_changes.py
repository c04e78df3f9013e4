"""An admin changes an account's role, sites or shown name (``PATCH /api/v1/users/<id>``,
``linli user set``). Before, no route did: demoting an admin or moving an operator to another
street took SQL, or disabling the account and making a new one (its history under another
name).

Its sessions act as the account is now at once; the API tokens it issued that it could not
issue now are revoked for good (as disabling does: promoting it back does not revive them);
the trail records what changed. SQLite and PostgreSQL (``database_url``).
"""

from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from hub.auth.repository import AuthStore
from hub.auth.rules import Role
from hub.persistence.engine import create_hub_engine, migrate
from linli.cli import app as cli
from tests.hub.test_auth_review_token_issuer import (
    API,
    BOOTSTRAP,
    PASSWORD,
    account,
    admin_session,
    app,
    bearer,
    hub,
    issue,
    works,
)

__all__ = ["app", "hub"]  # fixtures


async def change(
    hub: httpx.AsyncClient, user_id: int, body: dict[str, Any], credential: str | None = None
) -> httpx.Response:
    headers = bearer(credential) if credential is not None else None
    return await hub.patch(f"{API}/users/{user_id}", json=body, headers=headers)


async def me(hub: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await hub.get(f"{API}/auth/me", headers=bearer(token))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def trail(hub: httpx.AsyncClient, action: str) -> list[dict[str, Any]]:
    response = await hub.get(f"{API}/audit", params={"limit": 500})
    assert response.status_code == 200, response.text
    return [entry for entry in response.json()["items"] if entry["action"] == action]


async def test_a_demoted_admin_loses_its_rights_at_once_and_its_tokens_for_good(
    hub: httpx.AsyncClient,
) -> None:
    user_id, session = await admin_session(hub, "admin.wang")
    script = await issue(hub, session, "nightly export", "admin")
    reader = await issue(hub, session, "wall display", "operator")
    assert await works(hub, session) == 200
    assert await works(hub, script) == 200

    changed = await change(hub, user_id, {"role": "operator"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "operator"
    # The session acts as the account is now: an operator, not an admin.
    assert (await me(hub, session))["role"] == "operator"
    assert await works(hub, session) == 403
    assert await works(hub, session, "/cases") == 200
    # What it issued as an admin it could not issue now: revoked, and they stay revoked.
    assert await works(hub, script, "/cases") == 401
    assert await works(hub, reader, "/cases") == 401
    assert (await change(hub, user_id, {"role": "admin"})).status_code == 200
    assert await works(hub, session) == 200
    assert await works(hub, script) == 401
    assert await works(hub, reader, "/cases") == 401

    entries = await trail(hub, "user_changed")
    assert [e["detail"] for e in entries] == [
        {
            "user_id": user_id,
            "username": "admin.wang",
            "before": {"role": "admin"},
            "after": {"role": "operator"},
            "tokens_revoked": 2,
        },
        {
            "user_id": user_id,
            "username": "admin.wang",
            "before": {"role": "operator"},
            "after": {"role": "admin"},
            "tokens_revoked": 0,
        },
    ]
    assert {e["actor"] for e in entries} == {"bootstrap"}


async def test_an_admin_moved_to_another_site_keeps_only_the_tokens_it_could_issue_now(
    hub: httpx.AsyncClient,
) -> None:
    user_id, session = await admin_session(hub, "admin.street", ["lanyuan", "meiyuan"])
    lanyuan = await issue(hub, session, "lanyuan pager", "operator", ["lanyuan"])
    meiyuan = await issue(hub, session, "meiyuan pager", "operator", ["meiyuan"])
    changed = await change(hub, user_id, {"sites": ["meiyuan", "zhuyuan"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["sites"] == ["meiyuan", "zhuyuan"]
    assert (await me(hub, session))["sites"] == ["meiyuan", "zhuyuan"]
    assert await works(hub, lanyuan, "/cases") == 401
    assert await works(hub, meiyuan, "/cases") == 200
    # Every site again (null), from an unscoped admin: nothing more is revoked.
    assert (await change(hub, user_id, {"sites": None})).json()["sites"] is None
    assert (await me(hub, session))["sites"] is None
    assert await works(hub, meiyuan, "/cases") == 200
    assert [e["detail"]["tokens_revoked"] for e in await trail(hub, "user_changed")] == [1, 0]


async def test_a_scoped_admin_changes_only_its_sites_accounts_and_only_to_its_sites(
    hub: httpx.AsyncClient,
) -> None:
    _, street_admin = await admin_session(hub, "admin.lanyuan", ["lanyuan", "meiyuan"])
    ours, _ = await account(hub, "op.lanyuan", sites=["lanyuan"])
    theirs, _ = await account(hub, "op.zhuyuan", sites=["zhuyuan"])
    everywhere, _ = await account(hub, "op.district")

    moved = await change(hub, ours, {"sites": ["meiyuan"]}, street_admin)
    assert moved.status_code == 200, moved.text
    assert moved.json()["sites"] == ["meiyuan"]
    # Beyond its sites: answered as missing, and nothing changes.
    for user_id in (theirs, everywhere):
        refused = await change(hub, user_id, {"role": "responder"}, street_admin)
        assert refused.status_code == 404, refused.text
    # Granting a site it does not hold, or every site: refused.
    for sites in (["zhuyuan"], ["meiyuan", "zhuyuan"], None):
        refused = await change(hub, ours, {"sites": sites}, street_admin)
        assert refused.status_code == 403, refused.text
    users = {u["username"]: u for u in (await hub.get(f"{API}/users")).json()["items"]}
    assert users["op.lanyuan"]["sites"] == ["meiyuan"]
    assert users["op.zhuyuan"]["role"] == "operator"
    assert users["op.district"]["sites"] is None
    assert len(await trail(hub, "user_changed")) == 1


async def test_an_admin_cannot_change_their_own_rights_but_may_their_shown_name(
    hub: httpx.AsyncClient,
) -> None:
    user_id, session = await admin_session(hub, "admin.self")
    for body in ({"role": "operator"}, {"sites": ["lanyuan"]}, {"sites": None}):
        refused = await change(hub, user_id, body, session)
        assert refused.status_code == 403, refused.text
        assert "another admin" in refused.json()["detail"]
    named = await change(hub, user_id, {"display_name": "王主任"}, session)
    assert named.status_code == 200, named.text
    assert named.json()["display_name"] == "王主任"
    assert (await me(hub, session))["role"] == "admin"


async def test_only_admins_change_accounts_and_bad_changes_change_nothing(
    hub: httpx.AsyncClient,
) -> None:
    user_id, operator = await account(hub, "op.plain")
    assert (await change(hub, user_id, {"role": "admin"}, operator)).status_code == 403
    for body in (
        {"role": None},
        {"display_name": None},
        {"display_name": "   "},
        {"role": "superuser"},
        {"password": "a new long password"},
        {"sites": [""]},
    ):
        refused = await change(hub, user_id, body)
        assert refused.status_code in (400, 422), (body, refused.text)
    assert (await change(hub, 999_999, {"role": "operator"})).status_code == 404
    # The same values again: nothing to record.
    same = await change(hub, user_id, {"role": "operator", "sites": None})
    assert same.status_code == 200, same.text
    assert (await me(hub, operator))["role"] == "operator"
    assert await trail(hub, "user_changed") == []


def test_linli_user_set_changes_an_account_from_the_host(tmp_path: Path) -> None:
    data_dir = tmp_path / "hub"
    data_dir.mkdir()
    engine = create_hub_engine(f"sqlite:///{data_dir / 'hub.sqlite3'}")
    migrate(engine)
    store = AuthStore(engine)
    admin = store.create_user("admin.li", PASSWORD, Role.ADMIN)
    store.issue_api_token("lnl_" + "x" * 40, "export", Role.ADMIN)  # stands on its own
    engine.dispose()
    runner = CliRunner()
    where = ["--data-dir", str(data_dir)]

    moved = runner.invoke(
        cli, ["user", "set", "admin.li", "--role", "operator", "--site", "lanyuan", *where]
    )
    assert moved.exit_code == 0, moved.output
    assert "admin.li is operator for lanyuan" in moved.output
    back = runner.invoke(cli, ["user", "set", "admin.li", "--all-sites", *where])
    assert back.exit_code == 0, back.output
    assert "for every site" in back.output
    both = runner.invoke(cli, ["user", "set", "admin.li", "--all-sites", "--site", "x", *where])
    assert both.exit_code == 2
    missing = runner.invoke(cli, ["user", "set", "nobody", "--role", "admin", *where])
    assert missing.exit_code == 2
    assert "no user 'nobody'" in missing.output

    engine = create_hub_engine(f"sqlite:///{data_dir / 'hub.sqlite3'}")
    try:
        user = next(u for u in AuthStore(engine).list_users() if u.id == admin.id)
        assert (user.role, user.sites) == (Role.OPERATOR, None)
    finally:
        engine.dispose()


@pytest.mark.parametrize("field", ["role", "sites"])
async def test_a_token_cannot_be_refused_as_self_by_a_name_it_shares(
    hub: httpx.AsyncClient, field: str
) -> None:
    """An API token acts under its own name, which may be an account's: it is not that
    account (only a session is), so its admin may change the account."""
    user_id, _ = await account(hub, "ops", role="admin")
    token = await issue(hub, BOOTSTRAP, "ops", "admin")
    body: dict[str, Any] = {"role": "operator"} if field == "role" else {"sites": ["lanyuan"]}
    changed = await change(hub, user_id, body, token)
    assert changed.status_code == 200, changed.text
