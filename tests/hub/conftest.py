"""Fixtures of the hub tests: a migrated database (SQLite and PostgreSQL) and its repository."""

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from hub.persistence.engine import create_hub_engine, migrate
from hub.store import HubStore
from tests.hub.factories import T0


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


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """Return an engine on a fresh, migrated database."""
    engine = create_hub_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    """Return a clock standing at one second after T0."""
    return FakeClock()


@pytest.fixture
def store(engine: Engine, clock: FakeClock) -> HubStore:
    """Return a repository on a fresh database, with a fake clock."""
    return HubStore(engine, clock=clock)
