"""Changing a password: one's own with the one in use, or an admin's reset (HTTP API, SQLite
and PostgreSQL). Before, no route changed a password: a leaked one could only be ended by
disabling the account and making a new one under another username."""

import logging

import httpx
import pytest

from tests.hub.test_auth_api import BOOTSTRAP, PASSWORD, add_user, app, bearer, client, sign_in

__all__ = ["app", "client"]

NEW = "another long enough password"


async def _me(client: httpx.AsyncClient, token: str) -> int:
    return (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code


async def test_a_person_changes_their_password_and_their_other_sessions_end(
    client: httpx.AsyncClient,
) -> None:
    await add_user(client, "li", "operator")
    laptop = await sign_in(client, "li")
    stolen = await sign_in(client, "li")  # the same account signed in elsewhere
    changed = await client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW},
        headers=bearer(laptop),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"sessions_ended": 1}
    assert await _me(client, laptop) == 200  # this session goes on
    assert await _me(client, stolen) == 401
    old = await client.post("/api/v1/auth/login", json={"username": "li", "password": PASSWORD})
    assert old.status_code == 401
    assert await sign_in(client, "li", NEW)
    trail = (await client.get("/api/v1/audit", headers=bearer(BOOTSTRAP))).json()["items"]
    entry = next(e for e in trail if e["action"] == "password_changed")
    assert entry["actor"] == "li"
    assert entry["detail"]["sessions_ended"] == 1
    assert PASSWORD not in str(trail)
    assert NEW not in str(trail)


@pytest.mark.parametrize(
    ("current", "new", "status"),
    [
        ("not the password in use", NEW, 403),  # a stolen session does not know it
        (PASSWORD, "short", 422),  # the policy's length
        (PASSWORD, PASSWORD, 422),  # the same again
    ],
)
async def test_a_refused_change_changes_nothing(
    client: httpx.AsyncClient, current: str, new: str, status: int
) -> None:
    await add_user(client, "li", "operator")
    token = await sign_in(client, "li")
    other = await sign_in(client, "li")
    refused = await client.post(
        "/api/v1/auth/password",
        json={"current_password": current, "new_password": new},
        headers=bearer(token),
    )
    assert refused.status_code == status, refused.text
    assert await _me(client, other) == 200
    assert await sign_in(client, "li", PASSWORD)
    trail = (await client.get("/api/v1/audit", headers=bearer(BOOTSTRAP))).json()["items"]
    assert not [e for e in trail if e["action"] == "password_changed"]


async def test_wrong_current_passwords_are_throttled_like_sign_ins(
    client: httpx.AsyncClient,
) -> None:
    # A stolen session must not be a way round the sign-in page's limit on guesses.
    await add_user(client, "li", "operator")
    token = await sign_in(client, "li")
    answers = [
        (
            await client.post(
                "/api/v1/auth/password",
                json={"current_password": f"guess number {n}", "new_password": NEW},
                headers=bearer(token),
            )
        ).json()["detail"]
        for n in range(12)
    ]
    assert answers[0] == "the current password is wrong"
    assert "too many" in answers[-1]
    right = await client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW},
        headers=bearer(token),
    )
    assert right.status_code == 403  # still held back, even with the right one


async def test_tokens_without_a_password_cannot_change_one(client: httpx.AsyncClient) -> None:
    issued = await client.post(
        "/api/v1/tokens", json={"name": "li", "role": "operator"}, headers=bearer(BOOTSTRAP)
    )
    body = {"current_password": PASSWORD, "new_password": NEW}
    for token in (issued.json()["token"], BOOTSTRAP):
        refused = await client.post("/api/v1/auth/password", json=body, headers=bearer(token))
        assert refused.status_code == 403
        assert "signed in with a password" in refused.json()["detail"]
    assert (await client.post("/api/v1/auth/password", json=body)).status_code == 401


async def test_an_admin_resets_a_password_and_every_session_of_it_ends(
    client: httpx.AsyncClient,
) -> None:
    user = await add_user(client, "li", "operator", sites=["courtyard-a"])
    sessions = [await sign_in(client, "li") for _ in range(2)]
    await add_user(client, "admin-b", "admin", sites=["courtyard-b"])
    other_sites = await sign_in(client, "admin-b")
    url = f"/api/v1/users/{user['id']}/password"
    assert (
        await client.post(url, json={"new_password": NEW}, headers=bearer(other_sites))
    ).status_code == 404
    assert (
        await client.post(url, json={"new_password": NEW}, headers=bearer(sessions[0]))
    ).status_code == 403  # an operator, not an admin
    assert (
        await client.post(url, json={"new_password": "short"}, headers=bearer(BOOTSTRAP))
    ).status_code == 422
    assert [await _me(client, s) for s in sessions] == [200, 200]
    reset = await client.post(url, json={"new_password": NEW}, headers=bearer(BOOTSTRAP))
    assert reset.status_code == 200, reset.text
    assert [await _me(client, s) for s in sessions] == [401, 401]
    assert await sign_in(client, "li", NEW)
    trail = (await client.get("/api/v1/audit", headers=bearer(BOOTSTRAP))).json()["items"]
    entry = next(e for e in trail if e["action"] == "password_reset")
    assert entry["detail"] == {"user_id": user["id"], "sessions_ended": 2}


async def test_a_password_typed_into_the_username_field_is_not_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    await add_user(client, "li", "operator")
    caplog.set_level(logging.INFO, logger="hub")
    for username, password in (("Tr0ub4dor.and.3", ""), ("li", "not her password")):
        failed = await client.post(
            "/api/v1/auth/login", json={"username": username, "password": password or "x" * 12}
        )
        assert failed.status_code == 401
    assert "Tr0ub4dor.and.3" not in caplog.text
    assert "an unknown username (15 characters)" in caplog.text
    assert "failed sign-in for li from" in caplog.text  # an account's name is worth logging
