"""One way for tests to call a hub app in-process, so that cross-cutting concerns (auth) change
in one place: every in-process API test gets its client from ``api_client``."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from hub.auth.repository import AuthStore
from hub.auth.rules import Role, new_secret


@contextlib.asynccontextmanager
async def api_client(app: FastAPI, role: Role = Role.ADMIN) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and yield an httpx client of it, signed in with a fresh token.

    The token is an API token of ``role`` for every site (an admin unless asked otherwise);
    tests of authentication itself remove the header.
    """
    async with app.router.lifespan_context(app):
        store: AuthStore = app.state.auth_store
        token = new_secret()
        await asyncio.to_thread(store.issue_api_token, token, f"test {role}", role)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://hub.test",
            headers={"authorization": f"Bearer {token}"},
        ) as client:
            yield client


METRICS_TOKEN = "scrape-token-for-tests"
"""The ``metrics_token`` of test hubs that scrape ``/metrics``."""


def as_prometheus(http: httpx.AsyncClient) -> None:
    """Make ``http`` send the metrics token, as Prometheus would (its API token is gone)."""
    http.headers["authorization"] = f"Bearer {METRICS_TOKEN}"
