"""Fixtures of the hub tests: a migrated database (SQLite and PostgreSQL), its repository, and a
hub app on it with a signed-in client."""

import base64
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from hub.app import create_app
from hub.auth.repository import AuthStore
from hub.auth.rules import Role, new_secret
from hub.evidence.repository import EvidenceStore
from hub.persistence.engine import create_hub_engine, migrate
from hub.persistence.transactions import Clock, utc_now
from hub.settings import HubSettings
from hub.store import HubStore
from linli.brokers import MosquittoProcess
from tests.hub.factories import T0
from tests.hub.http import api_client, token_client
from tests.hub.patrols import Phones, put_night_patrols


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: datetime = T0 + timedelta(seconds=1)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward and return the new time."""
        self.now += timedelta(seconds=seconds)
        return self.now


def hub_on(broker: MosquittoProcess, data_dir: Path, **settings: Any) -> HubSettings:
    """Return the settings of a hub on ``broker``, with SQLite in ``data_dir``.

    Its MQTT client id is its own, so a persistent session on a shared broker is its alone;
    ``settings`` adds to these.
    """
    return HubSettings(
        data_dir=data_dir,
        mqtt_port=broker.port,
        mqtt_client_id=f"hub-{uuid.uuid4().hex[:8]}",
        **settings,
    )


def migrated_engine(database_url: str) -> Iterator[Engine]:
    """Yield an engine on ``database_url`` once migrated, and dispose of it afterwards."""
    engine = create_hub_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """Return an engine on a fresh, migrated database."""
    yield from migrated_engine(database_url)


@pytest.fixture
def pg_engine(migrated_postgres_url: str) -> Iterator[Engine]:
    """A migrated PostgreSQL database, for what needs several writers at once (SQLite runs
    one writer at a time: no interleaving)."""
    yield from migrated_engine(migrated_postgres_url)


@pytest.fixture
def clock() -> FakeClock:
    """Return a clock standing at one second after T0."""
    return FakeClock()


@pytest.fixture
def store(engine: Engine, clock: FakeClock) -> HubStore:
    """Return a repository on a fresh database, with a fake clock."""
    return HubStore(engine, clock=clock)


@pytest.fixture
def evidence(engine: Engine, tmp_path: Path) -> EvidenceStore:
    """Return the evidence repository on a fresh database."""
    return EvidenceStore(engine, tmp_path / "evidence")


def hub_app(database_url: str, data_dir: Path, clock: Clock = utc_now, **settings: Any) -> FastAPI:
    """Return a hub app on ``database_url``, without MQTT, on ``clock``, with ``settings``."""
    return create_app(
        HubSettings(data_dir=data_dir, database_url=database_url, start_ingest=False, **settings),
        clock=clock,
    )


@pytest.fixture
def app(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> FastAPI:
    """Return a hub app on a fresh database, without MQTT, on the real clock.

    A module marked ``fake_clock`` (``pytestmark = pytest.mark.fake_clock``) gets it on the
    ``clock`` fixture instead, the one its tests move; one needing more overrides this fixture.
    """
    on_fake_clock = request.node.get_closest_marker("fake_clock") is not None
    clock: Clock = request.getfixturevalue("clock") if on_fake_clock else utc_now
    return hub_app(database_url, tmp_path, clock)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and return an admin's client of it."""
    async with api_client(app) as client:
        yield client


@pytest.fixture
async def operator(app: FastAPI, admin: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """Return an operator's client scoped to the site ``meiyuan``.

    For the site-scoping tests: their module's ``admin`` fixture runs the app and sets up the
    sites first.
    """
    meiyuan = frozenset({"meiyuan"})
    async with token_client(app, Role.OPERATOR, sites=meiyuan, name="op-mei") as client:
        yield client


@pytest.fixture
async def night_patrols(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An admin's client of the app with scenario 15's site, grid, responders and smoke
    detector (``tests.hub.patrols``)."""
    async with api_client(app) as client:
        await put_night_patrols(client)
        yield client


@pytest.fixture
async def phone(app: FastAPI) -> AsyncIterator[Phones]:
    """Open OwnTracks apps' HTTP clients, closed when the test ends: Basic authentication, the
    responder's roster id as the user and an API token of theirs as the password, and the
    app's ``X-Limit-U``/``X-Limit-D`` headers."""
    opened: list[httpx.AsyncClient] = []

    def open_phone(responder: str) -> httpx.AsyncClient:
        store: AuthStore = app.state.auth_store
        token = new_secret()
        store.issue_api_token(token, responder, Role.RESPONDER)
        basic = base64.b64encode(f"{responder}:{token}".encode()).decode()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://hub.test",
            headers={
                "authorization": f"Basic {basic}",
                "x-limit-u": responder,
                "x-limit-d": "phone",
            },
        )
        opened.append(client)
        return client

    yield open_phone
    for client in opened:
        await client.aclose()
