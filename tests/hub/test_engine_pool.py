"""PostgreSQL's pooled connections: checked after they sat idle, not before every transaction."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from hub.persistence.engine import create_hub_engine
from tests.conftest import POSTGRES_ADMIN_URL


def _engine(postgres_url: str, ping_after_idle_s: float) -> Iterator[Engine]:
    engine = create_hub_engine(postgres_url, ping_after_idle_s=ping_after_idle_s)
    yield engine
    engine.dispose()


def _backend_of(engine: Engine) -> int:
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        conn.commit()
    return int(pid)


def _terminate(pid: int) -> None:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    finally:
        admin.dispose()


def test_an_idle_connection_that_died_is_replaced_before_use(postgres_url: str) -> None:
    for engine in _engine(postgres_url, ping_after_idle_s=0.0):
        dead = _backend_of(engine)
        _terminate(dead)  # as a database restart would, while the connection sat in the pool
        assert _backend_of(engine) != dead  # no error: pinged, found dead, replaced


def test_a_connection_in_steady_use_is_not_pinged(postgres_url: str) -> None:
    """No round trip before each transaction: a connection used a moment ago is trusted, so
    one that died meanwhile fails its statement; the pool is then replaced, and the next
    transaction (the ingest retries) works."""
    for engine in _engine(postgres_url, ping_after_idle_s=3600.0):
        dead = _backend_of(engine)
        _terminate(dead)
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert _backend_of(engine) != dead
