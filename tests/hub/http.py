"""One way for tests to call a hub app in-process, so that cross-cutting concerns (auth) change
in one place: every in-process API test gets its client from ``api_client`` (or, once the
app's lifespan runs, from ``token_client`` or ``bearer_client``)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI

from hub.auth.repository import AuthStore
from hub.auth.rules import Role, new_secret


def bearer_client(app: FastAPI, token: str) -> httpx.AsyncClient:
    """Return an httpx client of the app (whose lifespan already runs) sending ``token``."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://hub.test",
        headers={"authorization": f"Bearer {token}"},
    )


@contextlib.asynccontextmanager
async def token_client(
    app: FastAPI,
    role: Role = Role.ADMIN,
    *,
    sites: frozenset[str] | None = None,
    name: str | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """Issue a fresh API token of ``role`` and yield a client of the app holding it.

    The token is good for ``sites`` (every site when None); the app's lifespan must already
    run (``api_client`` runs it).
    """
    store: AuthStore = app.state.auth_store
    token = new_secret()
    await asyncio.to_thread(store.issue_api_token, token, name or f"test {role}", role, sites=sites)
    async with bearer_client(app, token) as client:
        yield client


@contextlib.asynccontextmanager
async def api_client(app: FastAPI, role: Role = Role.ADMIN) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and yield an httpx client of it, signed in with a fresh token.

    The token is an API token of ``role`` for every site (an admin unless asked otherwise);
    tests of authentication itself remove the header.
    """
    async with app.router.lifespan_context(app), token_client(app, role) as client:
        yield client


async def ok(response: httpx.Response, status: int = 200) -> Any:
    """Assert the response has ``status`` and return its JSON body (None when it is empty)."""
    assert response.status_code == status, response.text
    return response.json() if response.content else None


METRICS_TOKEN = "scrape-token-for-tests-0123456789abcdef"
"""The ``metrics_token`` of test hubs that scrape ``/metrics``."""


def as_prometheus(http: httpx.AsyncClient) -> None:
    """Make ``http`` send the metrics token, as Prometheus would (its API token is gone)."""
    http.headers["authorization"] = f"Bearer {METRICS_TOKEN}"
