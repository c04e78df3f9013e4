"""Fixtures of the residents' tests: a migrated database and a fake clock (a module whose
story starts at another time overrides ``clock``)."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.hub.conftest import FakeClock, migrated_engine


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """Return an engine on a fresh, migrated database."""
    yield from migrated_engine(database_url)


@pytest.fixture
def clock() -> FakeClock:
    """Return a clock standing at one second after T0."""
    return FakeClock()
