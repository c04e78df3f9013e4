"""SQLite's writers in one process take turns, alerts first (``hub.persistence.write_turns``)."""

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from hub.persistence.engine import create_hub_engine, migrate
from hub.persistence.transactions import Database
from hub.persistence.write_turns import WriteTurns, write_turns


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_an_urgent_writer_goes_before_routine_ones_that_waited_longer() -> None:
    turns = WriteTurns(timeout_s=30)
    order: list[str] = []
    release = threading.Event()

    def write(name: str, urgent: bool, hold: threading.Event | None = None) -> None:
        with turns.turn(urgent=urgent):
            order.append(name)
            if hold is not None:
                assert hold.wait(30)

    with ThreadPoolExecutor(max_workers=4) as pool:
        first = pool.submit(write, "holder", False, release)
        wait_for(lambda: order == ["holder"])
        routine = [pool.submit(write, f"routine-{i}", False) for i in range(2)]
        wait_for(lambda: turns.waiting == 2)
        alert = pool.submit(write, "alert", True)
        wait_for(lambda: turns.waiting == 3)
        release.set()
        for future in [first, *routine, alert]:
            future.result(timeout=30)
    assert order[:2] == ["holder", "alert"]
    assert sorted(order[2:]) == ["routine-0", "routine-1"]
    assert turns.waiting == 0


def test_a_turn_that_does_not_come_fails_as_sqlite_would_and_frees_nothing() -> None:
    turns = WriteTurns(timeout_s=0.2)
    with turns.turn():
        with ThreadPoolExecutor(max_workers=1) as pool:
            late: Future[None] = pool.submit(lambda: turns.turn().__enter__())
            with pytest.raises(OperationalError, match="database is locked"):
                late.result(timeout=30)
        assert turns.waiting == 0
    with turns.turn(urgent=True):  # the turn was given back, and the failed waiter left
        pass


def test_an_error_inside_a_turn_gives_it_back() -> None:
    turns = WriteTurns(timeout_s=1)
    with pytest.raises(RuntimeError), turns.turn():
        raise RuntimeError("boom")
    with turns.turn():
        pass


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_hub_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def test_one_file_has_one_queue_whatever_the_engines(sqlite_engine: Engine, tmp_path: Path) -> None:
    other = create_hub_engine(f"sqlite:///{tmp_path / '.' / 'hub.db'}")
    try:
        assert write_turns(other, 1) is write_turns(sqlite_engine, 1)
        elsewhere = create_hub_engine(f"sqlite:///{tmp_path / 'other.db'}")
        assert write_turns(elsewhere, 1) is not write_turns(sqlite_engine, 1)
        elsewhere.dispose()
    finally:
        other.dispose()


def test_postgresql_has_no_queue(postgres_url: str) -> None:
    engine = create_hub_engine(postgres_url)
    try:
        assert write_turns(engine, 1) is None
    finally:
        engine.dispose()


def test_an_alert_intake_goes_before_waiting_readings_on_a_real_database(
    sqlite_engine: Engine,
) -> None:
    """Two Database objects on one file (the hub's repositories and its history writer):
    the writers still take turns, and the urgent one's transaction commits first."""
    readings, alerts = Database(sqlite_engine), Database(sqlite_engine)
    turns = write_turns(sqlite_engine, 1)
    assert turns is not None
    committed: list[str] = []
    inside, release = threading.Event(), threading.Event()

    def write(db: Database, name: str, urgent: bool, hold: bool = False) -> None:
        with db.writing(urgent=urgent) as session:
            session.execute(text("UPDATE audit_head SET seq = seq WHERE id = 1"))
            if hold:
                inside.set()
                assert release.wait(30)
            committed.append(name)

    with ThreadPoolExecutor(max_workers=4) as pool:
        held = pool.submit(write, readings, "readings-0", False, True)
        assert inside.wait(30)
        waiting = [pool.submit(write, readings, f"readings-{i}", False) for i in (1, 2)]
        wait_for(lambda: turns.waiting == 2)
        alert = pool.submit(write, alerts, "alert", True)
        wait_for(lambda: turns.waiting == 3)
        release.set()
        for future in [held, *waiting, alert]:
            future.result(timeout=30)
    assert committed[:2] == ["readings-0", "alert"]
