"""Revoking an API token revokes the tokens issued with it (review gap).

An admin token issued tokens of its own (``POST /tokens`` with that token). Revoking it left
every token minted with it working: after a leak, revoking the leaked token did not undo what
the holder had made with it. Now an API token issued with another records it
(``api_tokens.issued_with``, migration 0032), and revoking a token revokes those issued with
it, and theirs. A session is not such a link: an admin signing out ends nothing they issued.
On SQLite and PostgreSQL, through the real app.
"""

import httpx

from tests.hub.test_auth_review_token_issuer import (
    API,
    BOOTSTRAP,
    admin_session,
    app,
    bearer,
    hub,
    issue,
    works,
)

__all__ = ["app", "hub"]


async def token_id(hub: httpx.AsyncClient, name: str) -> int:
    listed = (await hub.get(f"{API}/tokens")).json()["items"]
    [found] = [t["id"] for t in listed if t["name"] == name]
    return int(found)


async def test_revoking_a_token_revokes_what_was_issued_with_it_down_the_line(
    hub: httpx.AsyncClient,
) -> None:
    _, session = await admin_session(hub, "chen")
    leaked = await issue(hub, session, "ops-script", "admin")
    minted = await issue(hub, leaked, "minted", "admin")
    grandchild = await issue(hub, minted, "grandchild", "operator")
    sibling = await issue(hub, session, "console-script", "operator")
    for token in (leaked, minted):
        assert await works(hub, token) == 200
    assert await works(hub, grandchild, "/cases") == 200

    revoked = await hub.delete(f"{API}/tokens/{await token_id(hub, 'ops-script')}")
    assert revoked.status_code == 200, revoked.text

    assert await works(hub, leaked) == 401
    assert await works(hub, minted) == 401
    assert await works(hub, grandchild, "/cases") == 401
    listed = {t["name"]: t for t in (await hub.get(f"{API}/tokens")).json()["items"]}
    assert all(listed[n]["revoked_at"] is not None for n in ("ops-script", "minted", "grandchild"))
    # Issued in the same session, not with the revoked token: untouched; and so is the session.
    assert listed["console-script"]["revoked_at"] is None
    assert await works(hub, sibling, "/cases") == 200
    assert await works(hub, session) == 200


async def test_signing_out_ends_nothing_the_admin_issued(hub: httpx.AsyncClient) -> None:
    _, session = await admin_session(hub, "wu")
    script = await issue(hub, session, "nightly-report", "operator")
    out = await hub.post(f"{API}/auth/logout", headers=bearer(session))
    assert out.status_code == 204
    assert await works(hub, session) == 401
    assert await works(hub, script, "/cases") == 200
    # The bootstrap token's tokens stand alone too.
    alone = await issue(hub, BOOTSTRAP, "alone", "operator")
    assert await works(hub, alone, "/cases") == 200
