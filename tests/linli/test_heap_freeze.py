"""A long-running Linli program freezes its long-lived heap once it has started (issue 17).

Without it every full garbage collection walked the hub's ~200,000 startup objects: a 100 ms
stop of the alarm path every 20 s or so on the bench machine (the paced p99).
"""

import asyncio
import gc
from collections.abc import Iterator

import pytest

from linli import running


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process goes on collecting what it made


def test_the_heap_is_frozen_once_the_program_says_it_has_started() -> None:
    seen: dict[str, int] = {}
    started = asyncio.Event()

    async def program() -> None:
        await asyncio.sleep(0)
        seen["before start"] = gc.get_freeze_count()
        started.set()
        for _ in range(3):  # let the freezing task run
            await asyncio.sleep(0)
        seen["after start"] = gc.get_freeze_count()

    running.run_until_signalled(program(), started=started)
    assert seen["before start"] == 0
    assert seen["after start"] > 1000


def test_without_a_start_event_the_heap_is_frozen_before_the_program_runs() -> None:
    seen: list[int] = []

    async def program() -> None:
        seen.append(gc.get_freeze_count())

    running.run_until_signalled(program())
    assert seen[0] > 1000


def test_a_program_that_fails_before_it_started_fails_as_itself() -> None:
    started = asyncio.Event()

    async def program() -> None:
        raise RuntimeError("cannot bind")

    with pytest.raises(RuntimeError, match="cannot bind"):
        running.run_until_signalled(program(), started=started)
    assert gc.get_freeze_count() == 0
